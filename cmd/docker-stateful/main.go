// Command docker-stateful is the `docker stateful` CLI plugin: it creates and
// updates Swarm services so that their data survives every update.
package main

import (
	"github.com/docker/cli/cli-plugins/metadata"
	"github.com/docker/cli/cli-plugins/plugin"

	"github.com/docker-stateful/docker-stateful/cmd/commands"
	"github.com/docker-stateful/docker-stateful/plugin/version"
)

func main() {
	plugin.Run(commands.NewRootCommand, metadata.Metadata{
		SchemaVersion:    "0.1.0",
		Vendor:           "docker-stateful",
		Version:          version.Version,
		ShortDescription: "Swarm services whose data survives every update",
		URL:              "https://github.com/docker-stateful/docker-stateful",
	})
}
