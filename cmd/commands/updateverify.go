package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"

	"github.com/docker-stateful/docker-stateful/plugin/verifyflow"
)

// updateVerifyOptions are update's --verify and its companions.
type updateVerifyOptions struct {
	enabled    bool
	redis      redisFlags
	pg         pgFlags // pgflags.go
	verifyKeys []string
	noRollback bool
	timeout    time.Duration
	cut        string // --verify-cut
}

const updateVerifyHelp = `

--verify proves that the data survived, for a Redis service: before sending,
it finds the service's Redis (its published port for 6379, or --redis-url),
refuses what cannot survive (data directory not on a mount of the new spec,
persistence already failing, AOF turned on with the data only in the RDB),
pauses writes (CLIENT PAUSE WRITE: readers keep working), saves (BGSAVE)
while it fingerprints every key. Writes stay paused until the old task has
stopped (at most its stop grace period + 30s after sending); the old Redis
stops without saving again (save points off in its memory) when the cut's
save provably holds its data; one cut at a time per Redis (a second run is
refused); Ctrl-C resumes writes (exit 130) and, once the update is sent,
prints the command that checks it later.
While docker watches the new task converge, it holds the new Redis process'
writes from the moment it answers, and once it has loaded, fingerprints the
data as loaded and reports MISSING, CHANGED, TTL-CHANGED, NEW and EXPIRED
keys (keys that clients may have changed before the hold are reported apart,
never as a loss, and roll nothing back). When keys of the cut are missing or
changed, the data cannot be checked, or the update does not converge within
the stop grace period + --verify-timeout, it rolls the service back
(--no-rollback: not), verifies again and says what the rollback restored;
the exit status is then 1 (2 when Redis cannot be reached before the update:
nothing is sent). A new Redis process that answered with its data loaded and
was then lost during its check (its node cut off, its engine stopped; a read
unanswered for --verify-timeout) proves neither: once the update converged,
unless swarm reports the task failed, that is exit 2, nothing rolled back,
and the command that checks it later.
The password comes from REDISCLI_AUTH or --redis-password-file, never from the
command line. --verify-cut replication takes the cut through the server's
snapshot for a replica instead (saved by the server, received, then the update
is sent; the fingerprint is read from it while the old task stops).
A verified image change that the old server could not read back (Redis 7 to
8, PostgreSQL 15 to 17) ends with "Going back:" and the conversion it needs.

For a MariaDB or MySQL service (a mariadb/mysql image, a published 3306,
--mysql-url or --engine mariadb) --verify holds writes with FLUSH TABLES WITH
READ LOCK on its own session and fingerprints every table server side, with the
same verdicts and exit statuses; the password comes from MYSQL_PWD or
--mysql-password-file (docs/mariadb.md).

For a PostgreSQL service (a postgres image, a published 5432, --pg-url or
--engine postgres) --verify does the same with the same verdicts and exit
statuses (a server lost during its check is rolled back, exit 1): it refuses when PGDATA is not on a persistent mount of the new spec,
fsync or full_page_writes is off with a grace period shorter than a
checkpoint, or the role lacks the rights the check needs; it turns writes off
(ALTER SYSTEM SET default_transaction_read_only = on: reads keep working),
waits for open write transactions, checkpoints and fingerprints every table
of every database on the server. The new server starts read-only (the setting
is in its data directory): it is verified exactly as loaded (MISSING,
CHANGED, SCHEMA-CHANGED tables and sequences fail; ADVANCED sequences and NEW
objects do not), then writes are turned back on, also after a rollback, a
refusal or Ctrl-C. The password comes from PGPASSWORD, --pg-password-file or a
.pgpass file.`

// addUpdateVerifyFlags adds --verify and its flags to update, and the
// verifier they ask for (opts.newVerifier), unless a test set one.
// addVerifyFlags adds --verify and its companions (update, stack deploy).
func addVerifyFlags(cmd *cobra.Command, v *updateVerifyOptions) {
	flags := cmd.Flags()
	flags.BoolVar(&v.enabled, "verify", false, "Prove the data survived: cut and fingerprint the Redis or PostgreSQL data before, verify it after, roll back on a mismatch")
	addRedisFlags(flags, &v.redis)
	addPGFlags(cmd, &v.pg)
	flags.StringArrayVar(&v.verifyKeys, "verify-key", nil, "With --verify: a key that must exist after the update (repeatable)")
	flags.BoolVar(&v.noRollback, "no-rollback", false, "With --verify: do not roll back when the data did not survive")
	flags.DurationVar(&v.timeout, "verify-timeout", 5*time.Minute, "With --verify: how long to wait for the new task's Redis or PostgreSQL, the old task to stop, and the update to converge")
	flags.StringVar(&v.cut, "verify-cut", "bgsave", `With --verify, Redis: how the cut is taken: "bgsave" (fingerprint the paused dataset while it is saved, then send) or "replication" (the server's snapshot for a replica, received, then send; the fingerprint is read from it while the old task stops: writes are held less); "replication" falls back to "bgsave" where the server does not serve replicas`)
	_ = cmd.RegisterFlagCompletionFunc("verify-cut", cobra.FixedCompletions([]string{"bgsave", "replication"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("verify-key", cobra.NoFileCompletions)
	_ = cmd.RegisterFlagCompletionFunc("redis-url", cobra.NoFileCompletions)
}

func addUpdateVerifyFlags(dockerCLI command.Cli, cmd *cobra.Command, opts *updateOptions) {
	v := &opts.verify
	flags := cmd.Flags()
	addVerifyFlags(cmd, v)
	flags.Lookup("format").Usage = `Format the --dry-run output or the --verify report: "json" or a Go template`
	cmd.Long += updateVerifyHelp
	cmd.Example += `
  docker stateful update --verify --limit-memory 200M cache
  REDISCLI_AUTH=... docker stateful update --verify --format json --image redis:7.2 cache
  PGPASSWORD=... docker stateful update --verify --limit-memory 1G db`

	var active *verifyflow.EngineUpdate
	runE := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkUpdateVerifyFlags(cmd, opts); err != nil {
			return err
		}
		if !v.enabled || opts.dryRun {
			return runE(cmd, args)
		}
		out := dockerCLI.Out() // before docker's output is moved to stderr
		err := runE(cmd, args)
		active.Abandon() // a refused or failed send: never leave writes paused
		if opts.format == "" {
			if err == nil && opts.wayBack != "" {
				fmt.Fprintf(out, "Going back: %s\n", opts.wayBack)
			}
			return err
		}
		service := ""
		if len(args) > 0 {
			service = args[0]
		}
		// every --format document has a verdict, also on error
		if werr := writeReport(out, opts.format, withWayBack(active.Outcome(service, err), opts.wayBack), nil); werr != nil && err == nil {
			return werr
		}
		return err
	}
	if opts.newVerifier == nil {
		opts.newVerifier = func(dockerCLI command.Cli) (updateVerifier, error) {
			if !v.enabled {
				return nil, nil
			}
			u, err := newUpdateVerifier(cmd, dockerCLI, opts)
			active = u
			if err != nil {
				return nil, err
			}
			return u, nil
		}
	}
}

// checkUpdateVerifyFlags refuses --format and the --verify flags where they
// do not apply, before anything is done.
func checkUpdateVerifyFlags(cmd *cobra.Command, opts *updateOptions) error {
	flags := cmd.Flags()
	if err := checkFormat(opts.format); err != nil {
		return err
	}
	if opts.verify.enabled {
		if opts.verify.timeout <= 0 {
			return fmt.Errorf("--verify-timeout %s: must be more than 0", opts.verify.timeout)
		}
		if c := opts.verify.cut; c != "bgsave" && c != "replication" {
			return fmt.Errorf("--verify-cut %q: must be bgsave or replication", c)
		}
		return nil
	}
	if n := opts.verify.redis.changed(flags); n != "" {
		return fmt.Errorf("--%s only applies with --verify", n)
	}
	if n := opts.verify.pg.changed(flags); n != "" {
		return fmt.Errorf("--%s only applies with --verify", n)
	}
	for _, n := range []string{"verify-key", "no-rollback", "verify-timeout", "verify-cut"} {
		if flags.Changed(n) {
			return fmt.Errorf("--%s only applies with --verify", n)
		}
	}
	return nil
}

// update --verify's verifier bounds docker's convergence wait and hears when
// it failed (update.go asks for these by interface: a verifier that lost them
// would wait forever, unnoticed).
var (
	_ waitBounder    = (*verifyflow.EngineUpdate)(nil)
	_ convergeFailer = (*verifyflow.EngineUpdate)(nil)
)

// buildVerifier is update --verify's verifier of one service for the flags v
// (Redis or PostgreSQL, chosen from the service once it is known), its report
// on stdout; docker's convergence progress is hidden with quiet.
func buildVerifier(dockerCLI command.Cli, v updateVerifyOptions, service string, quiet, force bool) (*verifyflow.EngineUpdate, error) {
	fopt, err := v.redis.options(v.timeout)
	if err != nil {
		return nil, err
	}
	fopt.StreamCut = v.cut == "replication"
	fopt.VerifyKeys = v.verifyKeys
	fopt.Dial = sshRedisDialer(dockerCLI, service)
	flow, err := verifyflow.New(dockerCLI.Client(), fopt, dockerCLI.Err())
	if err != nil {
		return nil, err
	}
	pgFlow, err := flow.PG(v.pg.options())
	if err != nil {
		return nil, err
	}
	myFlow, err := v.pg.wireMySQL(pgFlow)
	if err != nil {
		return nil, err
	}
	uopt := verifyflow.UpdateOptions{Force: force, NoRollback: v.noRollback}
	converge := func(ctx context.Context, serviceID string) error {
		return waitOnService(ctx, dockerCLI, serviceID, quiet)
	}
	return &verifyflow.EngineUpdate{
		Redis: &verifyflow.Update{Flow: flow, Opt: uopt, Converge: converge},
		PG:    &verifyflow.PGUpdate{Flow: pgFlow, Opt: uopt, Converge: converge},
		MY:    &verifyflow.MYUpdate{Flow: myFlow, Opt: uopt, Converge: converge},
	}, nil
}

// newUpdateVerifier is the verifier for this run's flags (Redis or
// PostgreSQL, chosen from the service once it is known); with
// --format, docker's own output (the service ID, convergence progress) goes
// to stderr so that stdout is the report alone.
func newUpdateVerifier(cmd *cobra.Command, dockerCLI command.Cli, opts *updateOptions) (*verifyflow.EngineUpdate, error) {
	quiet, _ := cmd.Flags().GetBool("quiet")
	force, _ := cmd.Flags().GetBool("force")
	u, err := buildVerifier(dockerCLI, opts.verify, cmd.Flags().Arg(0), quiet, force)
	if err != nil {
		return nil, err
	}
	if opts.format == "" {
		u.Redis.Report, u.PG.Report, u.MY.Report = dockerCLI.Out(), dockerCLI.Out(), dockerCLI.Out()
		return u, nil
	}
	if dc, ok := dockerCLI.(*command.DockerCli); ok {
		_ = dc.Apply(command.WithOutputStream(dockerCLI.Err()))
	} else {
		_ = cmd.Flags().Set("quiet", "true")
	}
	return u, nil
}
