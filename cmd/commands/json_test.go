package commands

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"
)

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// dataMaps are the objects of the reports whose keys are data, not names:
// key classes (MISSING, TTL-CHANGED) and Redis types.
var dataMaps = map[string]bool{"classes": true, "types": true}

// walkKeys calls bad for every object key under v, at path, that is not
// snake_case.
func walkKeys(v any, path string, bad func(string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			p := path + "." + k
			if !dataMaps[lastKey(path)] && !snakeCase.MatchString(k) {
				bad(p)
			}
			walkKeys(e, p, bad)
		}
	case []any:
		for _, e := range v {
			walkKeys(e, path+"[]", bad)
		}
	}
}

func lastKey(path string) string { return path[strings.LastIndex(path, ".")+1:] }

// TestJSONKeysAreSnakeCase: every key of docker-stateful's own reports
// (update --dry-run, update --verify, verify, snapshot, version) is
// snake_case, and a template sees the same names as the JSON.
func TestJSONKeysAreSnakeCase(t *testing.T) {
	api, url, _ := redisService(t)
	api.infoFunc = func() (system.Info, error) {
		return system.Info{Name: "node1", ServerVersion: "28.5.2", Swarm: swarm.Info{NodeID: "id1", LocalNodeState: swarm.LocalNodeStateActive}}, nil
	}
	state := t.TempDir()
	for _, args := range [][]string{
		{"update", "--dry-run", "--format", "json", "--constraint-rm", "node.id==node1", "--limit-memory", "1G", "cache"},
		{"update", "--detach", "--verify", "--state-dir", state, "--redis-url", url, "--format", "json", "--label-add", "x=1", "cache"},
		{"verify", "--state-dir", state, "--redis-url", url, "--format", "json", "cache"},
		{"verify", "--state-dir", state, "--redis-url", "redis://127.0.0.1:1", "--format", "json", "cache"},
		{"snapshot", "--state-dir", state, "--redis-url", url, "--format", "json", "cache"},
		{"version", "--format", "json"},
	} {
		stdout, stderr, _ := runOnAPI(t, api, NewRootCommand, args...)
		var doc map[string]any
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil || len(doc) == 0 {
			t.Errorf("%v: not a JSON object (%v): %q, stderr %s", args, err, stdout, stderr)
			continue
		}
		walkKeys(doc, "", func(p string) { t.Errorf("%v: key %s is not snake_case", args[:2], p) })
	}
	// the reports nest what the check needs to see: a problem, a report
	stdout, _, _ := runOnAPI(t, api, NewRootCommand, "update", "--dry-run", "--format", "{{(index .problems 0).code}} {{len .data_paths}}", "--constraint-rm", "node.id==node1", "cache")
	if got := strings.TrimSpace(stdout); got != "pin 1" {
		t.Errorf("template over the dry run's JSON names = %q, want %q", got, "pin 1")
	}
	stdout, _, _ = runOnAPI(t, api, NewRootCommand, "verify", "--state-dir", state, "--redis-url", url, "--format", "{{.verdict}} {{.report.before_keys}}", "cache")
	if got := strings.TrimSpace(stdout); got != "verified 3" {
		t.Errorf("template over verify's JSON names = %q, want %q", got, "verified 3")
	}
	if stdout, _, _ = runOnAPI(t, api, NewRootCommand, "version", "--format", "{{.server.swarm_node_id}}"); strings.TrimSpace(stdout) != "id1" {
		t.Errorf("version --format {{.server.swarm_node_id}} = %q", stdout)
	}
}
