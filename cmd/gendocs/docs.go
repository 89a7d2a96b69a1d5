package main

import (
	"io"
	"os"
	"path/filepath"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// dockerReference is where the SEE ALSO of docker_stateful.md points for
// its parent, docker.
const dockerReference = "https://docs.docker.com/reference/cli/docker/"

// writeDocs writes dir/docker_stateful.md and dir/docker_stateful_<verb>.md
// (cobra's Markdown) for every command a user can call, and removes those of
// commands that no longer exist.
func writeDocs(dir string) error {
	dockerCLI, err := command.NewDockerCli(command.WithOutputStream(io.Discard), command.WithErrorStream(io.Discard))
	if err != nil {
		return err
	}
	stateful := newRoot(dockerCLI)
	// As plugin.Run nests it: under docker's root (its hidden --help and help
	// command), with no "[flags]" added to the usage lines. stateful has no
	// help command of its own (`docker stateful help` is an unknown command).
	docker := &cobra.Command{Use: "docker", Short: "The Docker command line"}
	cli.SetupPluginRootCommand(docker)
	docker.AddCommand(stateful)
	stateful.SetHelpCommand(&cobra.Command{Use: "help", Hidden: true})
	visit(docker, func(c *cobra.Command) {
		c.DisableFlagsInUseLine = true
		c.DisableAutoGenTag = true // no date: the files must not change by themselves
	})

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "docker_stateful*.md"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	return doc.GenMarkdownTreeCustom(stateful, dir, func(string) string { return "" }, func(name string) string {
		if name == "docker.md" {
			return dockerReference
		}
		return name
	})
}

func visit(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		visit(sub, fn)
	}
}
