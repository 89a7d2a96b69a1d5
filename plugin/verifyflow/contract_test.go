package verifyflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/internal/redistest"
	"github.com/docker-stateful/docker-stateful/plugin/exitcode"
	"github.com/docker-stateful/docker-stateful/plugin/mysqlstate"
	"github.com/docker-stateful/docker-stateful/plugin/mysqlstate/mysqltest"
	"github.com/docker-stateful/docker-stateful/plugin/pgstate/pgtest"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// The contract suite (issue 19 §4): the same scenarios, through the one entry
// the commands use (EngineUpdate), against every engine, each on a real server
// (redis-server, PostgreSQL) and a fake Swarm (one service, one running task
// on one node).

// swarmFake is one service with one running task ("t1") on one node ("n1").
// The test plays docker's part: send() makes the service as an update leaves
// it, and the old task stops.
type swarmFake struct {
	API
	mu        sync.Mutex
	svc       swarm.Service
	node      swarm.Node
	stopped   bool                         // the old task has stopped (the update was sent)
	rollbacks []swarm.ServiceUpdateOptions // rollbacks sent
}

func newSwarmFake(svc swarm.Service) *swarmFake {
	return &swarmFake{svc: svc, node: swarm.Node{ID: "n1", Description: swarm.NodeDescription{Hostname: "node1"},
		Spec: swarm.NodeSpec{Availability: swarm.NodeAvailabilityActive}, Status: swarm.NodeStatus{State: swarm.NodeStateReady}}}
}

func (f *swarmFake) task() swarm.Task {
	t := swarm.Task{ID: "t1", NodeID: "n1", ServiceID: f.svc.ID, DesiredState: swarm.TaskStateRunning, Status: swarm.TaskStatus{State: swarm.TaskStateRunning}}
	if f.stopped {
		t.DesiredState, t.Status.State = swarm.TaskStateShutdown, swarm.TaskStateShutdown
	}
	return t
}

func (f *swarmFake) TaskList(context.Context, swarm.TaskListOptions) ([]swarm.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return nil, nil
	}
	return []swarm.Task{f.task()}, nil
}

func (f *swarmFake) TaskInspectWithRaw(_ context.Context, id string) (swarm.Task, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id != "t1" {
		return swarm.Task{}, nil, cerrdefs.ErrNotFound.WithMessage("no such task")
	}
	return f.task(), nil, nil
}

func (f *swarmFake) NodeInspectWithRaw(context.Context, string) (swarm.Node, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.node, nil, nil
}

func (f *swarmFake) ServiceInspectWithRaw(context.Context, string, swarm.ServiceInspectOptions) (swarm.Service, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.svc, nil, nil
}

func (f *swarmFake) ServiceUpdate(_ context.Context, _ string, v swarm.Version, _ swarm.ServiceSpec, o swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v.Index != f.svc.Version.Index {
		return swarm.ServiceUpdateResponse{}, errors.New("update out of sequence")
	}
	f.rollbacks = append(f.rollbacks, o)
	return swarm.ServiceUpdateResponse{}, nil
}

// send makes the service as the update of next leaves it.
func (f *swarmFake) send(next swarm.ServiceSpec) {
	f.mu.Lock()
	defer f.mu.Unlock()
	prev := f.svc.Spec
	f.svc.PreviousSpec, f.svc.Spec = &prev, next
	f.svc.Version.Index++
	f.stopped = stateful.ReplacesTasks(prev, next)
}

// someoneElse updates the service after this run's update.
func (f *swarmFake) someoneElse() {
	f.mu.Lock()
	defer f.mu.Unlock()
	prev := f.svc.Spec
	next := prev
	next.Labels = map[string]string{"by": "someone else"}
	f.svc.PreviousSpec, f.svc.Spec = &prev, next
	f.svc.Version.Index++
}

func (f *swarmFake) sentRollbacks() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.rollbacks)
}

// contractServer is one engine's real server, as a service runs it.
type contractServer struct {
	engine string
	svc    swarm.Service // the running service: its image and data mount
	opt    Options
	pg     PGOptions
	my     MYOptions
	// writable: a client can write now (not paused, not read-only).
	writable func(t *testing.T) bool
}

func redisServer(t *testing.T) contractServer {
	addr, dir := redistest.Start(t)
	svc := swarm.Service{ID: "id1", Spec: spec([]mount.Mount{{Type: mount.TypeVolume, Source: "cache-data", Target: dir}}, dur(200*time.Millisecond))}
	svc.Spec.Name = "cache"
	svc.Spec.TaskTemplate.ContainerSpec.Image = "redis:7"
	return contractServer{engine: EngineRedis, svc: svc,
		opt: Options{RedisURL: "redis://" + addr, Getenv: func(string) string { return "" }},
		writable: func(t *testing.T) bool {
			return writeTakes(t, addr, 1500*time.Millisecond) < 700*time.Millisecond
		}}
}

func pgServer(t *testing.T) contractServer {
	s := pgtest.StartT(t)
	ctx := context.Background()
	conn, err := s.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := pgtest.Exec(ctx, conn, pgtest.Dataset(200)...); err != nil {
		t.Fatal(err)
	}
	svc := swarm.Service{ID: "id1", Spec: spec([]mount.Mount{{Type: mount.TypeVolume, Source: "db-data", Target: s.Data}}, dur(200*time.Millisecond))}
	svc.Spec.Name = "db"
	svc.Spec.TaskTemplate.ContainerSpec.Image = "postgres:15"
	return contractServer{engine: EnginePostgres, svc: svc,
		opt: Options{Getenv: func(k string) string {
			if k == "PGPASSWORD" {
				return s.Password
			}
			return ""
		}},
		pg:       PGOptions{URL: s.URL("postgres", "postgres")},
		writable: func(t *testing.T) bool { return !pgReadOnly(t, s) }}
}

var contractEngines = []struct {
	name  string
	start func(t *testing.T) contractServer
}{
	{EngineRedis, redisServer},
	// the cut through the server's snapshot for a replica (--verify-cut replication)
	{EngineRedis + "-replication-cut", func(t *testing.T) contractServer {
		cs := redisServer(t)
		cs.opt.StreamCut = true
		return cs
	}},
	{EnginePostgres, pgServer},
	{EngineMariaDB, mariadbServer},
}

func mariadbServer(t *testing.T) contractServer {
	s := mysqltest.Start(t)
	o, err := mysqlstate.ParseURL("mysql://root@" + s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	o.Password = mysqltest.Password
	c, err := mysqlstate.NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	for _, q := range []string{"CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))",
		"INSERT INTO app.t VALUES (1,'a'),(2,'b'),(3,'c')", "CREATE TABLE app.nopk (v TEXT)", "INSERT INTO app.nopk VALUES ('x'),('x')"} {
		if _, err := c.DB().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	svc := swarm.Service{ID: "id1", Spec: spec([]mount.Mount{{Type: mount.TypeVolume, Source: "db-data", Target: s.Dir + "/data"}}, dur(200*time.Millisecond))}
	svc.Spec.Name = "db"
	svc.Spec.TaskTemplate.ContainerSpec.Image = "mariadb:10.11"
	return contractServer{engine: EngineMariaDB, svc: svc,
		opt: Options{Getenv: func(k string) string {
			if k == "MYSQL_PWD" {
				return mysqltest.Password
			}
			return ""
		}},
		my: MYOptions{URL: "mysql://root@" + s.Addr()},
		writable: func(t *testing.T) bool {
			wctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := c.DB().ExecContext(wctx, "INSERT INTO app.nopk VALUES ('probe')")
			return err == nil && time.Since(start) < 700*time.Millisecond
		}}
}

// contractRun is one update --verify of the server's service.
type contractRun struct {
	u           *EngineUpdate
	log, report *bytes.Buffer
	api         *swarmFake
}

func (cs contractServer) newRun(t *testing.T, api *swarmFake, opt UpdateOptions, timeout time.Duration) *contractRun {
	t.Helper()
	var log, report bytes.Buffer
	o := cs.opt
	o.StateDir, o.Timeout, o.ConnectTimeout = t.TempDir(), timeout, 5*time.Second
	f, err := New(api, o, &log)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := f.PG(cs.pg)
	if err != nil {
		t.Fatal(err)
	}
	mf, err := f.MySQL(cs.my)
	if err != nil {
		t.Fatal(err)
	}
	converge := func(context.Context, string) error { return nil }
	return &contractRun{api: api, log: &log, report: &report, u: &EngineUpdate{
		Redis: &Update{Flow: f, Opt: opt, Report: &report, Converge: converge},
		PG:    &PGUpdate{Flow: pf, Opt: opt, Report: &report, Converge: converge},
		MY:    &MYUpdate{Flow: mf, Opt: opt, Report: &report, Converge: converge},
	}}
}

// replacing is a spec whose update replaces the task; relabelled one whose
// update does not.
func replacing(s swarm.ServiceSpec) swarm.ServiceSpec {
	s.TaskTemplate.Resources = &swarm.ResourceRequirements{Limits: &swarm.Limit{MemoryBytes: 1 << 30}}
	return s
}

func relabelled(s swarm.ServiceSpec) swarm.ServiceSpec {
	s.Labels = map[string]string{"release": fmt.Sprint(time.Now().UnixNano())}
	return s
}

// outcome is the run's --format json document, decoded.
func (r *contractRun) outcome(t *testing.T, err error) map[string]any {
	t.Helper()
	b, merr := json.Marshal(r.u.Outcome(r.api.svc.Spec.Name, err))
	if merr != nil {
		t.Fatal(merr)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestContract(t *testing.T) {
	for _, eng := range contractEngines {
		t.Run(eng.name, func(t *testing.T) {
			cs := eng.start(t)
			ctx := context.Background()

			t.Run("pin node not ready: refused, nothing cut", func(t *testing.T) {
				for _, c := range []struct {
					state swarm.NodeState
					avail swarm.NodeAvailability
				}{{swarm.NodeStateReady, swarm.NodeAvailabilityDrain}, {swarm.NodeStateDown, swarm.NodeAvailabilityActive}} {
					api := newSwarmFake(cs.svc)
					api.node.Status.State, api.node.Spec.Availability = c.state, c.avail
					r := cs.newRun(t, api, UpdateOptions{}, 5*time.Second)
					next := replacing(cs.svc.Spec)
					err := r.u.Before(ctx, cs.svc, &next)
					r.u.Abandon()
					var nr *NodeNotReady
					if exitcode.Code(err) != exitcode.No || !errors.As(err, &nr) || !strings.Contains(err.Error(), "not sent") {
						t.Errorf("node %s/%s: %v (exit %d), want refused (1), not sent, NodeNotReady\n%s", c.state, c.avail, err, exitcode.Code(err), r.log)
					}
					if doc := r.outcome(t, err); doc["verdict"] != VerdictRefused || doc["engine"] != cs.engine {
						t.Errorf("node %s/%s: document %v, want verdict refused, engine %s", c.state, c.avail, doc, cs.engine)
					}
					if !cs.writable(t) {
						t.Fatalf("node %s/%s: writes are held after the refusal\n%s", c.state, c.avail, r.log)
					}
				}
			})

			t.Run("second cut on one server refused", func(t *testing.T) {
				api := newSwarmFake(cs.svc)
				first := cs.newRun(t, api, UpdateOptions{}, 5*time.Second)
				next := relabelled(cs.svc.Spec)
				if err := first.u.Before(ctx, cs.svc, &next); err != nil {
					t.Fatalf("first: %v\n%s", err, first.log)
				}
				second := cs.newRun(t, api, UpdateOptions{}, 5*time.Second)
				err := second.u.Before(ctx, cs.svc, &next)
				second.u.Abandon()
				if exitcode.Code(err) != exitcode.No || !strings.Contains(err.Error(), "another docker stateful run holds a cut") {
					t.Errorf("second: %v (exit %d), want refused (1): another run holds a cut\n%s", err, exitcode.Code(err), second.log)
				}
				if cs.writable(t) {
					t.Errorf("the refused second cut released the first one's hold on writes\n%s", second.log)
				}
				first.u.Abandon()
				if !cs.writable(t) {
					t.Fatalf("writes are held after the first run abandoned its cut\n%s", first.log)
				}
			})

			t.Run("rollback only over our own update", func(t *testing.T) {
				for _, other := range []bool{false, true} {
					api := newSwarmFake(cs.svc)
					r := cs.newRun(t, api, UpdateOptions{}, 5*time.Second)
					next := relabelled(cs.svc.Spec)
					if err := r.u.Before(ctx, cs.svc, &next); err != nil {
						t.Fatalf("Before: %v\n%s", err, r.log)
					}
					api.send(next)
					r.u.AfterSend(ctx, cs.svc.ID)
					if other {
						api.someoneElse()
					}
					r.u.ConvergeFailed(errors.New("update paused"))
					err := r.u.After(ctx, cs.svc.ID)
					r.u.Abandon()
					doc := r.outcome(t, err)
					switch {
					case exitcode.Code(err) != exitcode.No:
						t.Errorf("someone else %v: %v (exit %d), want 1\n%s", other, err, exitcode.Code(err), r.log)
					case other && (api.sentRollbacks() != 0 || !strings.Contains(err.Error(), "not rolling back over it") || doc["rolled_back"] != false):
						t.Errorf("updated by someone else since: %d rollback(s) sent, %v, rolled_back %v; want none\n%s", api.sentRollbacks(), err, doc["rolled_back"], r.log)
					case !other && (api.sentRollbacks() != 1 || doc["rolled_back"] != true):
						t.Errorf("our update, not converged: %d rollback(s) sent, rolled_back %v; want one\n%s", api.sentRollbacks(), doc["rolled_back"], r.log)
					}
					if !cs.writable(t) {
						t.Fatalf("writes are held after the run\n%s", r.log)
					}
				}
			})

			t.Run("interrupted before sending", func(t *testing.T) {
				api := newSwarmFake(cs.svc)
				r := cs.newRun(t, api, UpdateOptions{}, 5*time.Second)
				cctx, cancel := context.WithCancel(ctx)
				cancel()
				next := relabelled(cs.svc.Spec)
				err := r.u.Before(cctx, cs.svc, &next)
				r.u.Abandon()
				if exitcode.Code(err) != exitcode.Interrupted || !strings.Contains(err.Error(), "not sent") {
					t.Errorf("%v (exit %d), want 130, not sent", err, exitcode.Code(err))
				}
				if doc := r.outcome(t, err); doc["verdict"] != VerdictError {
					t.Errorf("verdict %v, want error", doc["verdict"])
				}
				if !cs.writable(t) {
					t.Fatalf("writes are held after Ctrl-C before sending\n%s", r.log)
				}
			})

			t.Run("interrupted after sending", func(t *testing.T) {
				api := newSwarmFake(cs.svc)
				r := cs.newRun(t, api, UpdateOptions{}, 5*time.Second)
				next := relabelled(cs.svc.Spec)
				if err := r.u.Before(ctx, cs.svc, &next); err != nil {
					t.Fatalf("Before: %v\n%s", err, r.log)
				}
				api.send(next)
				r.u.AfterSend(ctx, cs.svc.ID)
				cctx, cancel := context.WithCancel(ctx)
				cancel()
				err := r.u.After(cctx, cs.svc.ID)
				r.u.Abandon()
				if exitcode.Code(err) != exitcode.Interrupted || api.sentRollbacks() != 0 || !strings.Contains(err.Error(), "docker stateful verify --against") {
					t.Errorf("%v (exit %d), %d rollback(s) sent; want 130, none, the command to check later", err, exitcode.Code(err), api.sentRollbacks())
				}
				if !cs.writable(t) {
					t.Fatalf("writes are held after Ctrl-C after sending\n%s", r.log)
				}
			})

			t.Run("never converging: bounded and rolled back", func(t *testing.T) {
				api := newSwarmFake(cs.svc)
				r := cs.newRun(t, api, UpdateOptions{}, 2*time.Second)
				wait := r.u.BoundWait(ctx) // docker's convergence wait
				next := relabelled(cs.svc.Spec)
				if err := r.u.Before(ctx, cs.svc, &next); err != nil {
					t.Fatalf("Before: %v\n%s", err, r.log)
				}
				api.send(next)
				r.u.AfterSend(ctx, cs.svc.ID)
				select {
				case <-wait.Done():
				case <-time.After(15 * time.Second):
					t.Fatalf("docker's convergence wait was not cut within 15 s (grace 200ms + --verify-timeout 2s)\n%s", r.log)
				}
				r.u.ConvergeFailed(wait.Err())
				err := r.u.After(ctx, cs.svc.ID)
				r.u.Abandon()
				if exitcode.Code(err) != exitcode.No || api.sentRollbacks() != 1 || !strings.Contains(err.Error(), "did not converge") {
					t.Errorf("%v (exit %d), %d rollback(s) sent; want 1, one rollback, did not converge\n%s", err, exitcode.Code(err), api.sentRollbacks(), r.log)
				}
				if !cs.writable(t) {
					t.Fatalf("writes are held after the run\n%s", r.log)
				}
			})

			t.Run("verified: timeline and write pause in text and JSON", func(t *testing.T) {
				api := newSwarmFake(cs.svc)
				r := cs.newRun(t, api, UpdateOptions{}, 5*time.Second)
				next := relabelled(cs.svc.Spec)
				if err := r.u.Before(ctx, cs.svc, &next); err != nil {
					t.Fatalf("Before: %v\n%s", err, r.log)
				}
				api.send(next)
				r.u.AfterSend(ctx, cs.svc.ID)
				err := r.u.After(ctx, cs.svc.ID)
				r.u.Abandon()
				if err != nil || exitcode.Code(err) != exitcode.OK {
					t.Fatalf("%v (exit %d), want 0\n%s\n%s", err, exitcode.Code(err), r.log, r.report)
				}
				doc := r.outcome(t, err)
				for _, k := range []string{"service", "engine", "snapshot", "warnings", "report", "rolled_back", "phases", "write_pause_ms", "verdict"} {
					if _, ok := doc[k]; !ok {
						t.Errorf("the JSON document has no %q: %v", k, doc)
					}
				}
				if doc["engine"] != cs.engine || doc["verdict"] != VerdictVerified {
					t.Errorf("engine %v, verdict %v; want %s, verified", doc["engine"], doc["verdict"], cs.engine)
				}
				if ph, _ := doc["phases"].([]any); len(ph) < 2 {
					t.Errorf("phases %v: want the steps of the run", doc["phases"])
				}
				if cs.opt.StreamCut && (!strings.Contains(r.log.String(), "the server's snapshot at its fork") || doc["snapshot"] == "") {
					t.Errorf("--verify-cut replication: the cut was not taken through the server's snapshot (snapshot %v)\n%s", doc["snapshot"], r.log)
				}
				if wp, _ := doc["write_pause_ms"].(map[string]any); wp == nil || wp["old_process"] == nil || wp["new_process"] == nil {
					t.Errorf("write_pause_ms %v: want old_process and new_process", doc["write_pause_ms"])
				}
				if !strings.Contains(r.report.String(), "Timing (ms from the start") || !strings.Contains(r.report.String(), "Writes held:") {
					t.Errorf("the text report has no timeline or write pause:\n%s", r.report)
				}
				if !cs.writable(t) {
					t.Fatalf("writes are held after a verified run\n%s", r.log)
				}
			})

			t.Run("server unreachable before: exit 2, nothing sent", func(t *testing.T) {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				closed := l.Addr().String()
				l.Close()
				down := cs
				switch cs.engine {
				case EngineRedis:
					down.opt.RedisURL = "redis://" + closed
				case EngineMariaDB:
					down.my.URL = "mysql://root@" + closed
				default:
					down.pg.URL = "postgres://postgres@" + closed + "/postgres?sslmode=disable"
				}
				api := newSwarmFake(cs.svc)
				r := down.newRun(t, api, UpdateOptions{}, 2*time.Second)
				next := relabelled(cs.svc.Spec)
				err = r.u.Before(ctx, cs.svc, &next)
				r.u.Abandon()
				if exitcode.Code(err) != exitcode.Undecided || !strings.Contains(err.Error(), "not sent") {
					t.Errorf("%v (exit %d), want 2, not sent", err, exitcode.Code(err))
				}
				if doc := r.outcome(t, err); doc["verdict"] != VerdictError || doc["engine"] != cs.engine {
					t.Errorf("document %v, want verdict error, engine %s", doc, cs.engine)
				}
			})
		})
	}
}
