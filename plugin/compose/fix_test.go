package compose

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const unsafeFile = `version: "3.8"

# The cache: redis, as the slides run it.
services:
  redis:
    image: redis   # no volumes: the seed's mistake
    ports:
      - target: 6379
        published: 10000
        mode: host
    deploy:
      update_config:
        order: start-first # fast, and wrong for a database

  # a stateless neighbour
  web:
    image: nginx
`

func TestApplyKeepsEveryOtherLine(t *testing.T) {
	fixes := []Fix{{Service: "redis", Changes: []string{
		"stop_grace_period: 30s",
		"deploy.update_config.order: stop-first",
		"volumes: redis-data:/data",
		"deploy.placement.constraints: node.id==abc123",
	}}}
	got, err := Apply([]byte(unsafeFile), fixes)
	if err != nil {
		t.Fatal(err)
	}
	want := `version: "3.8"

# The cache: redis, as the slides run it.
services:
  redis:
    volumes:
      - redis-data:/data
    stop_grace_period: 30s
    image: redis   # no volumes: the seed's mistake
    ports:
      - target: 6379
        published: 10000
        mode: host
    deploy:
      placement:
        constraints:
          - node.id==abc123
      update_config:
        order: stop-first # fast, and wrong for a database

  # a stateless neighbour
  web:
    image: nginx
volumes:
  redis-data: {}
`
	if string(got) != want {
		t.Errorf("fixed file:\n%s\nwant:\n%s", got, want)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(got, &doc); err != nil {
		t.Fatalf("the fixed file is not YAML: %v", err)
	}
}

func TestApplyAddsToWhatIsThere(t *testing.T) {
	in := `services:
  db:
    image: redis
    volumes:
      - ./conf:/etc/redis
    deploy:
      placement:
        constraints: [node.role==manager]
volumes:
  other: {}
`
	got, err := Apply([]byte(in), []Fix{{Service: "db", Changes: []string{"volumes: db-data:/data"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), "    volumes:\n      - db-data:/data\n      - ./conf:/etc/redis\n") ||
		!strings.Contains(string(got), "volumes:\n  db-data: {}\n  other: {}\n") {
		t.Errorf("fixed file:\n%s", got)
	}
	// A flow-style list is left to the user, with one line saying so.
	_, err = Apply([]byte(in), []Fix{{Service: "db", Changes: []string{"deploy.placement.constraints: node.id==x"}}})
	if err == nil || !strings.Contains(err.Error(), "edit it by hand") {
		t.Errorf("flow-style constraints: err %v, want an edit-by-hand refusal", err)
	}
}
