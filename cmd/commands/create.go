package commands

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	dockeropts "github.com/docker/cli/opts"
	"github.com/docker/docker/api/types/swarm"
	"github.com/spf13/cobra"

	"github.com/docker-stateful/docker-stateful/plugin/createspec"
	"github.com/docker-stateful/docker-stateful/plugin/guardfacts"
	"github.com/docker-stateful/docker-stateful/plugin/intercept"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

type createOptions struct {
	spec   createspec.Options
	dryRun bool
	format string
}

const createLong = `Create a service whose data survives every update.

Takes every option of "docker service create", and before the spec is sent:

  - finds the paths that hold data: the image's declared VOLUMEs, the known
    data paths of well-known images (redis /data, postgres, mysql, mongo, ...)
    and --data PATH;
  - puts every such path that no --mount of yours covers on a named volume:
    <name>-data (<name>-data-<path> when there are several), with
    {{.Task.Slot}} appended when --replicas > 1 so replicas never share one;
  - pins the service by node ID to the node holding those local volumes: the
    node of the daemon this CLI talks to, or --pin NODE (--no-pin opts out);
  - refuses --update-order/--rollback-order start-first, and defaults the
    update order to stop-first and --stop-grace-period to 30s;
  - records all this in io.docker-stateful.* labels for "docker stateful update".

The service ID is printed on stdout as by docker service create; a summary of
what was added goes to stderr.`

const createExample = `  # The seed's Redis, with its /data on volume "cache-data" pinned to this node
  docker stateful create --name cache -p published=10000,target=6379,mode=host redis

  # Pin to another node, and see the spec first
  docker stateful create --dry-run --name cache --pin node2 redis

  # An image that declares no VOLUME
  docker stateful create --name app --data /srv/state myorg/app`

// newCreateCommand is docker's own `service create`, run on an intercepting
// client so the spec can be made safe for state before it is sent.
func newCreateCommand(dockerCLI command.Cli) *cobra.Command {
	var opts createOptions
	icli := intercept.New(dockerCLI)
	cmd := dockerServiceCommand(icli, "create")
	cmd.Short = "Create a service whose data survives every update"
	cmd.Long = createLong
	cmd.Example = createExample

	flags := cmd.Flags()
	flags.Var(dockeropts.NewListOptsRef(&opts.spec.Data, nil), "data", "Absolute path in the container that holds data, in addition to the image's VOLUMEs (repeatable)")
	flags.StringVar(&opts.spec.Pin, "pin", "", "Pin the service to this node, by name, ID or unique ID prefix; it must be Ready and Active (default: the node of the daemon this CLI talks to)")
	flags.BoolVar(&opts.spec.NoPin, "no-pin", false, "Do not pin the service: if it moves to another node, its local volumes stay behind")
	flags.StringVar(&opts.spec.VolumeName, "volume-name", "", `Name of the data volume (default "<name>-data"; with --replicas > 1 "-{{.Task.Slot}}" is appended unless the name has a task template)`)
	flags.BoolVar(&opts.dryRun, "dry-run", false, "Print the service spec that would be sent, and send nothing")
	flags.StringVar(&opts.format, "format", "", `Format the --dry-run output: "json" or a Go template over the spec`)
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"json"}, cobra.ShellCompDirectiveNoFileComp))
	for name, usage := range map[string]string{
		"stop-grace-period": fmt.Sprintf("Time to wait before force killing a container (ns|us|ms|s|m|h) (default %s: time for a database to save on SIGTERM; over 60s buys nothing, swarm starts the new task after at most 1m)", stateful.CreateStopGracePeriod),
		"update-order":      `Update order ("stop-first"; "start-first" is refused: two tasks would share the data)`,
		"rollback-order":    `Rollback order ("stop-first"; "start-first" is refused: two tasks would share the data)`,
	} {
		if f := flags.Lookup(name); f != nil {
			f.Usage = usage
		}
	}

	dockerRunE := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return runCreate(cmd, args, dockerCLI, icli, dockerRunE, &opts)
	}
	registerCompletion(dockerCLI, cmd) // complete.go: SERVICE/IMAGE argument, --pin, --volume-name
	return cmd
}

func runCreate(cmd *cobra.Command, args []string, dockerCLI command.Cli, icli *intercept.Cli, dockerRunE func(*cobra.Command, []string) error, opts *createOptions) error {
	if cmd.Flags().Changed("pin") && opts.spec.Pin == "" {
		return errors.New("--pin needs a node name or ID")
	}
	if opts.format != "" && !opts.dryRun {
		return errors.New("--format applies to --dry-run only: docker stateful create prints the service ID, as docker service create does")
	}
	if err := checkFormat(opts.format); err != nil {
		return err
	}
	if err := opts.spec.Validate(); err != nil {
		return err
	}

	var res *createspec.Result
	created := false
	icli.BeforeCreate = func(ctx context.Context, spec *swarm.ServiceSpec, _ *swarm.ServiceCreateOptions) error {
		r, err := guardfacts.Create(ctx, dockerCLI.Client(), *spec, opts.spec)
		if err != nil {
			return err
		}
		for _, w := range r.Warnings {
			_, _ = fmt.Fprintln(dockerCLI.Err(), "warning: "+w)
		}
		for _, n := range r.Notes {
			_, _ = fmt.Fprintln(dockerCLI.Err(), "docker stateful: "+n)
		}
		if opts.dryRun {
			if err := printCreateDryRun(dockerCLI.Out(), opts.format, *spec, r); err != nil {
				return err
			}
			return intercept.Stop{Status: 0}
		}
		*spec, res = r.Spec, r
		return nil
	}
	icli.AfterSend = func(context.Context, string) { created = true }

	err := dockerRunE(cmd, args)
	if stop, ok := intercept.AsStop(err); ok {
		if stop.Status == 0 {
			return nil
		}
		return cli.StatusError{StatusCode: stop.Status}
	}
	if created && res != nil {
		if quiet, _ := cmd.Flags().GetBool("quiet"); !quiet {
			printCreateSummary(dockerCLI.Err(), res)
		}
	}
	return err
}

func printCreateDryRun(w io.Writer, format string, docker swarm.ServiceSpec, res *createspec.Result) error {
	return writeFormatted(w, format, res.Spec, func(w io.Writer) error {
		_, _ = fmt.Fprintf(w, "Dry run, nothing sent. docker stateful create would send this service spec (+ marks what it added to docker's):\n\n")
		if err := createspec.WriteMarkedSpec(w, docker, res.Spec); err != nil {
			return err
		}
		_, _ = fmt.Fprintln(w)
		for _, l := range createspec.Describe(res) {
			_, _ = fmt.Fprintln(w, l)
		}
		return nil
	})
}

func printCreateSummary(w io.Writer, res *createspec.Result) {
	for _, l := range createspec.Summary(res) {
		_, _ = fmt.Fprintln(w, "docker stateful: "+l)
	}
}
