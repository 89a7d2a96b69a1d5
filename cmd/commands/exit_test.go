package commands

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/system"
	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/internal/redistest"
)

// redisService is a pinned service whose data directory is the one of a real
// redis-server on 127.0.0.1 (reached with --redis-url), with an image the
// guard knows nothing about: the guard allows a label change, and the
// preflight finds Redis' directory on the service's volume.
func redisService(t *testing.T) (*updateFakeAPI, string, *redis.Client) {
	t.Helper()
	addr, dir := redistest.Start(t)
	svc := updatePinnedRedis()
	svc.Spec.TaskTemplate.ContainerSpec.Image = "example/app"
	svc.Spec.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: "cache-data", Target: dir}}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	for _, k := range []string{"a", "b", "c"} {
		if err := rdb.Set(context.Background(), k, "v-"+k, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	return newUpdateFakeAPI(svc), "redis://" + addr, rdb
}

// verdictDoc is what every --format json of verify and update --verify has.
type verdictDoc struct {
	Verdict string `json:"verdict"`
	Error   string `json:"error"`
}

func runStateful(t *testing.T, api *updateFakeAPI, args ...string) (verdictDoc, string, int) {
	t.Helper()
	stdout, stderr, err := runOnAPI(t, api, NewRootCommand, args...)
	var doc verdictDoc
	if strings.Contains(strings.Join(args, " "), "--format json") {
		if jerr := json.Unmarshal([]byte(stdout), &doc); jerr != nil {
			t.Fatalf("%v: stdout is not a JSON document (%v): %q; stderr %s", args, jerr, stdout, stderr)
		}
	}
	return doc, stderr, updateStatus(err)
}

// TestExitStatusAndVerdicts: 2 when Redis cannot be reached (verify, and
// update --verify with nothing sent), 1 for a refused update and for data
// that is not verified, 0 for verified data; --format json prints a verdict
// document in every case.
func TestExitStatusAndVerdicts(t *testing.T) {
	api, url, rdb := redisService(t)
	state := t.TempDir()
	unreachable := "redis://127.0.0.1:1"

	doc, stderr, code := runStateful(t, api, "update", "--detach", "--verify", "--state-dir", state, "--redis-url", url, "--format", "json", "--label-add", "x=1", "cache")
	if code != 0 || doc.Verdict != "verified" || len(api.sent) != 1 {
		t.Fatalf("update --verify of intact data: exit %d, %+v, sent %d; stderr %s", code, doc, len(api.sent), stderr)
	}
	doc, _, code = runStateful(t, api, "verify", "--state-dir", state, "--redis-url", url, "--format", "json", "cache")
	if code != 0 || doc.Verdict != "verified" {
		t.Errorf("verify of intact data: exit %d, %+v", code, doc)
	}

	doc, stderr, code = runStateful(t, api, "update", "--detach", "--verify", "--state-dir", state, "--redis-url", unreachable, "--format", "json", "--label-add", "x=2", "cache")
	if code != 2 || doc.Verdict != "error" || !strings.Contains(doc.Error, "cannot reach Redis at 127.0.0.1:1") || len(api.sent) != 1 {
		t.Errorf("update --verify, Redis unreachable: exit %d, %+v, sent %d; want 2, an error verdict, nothing sent; stderr %s", code, doc, len(api.sent), stderr)
	}
	_, _, code = runStateful(t, api, "update", "--detach", "--verify", "--state-dir", state, "--redis-url", unreachable, "--label-add", "x=2", "cache")
	if code != 2 || len(api.sent) != 1 {
		t.Errorf("update --verify, Redis unreachable, text: exit %d, sent %d", code, len(api.sent))
	}
	doc, _, code = runStateful(t, api, "verify", "--state-dir", state, "--redis-url", unreachable, "--format", "json", "cache")
	if code != 2 || doc.Verdict != "error" || !strings.Contains(doc.Error, "cannot reach Redis") {
		t.Errorf("verify, Redis unreachable: exit %d, %+v", code, doc)
	}
	doc, _, code = runStateful(t, api, "verify", "--state-dir", state, "--redis-url", url, "--format", "json", "--against", "nosuch", "cache")
	if code != 2 || doc.Verdict != "error" || !strings.Contains(doc.Error, "--against nosuch") {
		t.Errorf("verify against an unknown snapshot: exit %d, %+v", code, doc)
	}

	doc, stderr, code = runStateful(t, api, "update", "--detach", "--verify", "--state-dir", state, "--redis-url", url, "--format", "json", "--constraint-rm", "node.id==node1", "cache")
	if code != 1 || doc.Verdict != "refused" || !strings.Contains(doc.Error, "refused: nothing was sent") || len(api.sent) != 1 {
		t.Errorf("refused update --verify: exit %d, %+v, sent %d; stderr %s", code, doc, len(api.sent), stderr)
	}
	if _, _, code = runStateful(t, api, "update", "--detach", "--constraint-rm", "node.id==node1", "cache"); code != 1 || len(api.sent) != 1 {
		t.Errorf("refused update: exit %d, sent %d", code, len(api.sent))
	}

	if err := rdb.Set(context.Background(), "b", "changed", 0).Err(); err != nil {
		t.Fatal(err)
	}
	doc, _, code = runStateful(t, api, "verify", "--state-dir", state, "--redis-url", url, "--format", "json", "cache")
	if code != 1 || doc.Verdict != "failed" || !strings.Contains(doc.Error, "not verified") {
		t.Errorf("verify of changed data: exit %d, %+v", code, doc)
	}
	stdout, _, err := runOnAPI(t, api, NewRootCommand, "verify", "--state-dir", state, "--redis-url", url, "cache")
	if updateStatus(err) != 1 || !strings.Contains(stdout, "CHANGED") {
		t.Errorf("verify of changed data, text: exit %d, %s", updateStatus(err), stdout)
	}
}

// TestVersionDaemonUnreachable: version still prints the client, and exits
// 2 (could not decide) when the daemon does not answer.
func TestVersionDaemonUnreachable(t *testing.T) {
	api := newUpdateFakeAPI(updatePinnedRedis())
	api.infoFunc = func() (system.Info, error) { return system.Info{}, errors.New("Cannot connect to the Docker daemon") }
	stdout, _, err := runOnAPI(t, api, NewRootCommand, "version", "--format", "json")
	var v struct {
		Client      struct{ Version string } `json:"client"`
		ServerError string                   `json:"server_error"`
	}
	if jerr := json.Unmarshal([]byte(stdout), &v); jerr != nil || updateStatus(err) != 2 || v.ServerError == "" {
		t.Errorf("exit %d (%v), %+v (%v); want 2 and the server error in the JSON", updateStatus(err), err, v, jerr)
	}
}
