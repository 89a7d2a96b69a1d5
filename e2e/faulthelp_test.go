//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/e2e/cluster"
)

// The fault helper of the e2e tests: run the plugin in the background and
// freeze it at a line it prints while a fault is injected (a node's engine
// stopped or killed, a Redis killed, a node cut off, another client's
// update), then check what the fault tests always check (writes open, the
// spec not sent, every key and acknowledged write kept).

// fltBuffer is an io.Writer safe to read while the command writes to it.
type fltBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *fltBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *fltBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// fltRun is a docker stateful command running in the background.
type fltRun struct {
	cmd            *exec.Cmd
	stdout, stderr fltBuffer
	done           chan struct{}
	err            error
	pid            int // the plugin's, once looked up
}

// fltStart starts `docker -H node1 stateful args...` in its own process
// group (as a shell runs a foreground job).
func fltStart(t *testing.T, args ...string) *fltRun {
	t.Helper()
	r := &fltRun{done: make(chan struct{})}
	full := append([]string{"-H", C.Node(1).Host, "stateful"}, args...)
	r.cmd = exec.Command("docker", full...)
	r.cmd.Env = C.DockerEnv()
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Logf("$ docker %s &", strings.Join(full, " "))
	go func() { r.err = r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
			<-r.done
		}
	})
	return r
}

// waitFor waits until the command's stderr contains s.
func (r *fltRun) waitFor(t *testing.T, s string, within time.Duration) {
	t.Helper()
	for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if strings.Contains(r.stderr.String(), s) {
			return
		}
		select {
		case <-r.done:
			t.Fatalf("exited (%v) before saying %q:\n%s\n%s", r.err, s, r.stdout.String(), r.stderr.String())
		default:
		}
	}
	t.Fatalf("did not say %q within %s:\n%s", s, within, r.stderr.String())
}

// plugin is the pid of the plugin process docker runs (the front execs the
// full plugin in place), waiting for it to start.
func (r *fltRun) plugin(t *testing.T) int {
	t.Helper()
	if r.pid != 0 {
		return r.pid
	}
	// any thread of docker may have started it
	glob := fmt.Sprintf("/proc/%d/task/*/children", r.cmd.Process.Pid)
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		files, _ := filepath.Glob(glob)
		for _, p := range files {
			b, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(b)) {
				// not docker's metadata query, which runs first, nor a child
				// docker forked that has not exec'd the plugin yet (it still
				// has docker's command line, "stateful" included)
				exe, _ := os.Readlink("/proc/" + f + "/exe")
				cmdline, _ := os.ReadFile("/proc/" + f + "/cmdline")
				args := "\x00" + string(cmdline)
				if strings.HasPrefix(filepath.Base(exe), "docker-stateful") &&
					strings.Contains(args, "\x00stateful\x00") && !strings.Contains(args, "docker-cli-plugin-metadata") {
					r.pid, _ = strconv.Atoi(f)
					return r.pid
				}
			}
		}
	}
	t.Fatal("no plugin process under docker")
	return 0
}

// freeze waits until the plugin says line, stops it right there (SIGSTOP),
// runs fault and lets the plugin go on (SIGCONT), also when the test fails
// inside fault. The plugin is looked up as soon as the command starts: it
// must be the process stopped, not docker.
func (r *fltRun) freeze(t *testing.T, line string, within time.Duration, fault func()) {
	t.Helper()
	r.freezeBefore(t, line, "", within, fault)
}

// freezeBefore is freeze for a fault that must land before the plugin says
// notPast: when it already has, the scenario was not exercised and the test
// fails.
func (r *fltRun) freezeBefore(t *testing.T, line, notPast string, within time.Duration, fault func()) {
	t.Helper()
	pid := r.plugin(t)
	r.waitFor(t, line, within)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	thaw := func() { once.Do(func() { _ = syscall.Kill(pid, syscall.SIGCONT) }) }
	t.Cleanup(thaw) // runs before fltStart's kill
	t.Logf("plugin frozen at %q", line)
	if notPast != "" && strings.Contains(r.stderr.String(), notPast) {
		thaw()
		t.Fatalf("the plugin said %q before it was frozen: the scenario was not exercised", notPast)
	}
	fault()
	thaw()
}

// signal sends sig to the plugin itself, as a terminal delivers Ctrl-C
// (docker forwards nothing then).
func (r *fltRun) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(r.plugin(t), sig); err != nil {
		t.Fatal(err)
	}
}

// wait waits for the command's end and returns its exit status.
func (r *fltRun) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(within):
		t.Fatalf("still running after %s:\n%s", within, r.stderr.String())
	}
	t.Logf("stdout:\n%s\nstderr:\n%s", vfyTrim(r.stdout.String()), vfyTrim(r.stderr.String()))
	if ee, ok := r.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if r.err != nil {
		return -1
	}
	return 0
}

// result is wait for a run with --format json: its exit status and report.
func (r *fltRun) result(t *testing.T, within time.Duration) (int, vfyUpdateResult) {
	t.Helper()
	code := r.wait(t, within)
	var res vfyUpdateResult
	vfyJSON(t, r.stdout.String(), &res)
	return code, res
}

// fltEngine is the Docker engine of one node of the cluster, for faults.
type fltEngine struct{ n int }

// fltNodeEngine is node n's engine; it is started again when the test ends.
func fltNodeEngine(t *testing.T, n int) fltEngine {
	t.Helper()
	if len(C.Nodes) < n {
		t.Skipf("needs %d nodes", n)
	}
	t.Cleanup(func() { C.Engine(t, n, "start") })
	return fltEngine{n}
}

// kill ends the engine with SIGKILL: its containers keep running under
// containerd, as after an engine crash.
func (e fltEngine) kill(t *testing.T) time.Time {
	t.Helper()
	C.Engine(t, e.n, "stop", "KILL")
	return time.Now()
}

// stop ends the engine with SIGTERM: it stops its containers first.
func (e fltEngine) stop(t *testing.T) time.Time {
	t.Helper()
	C.Engine(t, e.n, "stop", "TERM")
	return time.Now()
}

func (e fltEngine) start(t *testing.T) {
	t.Helper()
	C.Engine(t, e.n, "start")
}

// restart starts the engine and waits until the manager sees the node Ready.
func (e fltEngine) restart(t *testing.T) {
	t.Helper()
	e.start(t)
	e.waitReady(t)
}

// waitDown waits until the manager sees the node down, and logs how long
// after since that took.
func (e fltEngine) waitDown(t *testing.T, since time.Time) {
	t.Helper()
	C.WaitNodeState(t, e.n, "down", 45*time.Second)
	t.Logf("node%d Down %s after its engine stopped", e.n, time.Since(since).Round(100*time.Millisecond))
}

func (e fltEngine) waitReady(t *testing.T) {
	t.Helper()
	C.WaitNodeState(t, e.n, "ready", time.Minute)
}

// fltCutOff drops, in node's network namespace, every TCP packet from
// outside to port (raw PREROUTING: before the DNAT of host-mode ports, which
// a rule in INPUT would miss). The returned function reconnects it; the test's
// cleanup does too.
func fltCutOff(t *testing.T, node cluster.Node, port int) func() {
	t.Helper()
	rule := []string{"PREROUTING", "-i", "eth0", "-p", "tcp", "--dport", strconv.Itoa(port), "-j", "DROP"}
	ipt := func(op string) error {
		args := append([]string{"netns", "exec", node.Netns, "iptables", "-w", "-t", "raw", op}, rule...)
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("iptables %s: %v: %s", op, err, out)
		}
		return nil
	}
	if err := ipt("-I"); err != nil {
		t.Fatal(err)
	}
	t.Logf("node%d cut off: port %d drops every packet from outside", node.Index, port)
	var once sync.Once
	restore := func() {
		once.Do(func() {
			if err := ipt("-D"); err != nil {
				t.Errorf("reconnecting node%d: %v", node.Index, err)
			}
			t.Logf("node%d reconnected", node.Index)
		})
	}
	t.Cleanup(restore)
	return restore
}

// fltWriteTakes is how long one SET takes at addr (up to limit).
func fltWriteTakes(addr string, limit time.Duration) (time.Duration, error) {
	w := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: limit, ReadTimeout: limit, MaxRetries: -1})
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	start := time.Now()
	err := w.Set(ctx, "flt:probe", "x", 0).Err()
	return time.Since(start), err
}

// fltWritesOpen checks that a write at addr goes through within a second
// (waiting up to limit for its answer): writes were not left paused.
func fltWritesOpen(t *testing.T, addr string, limit time.Duration, when string) {
	t.Helper()
	if d, err := fltWriteTakes(addr, limit); err != nil || d > time.Second {
		t.Errorf("a write %s took %s (%v): writes left paused", when, d, err)
	}
}

// fltWritesPaused checks that a write at addr is still unanswered after
// 600ms: a run's cut holds them.
func fltWritesPaused(t *testing.T, addr string, when string) {
	t.Helper()
	if d, err := fltWriteTakes(addr, 700*time.Millisecond); err == nil && d < 600*time.Millisecond {
		t.Errorf("a write went through in %s %s: the cut's pause was lifted", d, when)
	}
}

// fltSpec is a service's spec version, to check that nothing was sent.
type fltSpec struct{ svc, version string }

func fltSpecOf(t *testing.T, svc string) fltSpec {
	t.Helper()
	return fltSpec{svc, updInspect(t, svc, "{{.Version.Index}}")}
}

// changed waits up to within for the spec version to move (the update was sent).
func (s fltSpec) changed(t *testing.T, within time.Duration) {
	t.Helper()
	for end := time.Now().Add(within); updInspect(t, s.svc, "{{.Version.Index}}") == s.version; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the update was not sent")
		}
	}
}

// unchanged fails the test when the spec version moved: something was sent.
func (s fltSpec) unchanged(t *testing.T, why string) {
	t.Helper()
	if v := updInspect(t, s.svc, "{{.Version.Index}}"); v != s.version {
		t.Errorf("%s, yet an update was sent: version %s -> %s", why, s.version, v)
	}
}

// fltMemoryLimit checks the service's memory limit, in MiB: which update
// is the one running.
func fltMemoryLimit(t *testing.T, svc string, mib int, why string) {
	t.Helper()
	if mem := updInspect(t, svc, "{{.Spec.TaskTemplate.Resources.Limits.MemoryBytes}}"); mem != strconv.Itoa(mib<<20) {
		t.Errorf("memory limit %s, want %dM: %s", mem, mib, why)
	}
}

// fltOnNode checks that the task runs on node n, the node it is pinned to.
func fltOnNode(t *testing.T, task cluster.Task, n int) {
	t.Helper()
	if task.Node.Index != n {
		t.Errorf("the task runs on node%d, want its pinned node%d", task.Node.Index, n)
	}
}

// fltVerifyLater runs the `docker stateful verify --against` command a run
// printed to check the data later: it must be there, name snapshot want
// (when given) and verify the data.
func fltVerifyLater(t *testing.T, svc, state, stderr, want string) {
	t.Helper()
	m := regexpFind(`docker stateful verify --against (\S+) `+svc, stderr)
	switch {
	case m == "":
		t.Errorf("no command to check later (docker stateful verify --against … %s)", svc)
	case want != "" && m != want:
		t.Errorf("the command to check later names snapshot %q, want %q", m, want)
	default:
		if v := vfyStateful(t, "verify", "--state-dir", state, "--against", m, svc); v.ExitCode() != 0 {
			t.Errorf("the command it gave to check later: exit %d", v.ExitCode())
		}
	}
}

func regexpFind(re, s string) string {
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return m[1]
}

// fltRunningAgain waits until the service runs a task other than old.
func fltRunningAgain(t *testing.T, svc, old string) cluster.Task {
	t.Helper()
	for end := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
		now := C.WaitRunning(t, svc)
		if now.ID != old {
			return now
		}
		if time.Now().After(end) {
			t.Fatalf("task %s still the running one", old)
		}
	}
}

// fltCreatePinned creates a Redis service pinned to node (a 1s stop grace
// period: the fault tests wait for stops) and loads vfyLoad's dataset; it
// returns the service, its published port, its task and the dataset's keys.
func fltCreatePinned(t *testing.T, node int) (string, int, cluster.Task, int64) {
	t.Helper()
	svc := C.ServiceName(t)
	port := cluster.FreePort(t)
	C.Docker(t, 1, "stateful", "create", "--quiet", "--name", svc, "-p", cluster.PublishRedis(port), "--no-resolve-image",
		"--pin", C.Node(node).Hostname, "--stop-grace-period", "1s", "redis")
	task := C.WaitRunning(t, svc)
	if task.Node.Index != node {
		t.Fatalf("the task runs on node%d, not on node%d it is pinned to", task.Node.Index, node)
	}
	rdb := cluster.Redis(t, task.Node.Addr, port)
	n := vfyLoad(t, rdb, 1000)
	// 40k more keys: the check of the new process takes about a second, long
	// enough for a fault to land inside it (pad:NNNNN: fltPad's pad:NNNNNNN
	// keys come on top)
	ctx := context.Background()
	pipe := rdb.Pipeline()
	for i := 0; i < 40000; i++ {
		pipe.Set(ctx, fmt.Sprintf("pad:%05d", i), i, 0)
		if i%2000 == 1999 {
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	return svc, port, task, n + 40000
}

// fltPad adds n small string keys (pad:*), pipelined.
func fltPad(t *testing.T, rdb *redis.Client, n int) {
	t.Helper()
	ctx := context.Background()
	pipe := rdb.Pipeline()
	for i := 0; i < n; i++ {
		pipe.Set(ctx, fmt.Sprintf("pad:%07d", i), i, 0)
		if pipe.Len() == 10000 || i == n-1 {
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// fltWriter keeps writing keys writer:N, retrying each until Redis
// acknowledges it, and records what was acknowledged.
type fltWriter struct {
	mu      sync.Mutex
	acked   []int
	retries int
	stop    chan struct{}
	done    chan struct{}
}

func fltStartWriter(addr string) *fltWriter { return fltStartWriterPrefix(addr, "writer") }

// fltStartWriterPrefix is fltStartWriter writing <prefix>:<i>.
func fltStartWriterPrefix(addr, prefix string) *fltWriter {
	w := &fltWriter{stop: make(chan struct{}), done: make(chan struct{})}
	cl := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: 3 * time.Second,
		WriteTimeout: 3 * time.Second, MaxRetries: -1, PoolSize: 1})
	go func() {
		defer close(w.done)
		defer cl.Close()
		for i := 0; ; {
			select {
			case <-w.stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
			err := cl.Set(ctx, fmt.Sprintf("%s:%06d", prefix, i), i, 0).Err()
			cancel()
			w.mu.Lock()
			if err != nil {
				w.retries++
			} else {
				w.acked = append(w.acked, i)
				i++
			}
			w.mu.Unlock()
			if err != nil {
				time.Sleep(100 * time.Millisecond)
			} else {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	return w
}

// finish stops the writer and returns the writes Redis acknowledged.
func (w *fltWriter) finish() []int {
	close(w.stop)
	<-w.done
	return w.acked
}

// check gives the writer a second to reach the service's Redis as it runs
// now, stops it, and checks that rdb holds the dataset's keys and every
// write it acknowledged.
func (w *fltWriter) check(t *testing.T, rdb *redis.Client, dataset int64) {
	t.Helper()
	time.Sleep(time.Second)
	acked := w.finish()
	fltKeysIntact(t, rdb, dataset, acked)
	t.Logf("writer: %d acknowledged writes, %d retries", len(acked), w.retries)
}

// fltLost are the acknowledged writes of acked that rdb does not hold.
func fltLost(t *testing.T, rdb *redis.Client, acked []int) []int {
	t.Helper()
	var lost []int
	for i := 0; i < len(acked); i += 500 {
		end := min(i+500, len(acked))
		keys := make([]string, 0, end-i)
		for _, k := range acked[i:end] {
			keys = append(keys, fmt.Sprintf("writer:%06d", k))
		}
		vals, err := rdb.MGet(context.Background(), keys...).Result()
		if err != nil {
			t.Fatal(err)
		}
		for j, v := range vals {
			if v != strconv.Itoa(acked[i+j]) {
				lost = append(lost, acked[i+j])
			}
		}
	}
	return lost
}

// fltKeysIntact checks that rdb holds want keys besides the writer's and the
// probe, all of vfyLoad's strings among them.
func fltKeysIntact(t *testing.T, rdb *redis.Client, dataset int64, acked []int) {
	t.Helper()
	ctx := context.Background()
	if lost := fltLost(t, rdb, acked); len(lost) > 0 {
		t.Errorf("%d of %d acknowledged writes lost, e.g. writer:%06d", len(lost), len(acked), lost[0])
	}
	probe := rdb.Exists(ctx, "flt:probe").Val()
	if got := rdb.DBSize(ctx).Val(); got != dataset+int64(len(acked))+probe {
		t.Errorf("DBSIZE %d, want %d dataset keys + %d acknowledged writes (+%d probe): keys lost", got, dataset, len(acked), probe)
	}
}
