// Package version holds the plugin's version, stamped at build time by the
// Makefile (-ldflags -X), so `docker stateful version`, the plugin metadata
// and bug reports agree on what is running.
package version

var (
	// Version is the git describe of the build ("dev" for go build/go run).
	Version = "dev"
	// Commit is the git commit the binary was built from.
	Commit = "unknown"
)
