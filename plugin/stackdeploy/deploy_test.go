package stackdeploy

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/docker/cli/cli"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/createspec"
	"github.com/docker-stateful/docker-stateful/plugin/intercept"
)

// tableJudge answers from a table: the names it refuses.
type tableJudge struct{ refuse map[string]bool }

func (j tableJudge) verdict(name string, force bool) Service {
	s := Service{Name: name, Action: ActionUpdate, Verdict: VerdictAllowed}
	if j.refuse[name] {
		s.Verdict, s.Problems = VerdictRefused, []Problem{{Code: "x", Message: name + " would lose its data"}}
		if force {
			s.Verdict = VerdictForced
		}
	}
	return s
}

func (j tableJudge) Create(_ context.Context, spec swarm.ServiceSpec) (Service, *createspec.Result) {
	s := j.verdict(spec.Name, false)
	s.Action = ActionCreate
	return s, nil
}

func (j tableJudge) Update(_ context.Context, current swarm.Service, _ *swarm.ServiceSpec, force bool) Service {
	return j.verdict(current.Spec.Name, force)
}

// fakeDocker stands for docker's deploy of a stack of one created service
// and two updated ones: it calls the client's hooks as intercept does and
// records what it would have sent.
type fakeDocker struct {
	c      *intercept.Cli
	passes []bool
	sent   []string
}

func (f *fakeDocker) run(send bool) error {
	f.passes = append(f.passes, send)
	ctx := context.Background()
	if err := f.c.BeforeCreate(ctx, &swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "app_web"}}, nil); err != nil {
		return err
	}
	if send {
		f.sent = append(f.sent, "app_web")
	}
	for _, name := range []string{"app_db", "app_cache"} {
		cur := swarm.Service{ID: name, Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: name}}}
		if err := f.c.BeforeUpdate(ctx, cur, &swarm.ServiceSpec{}, nil); err != nil {
			return err
		}
		if send {
			f.sent = append(f.sent, name)
			if f.c.AfterSend != nil {
				f.c.AfterSend(ctx, name)
			}
		}
	}
	return nil
}

func newDeploy(refuse ...string) (*Deploy, *fakeDocker, *bytes.Buffer) {
	j := tableJudge{refuse: map[string]bool{}}
	for _, n := range refuse {
		j.refuse[n] = true
	}
	f := &fakeDocker{c: &intercept.Cli{}}
	var errOut bytes.Buffer
	d := &Deploy{Stack: "app", Out: &bytes.Buffer{}, Err: &errOut, Client: f.c, RunDocker: f.run, Judge: j,
		WritePlan: func(p *Plan) error { return p.WriteText(&errOut) }}
	return d, f, &errOut
}

func exitStatus(err error) int {
	var se cli.StatusError
	if errors.As(err, &se) {
		return se.StatusCode
	}
	return -1
}

// All or nothing: one refused service and nothing of the stack is sent
// (the judging pass only), every refused service named.
func TestDeployRefusedSendsNothing(t *testing.T) {
	d, f, errOut := newDeploy("app_cache")
	err := d.Run()
	if exitStatus(err) != 1 || !strings.Contains(err.Error(), "refused (app_cache)") {
		t.Fatalf("err %v, want exit status 1 naming app_cache", err)
	}
	if len(f.passes) != 1 || f.passes[0] || len(f.sent) != 0 {
		t.Fatalf("passes %v, sent %v: want the judging pass only, nothing sent", f.passes, f.sent)
	}
	if !strings.Contains(errOut.String(), "refused: service app_cache: app_cache would lose its data") {
		t.Fatalf("stderr %q", errOut)
	}
}

// --force sends the whole stack, with a warning per overridden problem.
func TestDeployForceSendsWithWarnings(t *testing.T) {
	d, f, errOut := newDeploy("app_cache")
	d.Force = true
	if err := d.Run(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"app_web", "app_db", "app_cache"}; strings.Join(f.sent, ",") != strings.Join(want, ",") {
		t.Fatalf("sent %v, want %v", f.sent, want)
	}
	if !strings.Contains(errOut.String(), "warning: --force overrides: service app_cache") {
		t.Fatalf("stderr %q", errOut)
	}
}

// --dry-run prints the plan and sends nothing; exit status 1 when refused.
func TestDeployDryRun(t *testing.T) {
	for _, refuse := range [][]string{nil, {"app_db"}} {
		d, f, out := newDeploy(refuse...)
		d.DryRun = true
		err := d.Run()
		if want := map[bool]int{true: -1, false: 1}[refuse == nil]; exitStatus(err) != want || (refuse == nil && err != nil) {
			t.Fatalf("refuse %v: err %v", refuse, err)
		}
		if len(f.passes) != 1 || len(f.sent) != 0 || !strings.Contains(out.String(), "Dry run: deploy of stack app") {
			t.Fatalf("refuse %v: passes %v sent %v out %q", refuse, f.passes, f.sent, out)
		}
	}
}

// recVerifier records the calls --verify gets.
type recVerifier struct{ calls []string }

func (v *recVerifier) Before(_ context.Context, current swarm.Service, _ *swarm.ServiceSpec, _ Service) error {
	v.calls = append(v.calls, "before "+current.Spec.Name)
	return nil
}
func (v *recVerifier) AfterSend(_ context.Context, id string) { v.calls = append(v.calls, "sent "+id) }
func (v *recVerifier) Abandon()                               { v.calls = append(v.calls, "abandon") }
func (v *recVerifier) Summary(string) error                   { v.calls = append(v.calls, "summary"); return nil }

// The verifier sees each update of the second pass only, one service
// after the other, then the summary.
func TestDeployVerifierOnTheSecondPass(t *testing.T) {
	d, _, _ := newDeploy()
	v := &recVerifier{}
	d.Verifier = v
	if err := d.Run(); err != nil {
		t.Fatal(err)
	}
	want := "before app_db,sent app_db,before app_cache,sent app_cache,abandon,summary"
	if got := strings.Join(v.calls, ","); got != want {
		t.Fatalf("verifier calls %s, want %s", got, want)
	}
}
