package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/streams"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/docker-stateful/docker-stateful/plugin/exitcode"
	"github.com/docker-stateful/docker-stateful/plugin/meta"
	"github.com/docker-stateful/docker-stateful/plugin/redisbackup"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
	"github.com/docker-stateful/docker-stateful/plugin/verifyflow"
)

type backupOptions struct {
	redis   redisFlags
	output  string
	format  string
	timeout time.Duration
}

// backupResult is what `backup --format json` prints.
type backupResult struct {
	Service string              `json:"service"`
	Redis   verifyflow.Endpoint `json:"redis"`
	*redisbackup.Result
}

func newBackupCommand(dockerCLI command.Cli) *cobra.Command {
	opts := &backupOptions{}
	cmd := &cobra.Command{
		Use:   "backup [OPTIONS] SERVICE",
		Short: "Back up every key of a service's Redis into one verified file",
		Long: `Back up a service's Redis through its port, without access to the node's disk.

Writes are paused (CLIENT PAUSE WRITE; readers keep working) and Redis saves;
every logical database is fingerprinted and every key is read with its
serialized value (DUMP) and exact expire time; writes resume as soon as the
keys are read (the pause is printed, and is write_pause_ms in --format json).
The file (zstd-compressed, documented in docs/backup-format.md) carries the
fingerprint of the cut and checksums, so "docker stateful restore" proves the
restored data equal to it and refuses a damaged file before writing anything.

The file is written to a temporary name, fsynced and renamed; -o - writes it
to stdout. Redis is found as for "docker stateful snapshot".`,
		Example: `  docker stateful backup cache
  docker stateful backup -o /backups/cache.dsbackup cache
  docker stateful backup -o - cache | ssh backup-host 'cat > cache.dsbackup'`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBackup(cmd.Context(), dockerCLI, opts, args[0])
		},
		ValidArgsFunction: completeServiceNames(dockerCLI),
	}
	flags := cmd.Flags()
	addRedisFlags(flags, &opts.redis)
	_ = flags.MarkHidden("state-dir") // the fingerprint goes into the file, not the state directory
	flags.StringVarP(&opts.output, "output", "o", "", `Write the backup to this file, "-" for stdout (default: SERVICE-TIME.dsbackup in the current directory)`)
	flags.StringVar(&opts.format, "format", "", `Format the output: "json" or a Go template`)
	flags.DurationVar(&opts.timeout, "timeout", 2*time.Minute, "How long to wait for Redis to finish loading its dataset")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runBackup(ctx context.Context, dockerCLI command.Cli, opts *backupOptions, name string) error {
	if opts.output == "-" {
		if opts.format != "" {
			return errors.New("--format prints to stdout, which -o - uses for the backup: use -o FILE with --format")
		}
		if dockerCLI.Out().IsTerminal() {
			return errors.New("-o -: stdout is a terminal; redirect it to a file or a pipe, or use -o FILE")
		}
	}
	flow, err := openRedisFlow(dockerCLI, &opts.redis, opts.format, opts.timeout, nil, name)
	if err != nil {
		return backupExit(err)
	}
	svc, err := flow.Service(ctx, name)
	if err != nil {
		return backupExit(err)
	}
	c, _, ep, err := flow.Connect(ctx, svc)
	if err != nil {
		return backupExit(err)
	}
	defer c.Close()
	bopt := redisbackup.Options{
		Service: svc.Spec.Name, SpecVersion: svc.Version.Index, Generator: "docker-stateful " + meta.Plugin().Version,
		Log:      func(s string) { fmt.Fprintln(dockerCLI.Err(), s) },
		Progress: ttyProgress(dockerCLI.Err()),
	}
	var res *redisbackup.Result
	if opts.output == "-" {
		res, err = redisbackup.Backup(ctx, c, dockerCLI.Out(), bopt)
	} else {
		path := opts.output
		if path == "" {
			path = svc.Spec.Name + "-" + time.Now().UTC().Format("20060102T150405") + ".dsbackup"
		}
		res, err = redisbackup.BackupFile(ctx, c, path, bopt)
	}
	if err != nil {
		return backupExit(err)
	}
	to := res.Path
	if to == "" {
		to = "stdout"
	}
	dbs := make([]string, len(res.Databases))
	for i, d := range res.Databases {
		dbs[i] = fmt.Sprintf("db%d: %d", d.DB, d.Records)
	}
	paused := "writes were paused for " + res.WritePause.Round(time.Millisecond).String()
	if res.Method == redisbackup.MethodReplication {
		paused = "writes were not paused (the server's state at its fork)"
	}
	summary := fmt.Sprintf("Backup of service %s: %d keys (%s), %s, %s (RDB %d), written to %s; %s",
		svc.Spec.Name, res.Records, strings.Join(dbs, ", "), units.HumanSize(float64(res.FileBytes)),
		res.Header.Cut.Describe(), res.Header.RDBVersion, to, paused)
	if opts.output == "-" {
		fmt.Fprintln(dockerCLI.Err(), summary)
		return nil
	}
	return writeFormatted(dockerCLI.Out(), opts.format, backupResult{Service: svc.Spec.Name, Redis: ep, Result: res},
		func(w io.Writer) error {
			_, err := fmt.Fprintln(w, summary)
			return err
		})
}

// backupExit gives backup and restore errors their exit status: 2 when the answer could
// not be had (Redis unreachable, a timeout, an unusable backup file), 130 when
// interrupted, 1 for a refusal and anything else.
func backupExit(err error) error {
	var fe *redisbackup.FileError
	switch {
	case err == nil, errors.Is(err, context.Canceled): // exitcode: 130
		return err
	case redisstate.IsUnreachable(err), errors.As(err, &fe), errors.Is(err, context.DeadlineExceeded),
		strings.Contains(err.Error(), "gave up waiting"):
		return exitcode.Undecidable(err)
	}
	return exitcode.Refused(err)
}

// ttyProgress draws one updating line (keys, bytes, rate) on a terminal, like docker's
// progress output; nil (silent) when stderr is not a terminal.
func ttyProgress(w *streams.Out) func(redisbackup.Progress) {
	if !w.IsTerminal() {
		return nil
	}
	return func(p redisbackup.Progress) {
		fmt.Fprintf(w, "\r\x1b[K  %s: %d keys, %s, %.0f keys/s, %s", p.Phase, p.Keys,
			units.HumanSize(float64(p.Bytes)), p.KeysPerSec, p.Elapsed.Round(time.Second))
		if p.Done {
			fmt.Fprintln(w)
		}
	}
}
