package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/docker/cli/cli-plugins/metadata"
	"github.com/docker/cli/cli-plugins/plugin"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"

	"github.com/docker-stateful/docker-stateful/cmd/commands"
	"github.com/docker-stateful/docker-stateful/plugin/meta"
)

// newRoot is the `stateful` command, as cmd/docker-stateful-full builds it
// (a variable for the tests).
var newRoot = commands.NewRootCommand

// pluginMetadata is what cmd/docker-stateful-full passes to plugin.Run.
func pluginMetadata() metadata.Metadata {
	m := meta.Plugin()
	return metadata.Metadata{
		SchemaVersion:    m.SchemaVersion,
		Vendor:           m.Vendor,
		Version:          m.Version,
		ShortDescription: m.ShortDescription,
		URL:              m.URL,
		Hidden:           m.Hidden,
	}
}

// commandPaths lists the commands a user can call, below `stateful` ("" is
// stateful itself, "update" docker stateful update), parents first.
func commandPaths(cmd *cobra.Command, prefix []string) [][]string {
	paths := [][]string{prefix}
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			paths = append(paths, commandPaths(c, append(append([]string(nil), prefix...), c.Name()))...)
		}
	}
	return paths
}

// runPlugin runs the plugin with args (its os.Args[1:]) as the full binary
// does (plugin.RunPlugin, which nests the root under docker's) and returns
// what it prints on stdout; anything on stderr is an error. edit may change
// the root command before it runs.
func runPlugin(args []string, edit func(*cobra.Command)) (string, error) {
	var out, errOut bytes.Buffer
	cli, err := command.NewDockerCli(command.WithOutputStream(&out), command.WithErrorStream(&errOut))
	if err != nil {
		return "", err
	}
	root := newRoot(cli)
	if edit != nil {
		edit(root)
	}
	saved := os.Args
	os.Args = append([]string{"docker-stateful"}, args...) // plugin.RunPlugin reads them
	defer func() { os.Args = saved }()
	if err := plugin.RunPlugin(cli, root, pluginMetadata()); err != nil {
		return "", fmt.Errorf("docker-stateful %q: %w", args, err)
	}
	if errOut.Len() > 0 {
		return "", fmt.Errorf("docker-stateful %q printed on stderr: %s", args, errOut.String())
	}
	return out.String(), nil
}
