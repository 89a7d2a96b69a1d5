// Package meta is the plugin's metadata, the one answer to docker's
// `docker-stateful docker-cli-plugin-metadata`, shared by the thin front
// binary docker execs (cmd/docker-stateful, standard library only) and the
// full one (cmd/docker-stateful-full, plugin.Run). It imports nothing but
// plugin/version and the standard library, so the front stays small.
package meta

import (
	"encoding/json"
	"io"

	"github.com/docker-stateful/docker-stateful/plugin/version"
)

// Metadata mirrors docker/cli's cli-plugins/metadata.Metadata: same fields,
// same order, same JSON tags, so both binaries print the same bytes.
type Metadata struct {
	SchemaVersion    string `json:",omitempty"`
	Vendor           string `json:",omitempty"`
	Version          string `json:",omitempty"`
	ShortDescription string `json:",omitempty"`
	URL              string `json:",omitempty"`
	Hidden           bool   `json:",omitempty"`
}

// Plugin is docker stateful's metadata.
func Plugin() Metadata {
	return Metadata{
		SchemaVersion:    "0.1.0",
		Vendor:           "docker-stateful",
		Version:          version.Version,
		ShortDescription: "Swarm services whose data survives every update",
		URL:              "https://github.com/docker-stateful/docker-stateful",
	}
}

// Write prints m as plugin.Run's metadata subcommand does (JSON, no HTML
// escaping, indented by five spaces, one trailing newline).
func Write(w io.Writer, m Metadata) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "     ")
	return enc.Encode(m)
}
