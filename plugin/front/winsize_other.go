//go:build !(linux || darwin)

package front

// termWidth: elsewhere (Windows consoles) the full binary answers help.
func termWidth() (int, bool) { return 0, false }
