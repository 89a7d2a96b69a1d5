package verifyflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

func spec(mounts []mount.Mount, grace *time.Duration, args ...string) swarm.ServiceSpec {
	return swarm.ServiceSpec{TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{
		Image: "redis", Mounts: mounts, StopGracePeriod: grace, Args: args}}}
}

func dur(d time.Duration) *time.Duration { return &d }

func TestPersistentTargetsAndDataMount(t *testing.T) {
	s := spec([]mount.Mount{
		{Type: mount.TypeVolume, Source: "cache-data", Target: "/data"},
		{Type: mount.TypeTmpfs, Target: "/tmp"},
		{Type: mount.TypeBind, Source: "/srv/conf", Target: "/data/conf"},
		{Type: mount.TypeVolume, Target: "/anon"},
	}, nil)
	if got := strings.Join(stateful.PersistentTargets(s), ","); got != "/data,/data/conf" {
		t.Errorf("PersistentTargets = %s (tmpfs and anonymous volumes must not count)", got)
	}
	if stateful.PersistentTargets(swarm.ServiceSpec{}) != nil {
		t.Error("no container spec: want no targets")
	}
	cases := []struct {
		dir, want string
		anon      bool
	}{
		{"/data", "volume cache-data on /data", false},
		{"/data/conf/x", "bind mount /srv/conf on /data/conf", false},
		{"/anon/sub", "an anonymous volume on /anon", true},
		{"/tmp", "a tmpfs mount on /tmp", true},
		{"/database", "an anonymous volume or the container's filesystem", true},
	}
	for _, c := range cases {
		dm := DataMountOf(s, c.dir)
		if dm.String() != c.want || dm.Anonymous() != c.anon {
			t.Errorf("DataMountOf(%s) = %q anonymous %v, want %q %v", c.dir, dm, dm.Anonymous(), c.want, c.anon)
		}
	}
}

func TestStopGraceAndPause(t *testing.T) {
	if g := stateful.StopGracePeriod(spec(nil, nil)); g != 10*time.Second {
		t.Errorf("unset grace = %s, want Swarm's 10s", g)
	}
	if g := stateful.StopGracePeriod(spec(nil, dur(45*time.Second))); g != 45*time.Second {
		t.Errorf("grace = %s", g)
	}
	if p := PauseFor(45 * time.Second); p != 75*time.Second {
		t.Errorf("PauseFor(45s) = %s, want grace + 30s", p)
	}
	if p := PauseFor(0); p != 40*time.Second {
		t.Errorf("PauseFor(0) = %s", p)
	}
}

func TestNewAppendOnly(t *testing.T) {
	if NewAppendOnly(spec(nil, nil)) != nil {
		t.Error("no args: AOF unknown")
	}
	s := spec(nil, nil, "redis-server", "--appendonly", "yes")
	if v := NewAppendOnly(s); v == nil || !*v {
		t.Errorf("--appendonly yes: %v", v)
	}
}

func TestTaskStopped(t *testing.T) {
	for _, s := range []swarm.TaskState{swarm.TaskStateShutdown, swarm.TaskStateComplete, swarm.TaskStateFailed, swarm.TaskStateRejected, swarm.TaskStateOrphaned, swarm.TaskStateRemove} {
		if !TaskStopped(s) {
			t.Errorf("%s: stopped", s)
		}
	}
	for _, s := range []swarm.TaskState{swarm.TaskStateRunning, swarm.TaskStateStarting, swarm.TaskStatePreparing, swarm.TaskStateAssigned} {
		if TaskStopped(s) {
			t.Errorf("%s: not stopped", s)
		}
	}
}

func TestRollbackOutcome(t *testing.T) {
	named := spec([]mount.Mount{{Type: mount.TypeVolume, Source: "cache-data", Target: "/data"}}, nil)
	ok := &redisstate.Report{Before: "S1", BeforeKeys: 500, Verdict: "verified"}
	got := strings.Join(RollbackOutcome(named, "/data", ok, 3), "\n")
	for _, w := range []string{"restored the data", "volume cache-data on /data", "all 500 keys of snapshot S1 are back", "3 key(s) written after the cut"} {
		if !strings.Contains(got, w) {
			t.Errorf("outcome lacks %q:\n%s", w, got)
		}
	}
	anon := spec(nil, nil)
	failed := &redisstate.Report{Verdict: "failed", Reasons: []string{"500 key(s) of the cut are missing"}}
	got = strings.Join(RollbackOutcome(anon, "/data", failed, 0), "\n")
	if !strings.Contains(got, "NOT the data") || !strings.Contains(got, "cannot bring back an anonymous volume") {
		t.Errorf("anonymous volume outcome:\n%s", got)
	}
	got = strings.Join(RollbackOutcome(named, "/data", failed, 0), "\n")
	if !strings.Contains(got, "re-attached volume cache-data on /data, but the data is NOT all back: 500 key(s)") {
		t.Errorf("named volume, data not back:\n%s", got)
	}
	// issue 10 §16: the keys written after the cut are in the restored data
	// (the same named volume): no claim that they are lost
	back := &redisstate.Report{Before: "S1", BeforeKeys: 500, Verdict: "verified", Classes: map[string]*redisstate.ClassReport{redisstate.ClassNew: {Count: 3}}}
	if got := strings.Join(RollbackOutcome(named, "/data", back, 3), "\n"); strings.Contains(got, "written after the cut") || strings.Contains(got, "NOT") {
		t.Errorf("writes after the cut are back, yet: %s", got)
	}
	if got := strings.Join(RollbackOutcome(named, "/data", nil, 3), "\n"); !strings.Contains(got, "was not checked") || strings.Contains(got, "are not in") {
		t.Errorf("nothing checked after the rollback, yet: %s", got)
	}
	if got := strings.Join(RollbackOutcome(named, "/data", nil, 0), "\n"); !strings.Contains(got, "could not be checked") {
		t.Errorf("no report: %s", got)
	}
}

func TestThrottle(t *testing.T) {
	var b bytes.Buffer
	th := newThrottle(&b, time.Hour)
	th.say("a", "one")
	th.say("a", "two") // same kind, too soon
	th.say("b", "three")
	th.say("a", "four") // kind changed
	if got := b.String(); got != "one\nthree\nfour\n" {
		t.Errorf("throttle printed %q", got)
	}
}

// writeSummary stores an empty snapshot with sum's fields, as Store.Commit does
// (checksums included: a hand-written summary.json no longer loads).
func writeSummary(t *testing.T, dir string, sum redisstate.Summary) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "shards"), 0o700); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < redisstate.NumShards; i++ {
		os.WriteFile(filepath.Join(dir, "shards", fmt.Sprintf("%02x.bin", i)), nil, 0o600)
	}
	sum.Format = redisstate.ManifestFormat
	sum.Shards = make([]redisstate.ShardSum, redisstate.NumShards)
	st := &redisstate.Store{StateDir: filepath.Dir(filepath.Dir(dir))}
	if err := st.Commit(&redisstate.Snapshot{ID: sum.ID, Dir: dir}, &sum, ""); err != nil {
		t.Fatal(err)
	}
}

func TestNewChecksInputAndLatestCut(t *testing.T) {
	state := t.TempDir()
	if _, err := New(nil, Options{StateDir: state, RedisURL: "redis://:pw@h:1"}, nil); err == nil || strings.Contains(err.Error(), "pw") {
		t.Errorf("password in URL: err %v (must be refused, without echoing it)", err)
	}
	if _, err := New(nil, Options{StateDir: state, PasswordFile: filepath.Join(state, "nope")}, nil); err == nil || !strings.Contains(err.Error(), "--redis-password-file") {
		t.Errorf("missing password file: %v", err)
	}
	if _, err := New(nil, Options{StateDir: state, CACert: "ca.pem"}, nil); err == nil {
		t.Error("--redis-cacert without rediss:// URL accepted")
	}
	f, err := New(nil, Options{StateDir: state}, nil)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(state, "snapshots")
	cut := &redisstate.CutInfo{RunID: "r"}
	writeSummary(t, filepath.Join(root, "20261125T100000-aaaaaa"), redisstate.Summary{ID: "20261125T100000-aaaaaa", Service: "cache", Cut: cut})
	writeSummary(t, filepath.Join(root, "20261125T110000-bbbbbb"), redisstate.Summary{ID: "20261125T110000-bbbbbb", Service: "other", Cut: cut})
	writeSummary(t, filepath.Join(root, "20261125T120000-cccccc"), redisstate.Summary{ID: "20261125T120000-cccccc", Service: "cache"}) // an after-scan, no cut
	s, err := f.LatestCut("cache")
	if err != nil || s.ID != "20261125T100000-aaaaaa" {
		t.Errorf("LatestCut(cache) = %v, %v; want the newest snapshot taken at a cut", s, err)
	}
	if _, err := f.LatestCut("none"); err == nil || !strings.Contains(err.Error(), "docker stateful snapshot none") {
		t.Errorf("LatestCut(none): %v", err)
	}
}

// fakeAPI serves tasks whose states advance on every inspect.
type fakeAPI struct {
	API
	states  map[string][]swarm.TaskState
	svc     swarm.Service
	updates []swarm.ServiceUpdateOptions
	desired swarm.TaskState // of every task, "" = unknown
}

func (f *fakeAPI) TaskInspectWithRaw(_ context.Context, id string) (swarm.Task, []byte, error) {
	st, ok := f.states[id]
	if !ok {
		return swarm.Task{}, nil, cerrdefs.ErrNotFound.WithMessage("no such task")
	}
	s := st[0]
	if len(st) > 1 {
		f.states[id] = st[1:]
	}
	return swarm.Task{ID: id, DesiredState: f.desired, Status: swarm.TaskStatus{State: s}}, nil, nil
}

func (f *fakeAPI) ServiceInspectWithRaw(context.Context, string, swarm.ServiceInspectOptions) (swarm.Service, []byte, error) {
	return f.svc, nil, nil
}

func (f *fakeAPI) ServiceUpdate(_ context.Context, id string, v swarm.Version, s swarm.ServiceSpec, o swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error) {
	if v.Index != f.svc.Version.Index {
		return swarm.ServiceUpdateResponse{}, errors.New("out of sequence")
	}
	f.updates = append(f.updates, o)
	return swarm.ServiceUpdateResponse{}, nil
}

func TestWaitStopped(t *testing.T) {
	api := &fakeAPI{states: map[string][]swarm.TaskState{
		"old1": {swarm.TaskStateRunning, swarm.TaskStateRunning, swarm.TaskStateShutdown},
	}}
	var log bytes.Buffer
	f := &Flow{API: api, Log: &log}
	if err := f.WaitStopped(context.Background(), []string{"old1", "gone"}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "waiting for the old task to stop") || !strings.Contains(log.String(), "Old task stopped") {
		t.Errorf("progress:\n%s", log.String())
	}
	// desired state still running after NotReplacedAfter: not replaced
	defer func(d time.Duration) { NotReplacedAfter = d }(NotReplacedAfter)
	NotReplacedAfter = 300 * time.Millisecond
	api.states["kept"] = []swarm.TaskState{swarm.TaskStateRunning}
	api.desired = swarm.TaskStateRunning
	if err := f.WaitStopped(context.Background(), []string{"kept"}, 10*time.Second); !errors.Is(err, ErrNotReplaced) {
		t.Errorf("task kept running: %v, want ErrNotReplaced", err)
	}
	api.desired = swarm.TaskStateShutdown
	api.states["stuck"] = []swarm.TaskState{swarm.TaskStateRunning}
	if err := f.WaitStopped(context.Background(), []string{"stuck"}, 700*time.Millisecond); err == nil || !strings.Contains(err.Error(), "did not stop within") {
		t.Errorf("stuck task: %v", err)
	}
}

func TestRollbackSendsPrevious(t *testing.T) {
	prev := spec(nil, nil)
	api := &fakeAPI{svc: swarm.Service{ID: "id1", Meta: swarm.Meta{Version: swarm.Version{Index: 7}}, Spec: spec(nil, nil), PreviousSpec: &prev}}
	f := &Flow{API: api}
	if _, err := f.Rollback(context.Background(), "id1"); err != nil {
		t.Fatal(err)
	}
	if len(api.updates) != 1 || api.updates[0].Rollback != "previous" {
		t.Errorf("updates sent: %+v, want one with Rollback: previous", api.updates)
	}
	api.svc.PreviousSpec = nil
	if _, err := f.Rollback(context.Background(), "id1"); err == nil || !strings.Contains(err.Error(), "no previous spec") {
		t.Errorf("no previous spec: %v", err)
	}
}
