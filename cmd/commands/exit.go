package commands

import (
	"github.com/docker/cli/cli"
	"github.com/spf13/cobra"

	"github.com/docker-stateful/docker-stateful/plugin/exitcode"
)

// withExitStatus makes every command's error carry the exit status that
// plugin/exitcode gives it (docker's plugin.Run exits with a
// cli.StatusError's code, and 1 for any other error), and cancels its
// context on SIGINT/SIGTERM (signal.go).
func withExitStatus(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		withExitStatus(c)
	}
	runE := cmd.RunE
	if runE == nil {
		return
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ctx, stop := onInterrupt(cmd.Context(), cmd.ErrOrStderr())
		defer stop()
		cmd.SetContext(ctx)
		return exitStatus(runE(cmd, args))
	}
}

// exitStatus turns err into the cli.StatusError plugin.Run exits with.
func exitStatus(err error) error {
	if err == nil {
		return nil
	}
	code := exitcode.Code(err)
	if s, ok := err.(cli.StatusError); ok && s.StatusCode == code {
		return s
	}
	return cli.StatusError{StatusCode: code, Status: err.Error(), Cause: err}
}
