// Command docker-stateful-full is the whole `docker stateful` CLI plugin
// (docker/cli's plugin.Run and every command). It is installed as
// docker-stateful.d/docker-stateful next to the thin front
// (cmd/docker-stateful) that docker execs, which answers metadata and the
// hot completion requests itself and execs this binary for everything else.
package main

import (
	"github.com/docker/cli/cli-plugins/metadata"
	"github.com/docker/cli/cli-plugins/plugin"

	"github.com/docker-stateful/docker-stateful/cmd/commands"
	"github.com/docker-stateful/docker-stateful/plugin/meta"
)

func main() {
	m := meta.Plugin()
	plugin.Run(commands.NewRootCommand, metadata.Metadata{
		SchemaVersion:    m.SchemaVersion,
		Vendor:           m.Vendor,
		Version:          m.Version,
		ShortDescription: m.ShortDescription,
		URL:              m.URL,
		Hidden:           m.Hidden,
	})
}
