package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/docker/docker/api/types/swarm"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
	"github.com/docker-stateful/docker-stateful/plugin/verifyflow"
)

// redisFlags are how docker stateful reaches a service's Redis and where it
// keeps snapshots (update --verify, snapshot, verify).
type redisFlags struct {
	url          string
	caCert       string
	port         uint
	passwordFile string
	stateDir     string
}

func addRedisFlags(flags *pflag.FlagSet, r *redisFlags) {
	flags.StringVar(&r.url, "redis-url", "", "Reach Redis at redis://[user@]host:port or rediss://... (default: the service's published port for 6379); every database is checked, /N or ?db=N checks database N only; no password here, use REDISCLI_AUTH")
	flags.StringVar(&r.caCert, "redis-cacert", "", "CA certificates (PEM) to verify a rediss:// server")
	flags.UintVar(&r.port, "redis-port", 6379, "Container port Redis listens on, to find the service's published port")
	flags.StringVar(&r.passwordFile, "redis-password-file", "", "Read the Redis password from this file (default: the REDISCLI_AUTH environment variable)")
	flags.StringVar(&r.stateDir, "state-dir", "", "Keep snapshots in this directory (default $XDG_STATE_HOME/docker-stateful)")
}

func (r *redisFlags) changed(flags *pflag.FlagSet) string {
	for _, n := range []string{"redis-url", "redis-cacert", "redis-port", "redis-password-file", "state-dir"} {
		if f := flags.Lookup(n); f != nil && f.Changed {
			return n
		}
	}
	return ""
}

func (r *redisFlags) options(timeout time.Duration) (verifyflow.Options, error) {
	if r.port == 0 || r.port > 65535 {
		return verifyflow.Options{}, fmt.Errorf("--redis-port %d: must be a port number (1-65535)", r.port)
	}
	return verifyflow.Options{
		RedisURL:     r.url,
		CACert:       r.caCert,
		RedisPort:    uint32(r.port),
		PasswordFile: r.passwordFile,
		Getenv:       redisGetenv,
		StateDir:     r.stateDir,
		Timeout:      timeout,
	}, nil
}

// updateVerifyFlags are update's --verify and its companions.
type updateVerifyFlags struct {
	verify     bool
	redis      redisFlags
	verifyKeys []string
	noRollback bool
	timeout    time.Duration
	format     string // update's --format, taken over when --verify is set
	active     *dataVerifier
}

// addUpdateVerifyFlags adds --verify and its flags to update and builds its
// verifier (opts.newVerifier), unless a test set one.
func addUpdateVerifyFlags(cmd *cobra.Command, opts *updateOptions) {
	v := &updateVerifyFlags{}
	flags := cmd.Flags()
	flags.BoolVar(&v.verify, "verify", false, "Prove the data survived: cut and fingerprint the Redis dataset before, verify it after, roll back on a mismatch")
	addRedisFlags(flags, &v.redis)
	flags.StringArrayVar(&v.verifyKeys, "verify-key", nil, "With --verify: a key that must exist after the update (repeatable)")
	flags.BoolVar(&v.noRollback, "no-rollback", false, "With --verify: do not roll back when the data did not survive")
	flags.DurationVar(&v.timeout, "verify-timeout", 5*time.Minute, "With --verify: how long to wait for the new task's Redis (and the old task to stop)")
	flags.Lookup("format").Usage = `Format the --dry-run output or the --verify report: "json" or a Go template`
	cmd.Long += `

--verify proves that the data survived, for a Redis service: before sending,
it finds the service's Redis (its published port for 6379, or --redis-url),
refuses what cannot survive (data directory not on a mount of the new spec,
persistence already failing, AOF turned on with the data only in the RDB),
pauses writes (CLIENT PAUSE WRITE: readers keep working), saves (SAVE) and
fingerprints every key. Writes stay paused until the old task has stopped.
Once the new task's Redis has loaded its data, it fingerprints again and
reports MISSING, CHANGED, TTL-CHANGED, NEW and EXPIRED keys. When keys of the
cut are missing or changed, or the data cannot be checked at all (the new task
never converges, or its Redis is not ready within --verify-timeout), it rolls
the service back (--no-rollback: not), verifies again and says what the
rollback restored; the exit status is then 1.
The password comes from REDISCLI_AUTH or --redis-password-file, never from the
command line.`
	cmd.Example += `
  docker stateful update --verify --limit-memory 200M cache
  REDISCLI_AUTH=... docker stateful update --verify --format json --image redis:7.2 cache`
	_ = cmd.RegisterFlagCompletionFunc("verify-key", cobra.NoFileCompletions)
	_ = cmd.RegisterFlagCompletionFunc("redis-url", cobra.NoFileCompletions)

	runE := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		flags := cmd.Flags()
		if err := checkFormat(opts.format); err != nil {
			return err
		}
		if !v.verify {
			if n := v.redis.changed(flags); n != "" {
				return fmt.Errorf("--%s only applies with --verify", n)
			}
			for _, n := range []string{"verify-key", "no-rollback", "verify-timeout"} {
				if flags.Changed(n) {
					return fmt.Errorf("--%s only applies with --verify", n)
				}
			}
			return runE(cmd, args)
		}
		if v.timeout <= 0 {
			return fmt.Errorf("--verify-timeout %s: must be more than 0", v.timeout)
		}
		if !opts.dryRun && opts.format != "" {
			v.format, opts.format = opts.format, "" // the report's format
		}
		err := runE(cmd, args)
		v.active.abandon() // a refused or failed send: never leave writes paused
		return err
	}
	if opts.newVerifier == nil {
		opts.newVerifier = func(dockerCLI command.Cli) (updateVerifier, error) {
			if !v.verify {
				return nil, nil
			}
			fopt, err := v.redis.options(v.timeout)
			if err != nil {
				return nil, err
			}
			fopt.VerifyKeys = v.verifyKeys
			flow, err := verifyflow.New(dockerCLI.Client(), fopt, dockerCLI.Err())
			if err != nil {
				return nil, err
			}
			quiet, _ := cmd.Flags().GetBool("quiet")
			force, _ := cmd.Flags().GetBool("force")
			v.active = &dataVerifier{cli: dockerCLI, flow: flow, flags: v, quiet: quiet, force: force, out: dockerCLI.Out()}
			if v.format != "" {
				// stdout is the report alone: docker's own output (the
				// service ID, convergence progress) goes to stderr
				if dc, ok := dockerCLI.(*command.DockerCli); ok {
					_ = dc.Apply(command.WithOutputStream(dockerCLI.Err()))
				} else {
					_ = cmd.Flags().Set("quiet", "true")
				}
			}
			return v.active, nil
		}
	}
}

// dataVerifier is update --verify: see updateVerifier for when each step runs.
type dataVerifier struct {
	cli   command.Cli
	flow  *verifyflow.Flow
	flags *updateVerifyFlags
	quiet bool
	force bool      // --force: pre-flight refusals become warnings
	out   io.Writer // stdout (docker's output may be moved to stderr)

	current  swarm.Service
	next     swarm.ServiceSpec
	client   *redisstate.Client
	cut      *verifyflow.Cut
	before   *redisstate.Snapshot
	pre      *redisstate.PreflightResult
	oldTasks []string
	replaces bool
	result   updateVerifyResult
}

// updateVerifyResult is what --verify --format json prints.
type updateVerifyResult struct {
	Service        string               `json:"service"`
	Redis          verifyflow.Endpoint  `json:"redis"`
	Snapshot       string               `json:"snapshot"`
	Warnings       []redisstate.Finding `json:"warnings"`
	Report         *redisstate.Report   `json:"report,omitempty"`
	RolledBack     bool                 `json:"rolled_back"`
	RollbackReport *redisstate.Report   `json:"rollback_report,omitempty"`
	Restored       []string             `json:"restored,omitempty"`
	Verdict        string               `json:"verdict"` // verified, failed
}

func (d *dataVerifier) say(format string, a ...any) {
	fmt.Fprintf(d.cli.Err(), format+"\n", a...)
}

func notSent(service string, err error) error {
	if errors.Is(err, context.Canceled) {
		err = errors.New("interrupted (writes resumed)")
	}
	return cli.StatusError{StatusCode: 1, Status: fmt.Sprintf("update of service %s not sent: %v", service, err)}
}

// Before: connect, pre-flight, cut, fingerprint. Any error stops the update.
func (d *dataVerifier) Before(ctx context.Context, current swarm.Service, spec *swarm.ServiceSpec) error {
	name := current.Spec.Name
	d.current, d.next = current, *spec
	d.result = updateVerifyResult{Service: name, Warnings: []redisstate.Finding{}}
	c, _, ep, err := d.flow.Connect(ctx, current)
	if err != nil {
		return notSent(name, err)
	}
	d.client, d.result.Redis = c, ep
	pre, err := d.flow.Preflight(ctx, c, current.Spec, *spec)
	if err != nil {
		var ref *verifyflow.Refused
		if !errors.As(err, &ref) {
			return notSent(name, err)
		}
		if !d.force {
			for _, f := range ref.Findings {
				d.say("refused: %s", f)
			}
			return cli.StatusError{StatusCode: 1, Status: fmt.Sprintf("update of service %s refused: its Redis data would not survive it; nothing was sent (--force sends it anyway, and --verify then checks it)", name)}
		}
		for _, f := range ref.Findings {
			d.say("warning: --force overrides: %s", f)
		}
		pre.Warnings = append(pre.Warnings, ref.Findings...)
	}
	d.pre, d.result.Warnings = pre, pre.Warnings
	d.replaces = stateful.ReplacesTasks(current.Spec, *spec)
	if d.oldTasks, err = d.flow.RunningTasks(ctx, current.ID); err != nil {
		return notSent(name, err)
	}
	if len(d.oldTasks) > 1 {
		return cli.StatusError{StatusCode: 1, Status: fmt.Sprintf("update of service %s not sent: --verify checks one Redis, and the service runs %d tasks", name, len(d.oldTasks))}
	}
	cut, err := d.flow.StartCut(ctx, c, stateful.StopGracePeriod(current.Spec))
	if err != nil {
		return notSent(name, err)
	}
	d.cut = cut
	before, err := d.flow.Snapshot(ctx, c, name, &cut.Info)
	if err != nil {
		d.abandon()
		return notSent(name, err)
	}
	d.before, d.result.Snapshot = before, before.ID
	d.flow.Prune(name, 20)
	if d.replaces {
		d.say("Sending the update (writes stay paused until the old task has stopped)")
	} else {
		d.say("Sending the update (it replaces no task: writes resume once it is accepted)")
	}
	return nil
}

// AfterSend: keep writes paused until the old task's Redis has exited (after
// its shutdown save), then release.
func (d *dataVerifier) AfterSend(ctx context.Context, _ string) {
	if d.cut == nil {
		return
	}
	if d.replaces && len(d.oldTasks) > 0 {
		deadline := stateful.StopGracePeriod(d.current.Spec) + d.flags.timeout
		switch err := d.flow.WaitStopped(ctx, d.oldTasks, deadline); {
		case errors.Is(err, verifyflow.ErrNotReplaced):
			d.say("The old task is still meant to run after %s: the update does not replace it", verifyflow.NotReplacedAfter)
			d.replaces = false
		case err != nil:
			d.say("warning: %v; resuming writes", err)
		}
	}
	if err := d.cut.Release(); err != nil {
		d.say("warning: %v", err)
	} else {
		d.say("Writes resumed")
	}
}

// abandon releases the write pause if the update was never sent (nil-safe).
func (d *dataVerifier) abandon() {
	if d == nil || d.cut == nil {
		return
	}
	if err := d.cut.Release(); err != nil {
		d.say("warning: %v", err)
	}
}

// After: wait for the new Redis, verify, roll back on a mismatch.
func (d *dataVerifier) After(ctx context.Context, serviceID string) error {
	defer d.abandon()
	if d.before == nil {
		return nil
	}
	name := d.current.Spec.Name
	oldRun := d.cut.Info.RunID
	var c *redisstate.Client
	var err error
	if d.replaces {
		c, _, _, err = d.flow.AwaitNew(ctx, serviceID, oldRun)
	} else {
		d.say("The update replaced no task: verifying the same Redis process")
		c, _, _, err = d.flow.AwaitNew(ctx, serviceID, "")
	}
	if err != nil {
		// What cannot be proven is not verified: with --verify, an update
		// whose new Redis never answers is rolled back like a failed one.
		return d.unverifiable(ctx, serviceID, fmt.Errorf("cannot verify the data of service %s after the update: %w", name, err))
	}
	rep, err := d.flow.Verify(ctx, c, d.before)
	c.Close()
	if err != nil {
		return d.unverifiable(ctx, serviceID, fmt.Errorf("cannot verify the data of service %s after the update: %w", name, err))
	}
	d.result.Report = rep
	text := d.flags.format == ""
	out := d.out
	if text {
		fmt.Fprintln(out)
		_ = redisstate.RenderText(out, rep)
	}
	if rep.OK() {
		d.result.Verdict = "verified"
		if !text {
			return d.writeResult(out)
		}
		return nil
	}
	d.result.Verdict = "failed"
	if d.flags.noRollback {
		if !text {
			_ = d.writeResult(out)
		}
		return cli.StatusError{StatusCode: 1, Status: fmt.Sprintf("the data of service %s did not survive the update; --no-rollback: the service is left as updated (snapshot %s; docker stateful update --rollback %s restores the previous spec)", name, d.before.ID, name)}
	}

	d.say("The data did not survive the update: rolling service %s back to its previous spec", name)
	if err := d.rollback(ctx, serviceID); err != nil {
		if !text {
			_ = d.writeResult(out)
		}
		return cli.StatusError{StatusCode: 1, Status: fmt.Sprintf("the data of service %s did not survive the update, and the rollback failed: %v", name, err)}
	}
	var rep2 *redisstate.Report
	c2, _, _, err := d.flow.AwaitNew(ctx, serviceID, rep.AfterRunID)
	if err == nil {
		rep2, err = d.flow.Verify(ctx, c2, d.before)
		c2.Close()
	}
	if err != nil {
		d.say("warning: cannot verify the data after the rollback: %v", err)
	}
	d.result.RollbackReport = rep2
	dir := ""
	if d.pre != nil {
		dir = d.pre.Config.Dir
	}
	d.result.Restored = verifyflow.RollbackOutcome(d.current.Spec, dir, rep2, rep.Count(redisstate.ClassNew))
	if text {
		if rep2 != nil {
			fmt.Fprintln(out, "\nAfter the rollback:")
			_ = redisstate.RenderText(out, rep2)
		}
		fmt.Fprintln(out)
		for _, l := range d.result.Restored {
			fmt.Fprintln(out, l)
		}
	} else {
		_ = d.writeResult(out)
	}
	return cli.StatusError{StatusCode: 1, Status: fmt.Sprintf("update of service %s failed: its data did not survive, the service was rolled back", name)}
}

// rollback restores the service's previous spec, as docker service rollback
// does, and waits for it to converge with docker's own progress.
func (d *dataVerifier) rollback(ctx context.Context, serviceID string) error {
	if _, err := d.flow.Rollback(ctx, serviceID); err != nil {
		return err
	}
	d.result.RolledBack = true
	if err := waitOnService(ctx, d.cli, serviceID, d.quiet); err != nil {
		d.say("warning: waiting for the rollback to converge: %v", err)
	}
	return nil
}

// unverifiable handles an update after which the data could not be checked
// at all (the new Redis never became ready, or the scan failed): it rolls
// back unless --no-rollback, then checks the data against the cut again.
func (d *dataVerifier) unverifiable(ctx context.Context, serviceID string, cause error) error {
	name := d.current.Spec.Name
	d.result.Verdict = "unverified"
	hint := fmt.Sprintf("snapshot %s: docker stateful verify --against %s %s", d.before.ID, d.before.ID, name)
	if d.flags.noRollback {
		return cli.StatusError{StatusCode: 1, Status: fmt.Sprintf("%v; --no-rollback: the service is left as updated (%s)", cause, hint)}
	}
	d.say("%v: rolling service %s back to its previous spec", cause, name)
	if err := d.rollback(ctx, serviceID); err != nil {
		return cli.StatusError{StatusCode: 1, Status: fmt.Sprintf("%v, and the rollback failed: %v (%s)", cause, err, hint)}
	}
	c, _, _, err := d.flow.AwaitNew(ctx, serviceID, "")
	if err == nil {
		var rep *redisstate.Report
		rep, err = d.flow.Verify(ctx, c, d.before)
		c.Close()
		if err == nil {
			d.result.RollbackReport = rep
			if d.flags.format == "" {
				fmt.Fprintln(d.out, "\nAfter the rollback:")
				_ = redisstate.RenderText(d.out, rep)
			}
		}
	}
	if err != nil {
		d.say("warning: cannot verify the data after the rollback either: %v", err)
	}
	if d.flags.format != "" {
		_ = d.writeResult(d.out)
	}
	return cli.StatusError{StatusCode: 1, Status: fmt.Sprintf("update of service %s failed: %v; the service was rolled back (%s)", name, cause, hint)}
}

func (d *dataVerifier) writeResult(w io.Writer) error {
	return writeFormatted(w, d.flags.format, d.result, func(io.Writer) error { return nil })
}
