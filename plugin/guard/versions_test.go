package guard

import (
	"strings"
	"testing"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/engine"
)

func server(product, version string) engine.ServerVersion {
	return engine.ServerVersion{Product: product, Version: version, Source: "the server"}
}

func image(product, version string) engine.ServerVersion {
	return engine.ServerVersion{Product: product, Version: version, Source: "its configuration"}
}

// pgSafe is safe() running postgres.
func pgSafe() swarm.ServiceSpec {
	s := safe()
	s.TaskTemplate.ContainerSpec.Image = "postgres:15"
	s.TaskTemplate.ContainerSpec.Mounts[0].Target = "/var/lib/postgresql/data"
	return s
}

func TestVersionRule(t *testing.T) {
	const (
		R = engine.ProductRedis
		V = engine.ProductValkey
		P = engine.ProductPostgres
	)
	newImage := func(ref string) func(*swarm.ServiceSpec) {
		return func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.Image = ref }
	}
	versions := func(cur, next engine.ServerVersion) func(*Input) {
		return func(in *Input) { in.Versions = Versions{Current: cur, New: next} }
	}
	redis := func(name string, cur, next engine.ServerVersion, refused []string, warned string) tcase {
		return tcase{name: name, current: safe, change: newImage("other:tag"), input: versions(cur, next), refused: refused, warned: warned}
	}
	pg := func(name string, cur, next engine.ServerVersion, refused []string, warned string) tcase {
		return tcase{name: name, current: pgSafe, change: newImage("other:tag"), input: versions(cur, next), refused: refused, warned: warned}
	}
	older := []string{"the new task would refuse the data and not start. To move the data to the older server, convert it: docker stateful backup cache, then docker stateful restore that backup into a service running other:tag"}
	run(t, RuleVersion, []tcase{
		// Redis 8 (RDB 12) to Redis 7.0 (reads up to 10): the case.
		redis("redis 8 to 7.0", server(R, "8.0.2"), image(R, "7.0.15"), []string{"Redis 8.0.2 (the server), which writes RDB format 12; image other:tag runs Redis 7.0.15 (its configuration), which reads RDB formats up to 10"}, ""),
		redis("redis 7.4 to 7.2", server(R, "7.4.1"), image(R, "7.2.4"), older, ""),
		redis("redis 7.2 to 7.0", server(R, "7.2.4"), image(R, "7.0"), older, ""),
		redis("redis 8.2 (newer than the table) to 7.0", server(R, "8.2.1"), image(R, "7.0.15"), []string{"RDB format 12 or newer"}, ""),
		redis("redis 8 to valkey 8", server(R, "8.0.2"), image(V, "8.1.1"), older, ""),
		redis("redis 7.4 to valkey 7.2", server(R, "7.4.0"), image(V, "7.2.5"), older, ""),
		redis("valkey 8 to redis 7.0", server(V, "8.1.1"), image(R, "7.0.15"), older, ""),
		redis("valkey 9 to redis 8", server(V, "9.0.0"), image(R, "8.0.2"), older, ""),
		redis("valkey 9 to valkey 8", server(V, "9.0.0"), image(V, "8.1"), older, ""),
		// Same version, upgrades and pairs that share a format: allowed.
		redis("redis 7.0 to 7.0", server(R, "7.0.15"), image(R, "7.0.15"), nil, ""),
		redis("redis 7.0 to 8", server(R, "7.0.15"), image(R, "8.0.2"), nil, ""),
		redis("redis 7.0 to tag 8", server(R, "7.0.15"), image(R, "8"), nil, ""),
		redis("redis 7.2 to valkey 8", server(R, "7.2.4"), image(V, "8.1.1"), nil, ""),
		redis("valkey 8 to redis 7.2", server(V, "8.1.1"), image(R, "7.2.4"), nil, ""),
		redis("valkey 8 to redis 8", server(V, "8.1.1"), image(R, "8.0.2"), nil, ""),
		redis("valkey 8 to valkey 9", server(V, "8.1.1"), image(V, "9.0.0"), nil, ""),
		redis("redis 7.0 to valkey 9", server(R, "7.0.15"), image(V, "9.0"), nil, ""),
		// Not sure: warned, never refused.
		redis("redis 8 to tag 7 (7.0 to 7.4)", server(R, "8.0.2"), image(R, "7"), nil, "reads RDB formats up to 10 to 12: depending on the exact versions"),
		redis("redis 7.4 to valkey 9 (Redis' own format)", server(R, "7.4.1"), image(V, "9.0.0"), nil, "one of the formats Valkey 9.0.0 refuses by default"),
		redis("new image names no version", server(R, "8.0.2"), engine.ServerVersion{Product: R}, nil, "cannot tell which Redis version image other:tag runs"),
		redis("current version unknown", engine.ServerVersion{Product: R}, image(R, "7.0.15"), nil, "cannot tell which Redis version runs now"),
		// PostgreSQL: another major either way is refused.
		pg("postgres 15 to 17", server(P, "15.8"), image(P, "17"), []string{"runs PostgreSQL 15.8 (the server); image other:tag runs PostgreSQL 17 (its configuration), which refuses a data directory of another major version: the new task would not start. Upgrade the data first: pg_upgrade"}, ""),
		pg("postgres 16 to 17", server(P, "16.4"), image(P, "17.2"), []string{"pg_upgrade (both versions' binaries on the volume), or pg_dumpall"}, ""),
		pg("postgres 17 to 15", server(P, "17.6"), image(P, "15"), []string{"runs the older PostgreSQL 15 (its configuration), which cannot read a data directory of PostgreSQL 17: the new task would not start. Going back needs a dump: pg_dumpall from this server"}, ""),
		pg("postgres 9.6 to 10", server(P, "9.6.24"), image(P, "10"), []string{"another major version"}, ""),
		pg("postgres 15 to 15", server(P, "15.8"), image(P, "15"), nil, ""),
		pg("postgres 15.8 to 15.14", server(P, "15.8"), image(P, "15.14"), nil, ""),
		pg("postgres tag names no version", server(P, "15.8"), engine.ServerVersion{Product: P}, nil, "cannot tell which PostgreSQL version image other:tag runs"),
		// No image change: no versions asked for, nothing said.
		{name: "same image", current: safe, change: func(s *swarm.ServiceSpec) { s.Labels = map[string]string{"a": "b"} },
			input: versions(server(R, "8.0.2"), image(R, "7.0.15"))},
	})
}

func TestVersionRuleForce(t *testing.T) {
	// A refusal is a Problem: --force turns it into a warning like any other.
	cur := safe()
	cur.TaskTemplate.ContainerSpec.Image = "redis:8"
	next := clone(cur)
	next.TaskTemplate.ContainerSpec.Image = "redis:7"
	r := Check(Input{Service: "cache", Current: cur, New: next, TaskNodes: []string{"n1"}, Nodes: nodes,
		Versions: Versions{Current: server(engine.ProductRedis, "8.0.2"), New: image(engine.ProductRedis, "7.0.15")}})
	if r.Allowed() || len(r.Problems) != 1 || r.Problems[0].Code != RuleVersion {
		t.Fatalf("problems %+v", r.Problems)
	}
}

func TestWayBack(t *testing.T) {
	for _, c := range []struct {
		name      string
		spec      func() swarm.ServiceSpec
		cur, next engine.ServerVersion
		want      string
	}{
		{"redis 7.0 to 8", safe, server("Redis", "7.0.15"), image("Redis", "8.0.2"),
			"going back to Redis 7.0.15 needs a conversion: Redis 8.0.2 writes RDB format 12, which Redis 7.0.15 (RDB 10) cannot read; docker service rollback would start a task that refuses the data. To move the data to the older server, convert it: docker stateful backup cache, then docker stateful restore that backup into a service running redis:7 (restore writes each key for the older server)"},
		{"redis 7.2 to valkey 8: same format", safe, server("Redis", "7.2.4"), image("Valkey", "8.1.1"), ""},
		{"redis 7.0 to 7.0", safe, server("Redis", "7.0.15"), image("Redis", "7.0.15"), ""},
		{"unknown", safe, server("Redis", "7.0.15"), engine.ServerVersion{Product: "Redis"}, ""},
		{"postgres 15 to 17", pgSafe, server("PostgreSQL", "15.8"), image("PostgreSQL", "17"),
			"going back to PostgreSQL 15 needs a dump: PostgreSQL 17's data directory cannot be read by PostgreSQL 15; pg_dumpall from the new server, and psql into a new service running postgres:15 (pg_upgrade only goes forward)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cur := c.spec()
			next := clone(cur)
			next.TaskTemplate.ContainerSpec.Image = "new:tag"
			got := WayBack(Input{Service: "cache", Current: cur, New: next, Versions: Versions{Current: c.cur, New: c.next}})
			if got != c.want {
				t.Errorf("WayBack = %q\nwant %q", got, c.want)
			}
			if c.want != "" && !strings.Contains(got, "going back") {
				t.Error("no way back")
			}
		})
	}
}
