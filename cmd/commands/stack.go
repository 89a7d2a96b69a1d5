package commands

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/streams"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/docker-stateful/docker-stateful/plugin/guardfacts"
	"github.com/docker-stateful/docker-stateful/plugin/intercept"
	"github.com/docker-stateful/docker-stateful/plugin/serverversion"
	"github.com/docker-stateful/docker-stateful/plugin/stackdeploy"
)

// newStackCommand is `docker stateful stack`; deploy is its only verb (ls,
// ps, rm are docker's own: `docker stack ls`).
func newStackCommand(dockerCLI command.Cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stack",
		Short: "Deploy stacks whose services keep their data",
		Args:  cli.NoArgs,
		RunE:  command.ShowHelp(dockerCLI.Err()),
	}
	cmd.AddCommand(newStackDeployCommand(dockerCLI))
	return cmd
}

type stackDeployOptions struct {
	dryRun bool
	format string
	force  bool
	verify updateVerifyOptions // --verify and its flags, as for update
}

const stackDeployLong = `Deploy a new stack or update an existing one like "docker stack deploy", with
every flag of it, keeping every service's data:

  - a service the stack creates gets what "docker stateful create" gives:
    named volumes on its data paths (STACK_SERVICE-data), the pin to a node
    by ID, stop-first and a 30s stop grace period, the labels;
  - a service the stack updates keeps what docker stateful added to it
    (volumes, pin, defaults, labels), which the compose file does not
    mention, and is checked like "docker stateful update";
  - all or nothing: when the deploy of any service would lose data, nothing
    of the stack is sent (no service, network, secret or config), and every
    refused service is named with its fix; --force sends anyway.

A service without data paths (its image declares no VOLUME and is not a
known database) is deployed as docker computes it.

--dry-run prints, for every service, whether it is created, updated or
unchanged, the change, and the data verdict, and sends nothing; exit status 0
when the whole stack would be sent, 1 when it would be refused.

--verify proves, as "docker stateful update --verify" does, that the data of
every service the deploy updates (replacing its task) and whose engine is
Redis or PostgreSQL survived: one service after the other, each cut before
its update is sent, checked once its new task runs, and rolled back on its
own when its data did not survive (--no-rollback: not). A table at the end
gives each verdict; the exit status is 0 when all are verified, 1 when one
is not (2 when one could not be checked before its update: the deploy stops
there, the services before it were deployed).`

// newStackDeployCommand is docker's own `stack deploy`, run twice on an
// intercepting client: first with nothing sent, to judge every service of
// the stack, then for real when all are allowed (or --force).
func newStackDeployCommand(dockerCLI command.Cli) *cobra.Command {
	var opts stackDeployOptions
	icli := intercept.New(dockerCLI)
	icli.LatestVersion = true
	cmd := dockerStackCommand(icli, "deploy")
	cmd.Short = "Deploy a stack, keeping its services' data"
	cmd.Long = stackDeployLong
	cmd.Example = `  docker stateful stack deploy -c compose.yml app
  docker stateful stack deploy --dry-run -c compose.yml app
  docker stateful stack deploy --dry-run --format json -c compose.yml app
  docker stateful stack deploy --verify -c compose.yml app`

	flags := cmd.Flags()
	flags.BoolVar(&opts.dryRun, "dry-run", false, "Show what the deploy would do to every service and whether it would be refused; send nothing")
	flags.StringVar(&opts.format, "format", "", `Format the --dry-run output: "json" or a Go template`)
	flags.BoolVar(&opts.force, "force", false, "Deploy even the services whose update would lose data (with a warning for each problem)")
	addVerifyFlags(cmd, &opts.verify)
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"json"}, cobra.ShellCompDirectiveNoFileComp))

	dockerRunE := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return runStackDeploy(cmd, args, icli, dockerRunE, &opts)
	}
	return cmd
}

func runStackDeploy(cmd *cobra.Command, args []string, icli *intercept.Cli, dockerRunE func(*cobra.Command, []string) error, opts *stackDeployOptions) error {
	if opts.format != "" && !opts.dryRun {
		return errors.New("--format only applies with --dry-run")
	}
	if err := checkStackVerifyFlags(cmd, opts); err != nil {
		return err
	}
	if err := checkFormat(opts.format); err != nil {
		return err
	}
	// Docker's deploy reads the compose files on each of the two passes:
	// stdin only once, so keep it in a file.
	cleanup, err := stackStdinToFile(cmd.Flags(), icli.Cli.In())
	if err != nil {
		return err
	}
	defer cleanup()

	dockerCLI := icli.Cli
	quiet, _ := cmd.Flags().GetBool("quiet")
	d := &stackdeploy.Deploy{
		Stack: args[0], DryRun: opts.dryRun, Force: opts.force, Quiet: quiet,
		Out: dockerCLI.Out(), Err: dockerCLI.Err(),
		Client: icli,
		RunDocker: func(send bool) error {
			if !send {
				return stackJudgePass(cmd, args, icli, dockerRunE)
			}
			return dockerRunE(cmd, args)
		},
		Judge: guardfacts.StackJudge{API: dockerCLI.Client(),
			Extra: []guardfacts.Extra{serverversion.Extra(dockerCLI.Client(), serverversion.Options{Getenv: redisGetenv})}},
		Verifier: &stackVerifier{dockerCLI: dockerCLI, opts: opts, quiet: quiet},
		WritePlan: func(p *stackdeploy.Plan) error {
			return writeFormatted(dockerCLI.Out(), opts.format, p, p.WriteText)
		},
	}
	return d.Run()
}

// stackJudgePass runs docker's deploy with nothing sent and its output
// discarded. It never waits for convergence (there is nothing to wait for).
func stackJudgePass(cmd *cobra.Command, args []string, icli *intercept.Cli, dockerRunE func(*cobra.Command, []string) error) error {
	real := icli.Cli
	icli.Cli = silentCli{Cli: real}
	icli.NoSend = true
	detach := cmd.Flags().Lookup("detach")
	value, changed := detach.Value.String(), detach.Changed
	_ = detach.Value.Set("true")
	defer func() {
		icli.Cli, icli.NoSend = real, false
		_ = detach.Value.Set(value)
		detach.Changed = changed
	}()
	return dockerRunE(cmd, args)
}

// silentCli discards docker's own output during the judging pass.
type silentCli struct{ command.Cli }

func (silentCli) Out() *streams.Out { return streams.NewOut(io.Discard) }
func (silentCli) Err() *streams.Out { return streams.NewOut(io.Discard) }

// stackStdinToFile replaces a "-c -" by a temporary file holding stdin, so
// that both passes read the same compose file.
func stackStdinToFile(flags *pflag.FlagSet, in io.Reader) (func(), error) {
	f := flags.Lookup("compose-file")
	sv, ok := f.Value.(pflag.SliceValue)
	if !ok || !slices.Contains(sv.GetSlice(), "-") {
		return func() {}, nil
	}
	tmp, err := os.CreateTemp("", "docker-stateful-compose-*.yml")
	if err != nil {
		return nil, err
	}
	cleanup := func() { _ = os.Remove(tmp.Name()) }
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		cleanup()
		return nil, fmt.Errorf("reading the compose file from stdin: %w", err)
	}
	if err := tmp.Close(); err != nil {
		cleanup()
		return nil, err
	}
	files := sv.GetSlice()
	for i, name := range files {
		if name == "-" {
			files[i] = tmp.Name()
		}
	}
	if err := sv.Replace(files); err != nil {
		cleanup()
		return nil, err
	}
	return cleanup, nil
}
