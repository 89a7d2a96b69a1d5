package commands

import (
	"bytes"
	"context"
	"testing"

	"github.com/docker/cli/cli/command"
	cliflags "github.com/docker/cli/cli/flags"
	"github.com/docker/docker/client"
	"github.com/spf13/cobra"
)

// runOnAPI runs the command build makes, on a docker CLI whose API client is
// api (a fake), with args, and returns what it printed and its error.
func runOnAPI(t *testing.T, api client.APIClient, build func(command.Cli) *cobra.Command, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	dockerCLI, err := command.NewDockerCli(command.WithAPIClient(api), command.WithOutputStream(&out), command.WithErrorStream(&errOut))
	if err != nil {
		t.Fatal(err)
	}
	if err := dockerCLI.Initialize(cliflags.NewClientOptions()); err != nil {
		t.Fatal(err)
	}
	cmd := build(dockerCLI)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}
