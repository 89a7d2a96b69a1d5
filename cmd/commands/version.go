package commands

import (
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"

	"github.com/docker-stateful/docker-stateful/plugin/exitcode"
	"github.com/docker-stateful/docker-stateful/plugin/version"
)

type versionOptions struct {
	format string
}

// versionInfo is what `docker stateful version` reports; Server is nil when
// the daemon cannot be reached (the client part is still useful then).
// Its JSON (and a --format template) uses snake_case names:
// {{.client.version}}, {{.server.swarm_node_id}}.
type versionInfo struct {
	Client struct {
		Version   string `json:"version"`
		Commit    string `json:"commit"`
		GoVersion string `json:"go_version"`
		OsArch    string `json:"os_arch"`
	} `json:"client"`
	Server      *serverVersion `json:"server,omitempty"`
	ServerError string         `json:"server_error,omitempty"`
}

type serverVersion struct {
	Name           string `json:"name"` // the engine's name: its hostname
	Version        string `json:"version"`
	APIVersion     string `json:"api_version"`
	SwarmNodeID    string `json:"swarm_node_id"`
	SwarmState     string `json:"swarm_state"`
	SwarmIsManager bool   `json:"swarm_is_manager"`
}

func newVersionCommand(dockerCLI command.Cli) *cobra.Command {
	var opts versionOptions
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the docker-stateful version and the daemon it reaches",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVersion(cmd, dockerCLI, opts)
		},
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	cmd.Flags().StringVarP(&opts.format, "format", "f", "", `Format output: "json" or a Go template`)
	return cmd
}

func runVersion(cmd *cobra.Command, dockerCLI command.Cli, opts versionOptions) error {
	var v versionInfo
	v.Client.Version = version.Version
	v.Client.Commit = version.Commit
	v.Client.GoVersion = runtime.Version()
	v.Client.OsArch = runtime.GOOS + "/" + runtime.GOARCH

	info, err := dockerCLI.Client().Info(cmd.Context())
	if err != nil {
		v.ServerError = err.Error()
	} else {
		v.Server = &serverVersion{
			Name:           info.Name,
			Version:        info.ServerVersion,
			APIVersion:     dockerCLI.Client().ClientVersion(),
			SwarmNodeID:    info.Swarm.NodeID,
			SwarmState:     string(info.Swarm.LocalNodeState),
			SwarmIsManager: info.Swarm.ControlAvailable,
		}
	}
	if err := writeReport(dockerCLI.Out(), opts.format, v, func(w io.Writer) error {
		fmt.Fprintf(w, "Client: docker-stateful\n Version:\t%s\n Git commit:\t%s\n Go version:\t%s\n OS/Arch:\t%s\n",
			v.Client.Version, v.Client.Commit, v.Client.GoVersion, v.Client.OsArch)
		if v.Server != nil {
			s := v.Server
			fmt.Fprintf(w, "\nServer: %s\n Engine:\t%s\n API version:\t%s\n Swarm:\t\t%s", s.Name, s.Version, s.APIVersion, s.SwarmState)
			if s.SwarmNodeID != "" {
				role := "worker"
				if s.SwarmIsManager {
					role = "manager"
				}
				fmt.Fprintf(w, " (node %s, %s)", s.SwarmNodeID, role)
			}
			fmt.Fprintln(w)
		}
		return nil
	}); err != nil {
		return err
	}
	if v.ServerError != "" {
		return exitcode.Undecidable(errors.New(v.ServerError)) // the daemon did not answer: 2
	}
	return nil
}
