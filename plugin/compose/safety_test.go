package compose

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var fixAll = []Fix{{Service: "db", Changes: []string{
	"stop_grace_period: 30s",
	"volumes: db-data:/data",
	"deploy.placement.constraints: node.id==abc123",
}}}

// Each file here would have come out of --fix meaning something else than
// the original plus our additions (issue 20 item 10): refused, naming the line.
func TestApplyRefusesWhatWouldChangeMeaning(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		fixes      []Fix
		want       string
	}{
		{"merge key brings deploy", `x-defaults: &defaults
  deploy:
    resources:
      limits:
        memory: 100M
services:
  db:
    <<: *defaults
    image: redis
`, []Fix{{Service: "db", Changes: []string{"deploy.placement.constraints: node.id==abc"}}}, "merges deploy: from line 2"},
		{"merge key brings volumes", `x-defaults: &defaults
  volumes:
    - ./conf:/etc/redis
services:
  db:
    <<: [*defaults]
    image: redis
`, []Fix{{Service: "db", Changes: []string{"volumes: db-data:/data"}}}, "merges volumes: from line 2"},
		{"anchored deploy aliased elsewhere", `services:
  db:
    image: redis
    deploy: &dep
      update_config:
        order: stop-first
  other:
    image: redis
    deploy: *dep
`, []Fix{{Service: "db", Changes: []string{"deploy.placement.constraints: node.id==abc"}}}, "line 4 defines anchor &dep"},
		{"anchored service aliased elsewhere", `services:
  db: &base
    image: redis
  other: *base
`, []Fix{{Service: "db", Changes: []string{"stop_grace_period: 30s"}}}, "anchor &base"},
		{"several documents", `services:
  db:
    image: redis
---
services:
  web:
    image: nginx
`, fixAll, "several YAML documents (the second starts at line 4)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Apply([]byte(tc.file), tc.fixes)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one naming %q; output:\n%s", err, tc.want, out)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("refusal is not one line: %q", err)
			}
		})
	}
}

// A merge key that does not bring what --fix adds is no obstacle, and an
// anchor nobody aliases neither.
func TestApplyMergeKeyElsewhere(t *testing.T) {
	in := `x-logging: &logging
  logging:
    driver: json-file
services:
  db: &db
    <<: *logging
    image: redis
`
	out, err := Apply([]byte(in), fixAll)
	if err != nil {
		t.Fatal(err)
	}
	stackConfigEqual(t, in, out, addAll)
}

// An anonymous volume already on the data path is named, not doubled (swarm
// refuses two mounts on one target).
func TestApplyNamesAnAnonymousVolume(t *testing.T) {
	for _, in := range []string{`services:
  db:
    image: redis
    volumes:
      - ./conf:/etc/redis
      - /data
`, `services:
  db:
    image: redis
    volumes:
      - ./conf:/etc/redis
      - type: volume
        target: /data
`} {
		out, err := Apply([]byte(in), fixAll)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(out), "/data"); n != 1 {
			t.Errorf("%d mounts on /data in:\n%s", n, out)
		}
		stackConfigEqual(t, in, out, func(t *testing.T, cfg map[string]any) {
			db := service(t, cfg, "db")
			vols := db["volumes"].([]any)
			for i, v := range vols {
				m := v.(map[string]any)
				if m["target"] == "/data" {
					m["source"] = "db-data"
					vols[i] = m
				}
			}
			addGraceAndPin(db)
			cfg["volumes"] = map[string]any{"db-data": map[string]any{}}
		})
	}
}

// addAll is what fixAll adds to a file whose db service has no volumes.
func addAll(t *testing.T, cfg map[string]any) {
	db := service(t, cfg, "db")
	db["volumes"] = []any{map[string]any{"type": "volume", "source": "db-data", "target": "/data"}}
	addGraceAndPin(db)
	cfg["volumes"] = map[string]any{"db-data": map[string]any{}}
}

func addGraceAndPin(db map[string]any) {
	db["stop_grace_period"] = "30s"
	deploy, _ := db["deploy"].(map[string]any)
	if deploy == nil {
		deploy = map[string]any{}
	}
	deploy["placement"] = map[string]any{"constraints": []any{"node.id==abc123"}}
	db["deploy"] = deploy
}

func service(t *testing.T, cfg map[string]any, name string) map[string]any {
	t.Helper()
	svcs, _ := cfg["services"].(map[string]any)
	s, _ := svcs[name].(map[string]any)
	if s == nil {
		t.Fatalf("no service %s in %v", name, cfg)
	}
	return s
}

// stackConfigEqual checks with docker's own parser that the fixed file means
// the original plus exactly our additions: `docker stack config` of fixed
// equals that of orig once add has made the additions to it.
func stackConfigEqual(t *testing.T, orig string, fixed []byte, add func(*testing.T, map[string]any)) {
	t.Helper()
	dir := t.TempDir() // one directory: relative bind sources resolve alike
	want := stackConfig(t, dir, "orig.yml", []byte(orig))
	add(t, want)
	got := stackConfig(t, dir, "fixed.yml", fixed)
	if !reflect.DeepEqual(got, want) {
		g, _ := yaml.Marshal(got)
		w, _ := yaml.Marshal(want)
		t.Errorf("docker stack config of the fixed file:\n%s\nwant (the original's plus our changes):\n%s", g, w)
	}
}

func stackConfig(t *testing.T, dir, name string, data []byte) map[string]any {
	t.Helper()
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("no docker CLI on PATH: docker stack config parses compose files as docker stack deploy does")
	}
	f := filepath.Join(dir, name)
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(docker, "stack", "config", "-c", f)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir(), "DOCKER_HOST=unix:///nonexistent.sock")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker stack config: %v\n%s\nfile:\n%s", err, out, data)
	}
	var m map[string]any
	if err := yaml.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "version")
	return m
}
