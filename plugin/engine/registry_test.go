package engine

import (
	"slices"
	"testing"

	"github.com/docker/docker/api/types/swarm"
)

const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// TestImages: every spelling of a well-known image (registry host, tag,
// digest, library/) is the same image; look-alikes are not.
func TestImages(t *testing.T) {
	for _, tc := range []struct {
		ref, engine string
		data        []string
	}{
		{"redis", NameRedis, []string{"/data"}},
		{"redis:7", NameRedis, []string{"/data"}},
		{"docker.io/library/redis:7", NameRedis, []string{"/data"}},
		{"index.docker.io/library/redis", NameRedis, []string{"/data"}},
		{"redis@sha256:" + sha, NameRedis, []string{"/data"}},
		{"docker.io/library/redis:7.2@sha256:" + sha, NameRedis, []string{"/data"}},
		{"mirror.gcr.io/library/redis:7", NameRedis, []string{"/data"}},
		{"public.ecr.aws/docker/library/redis:7", NameRedis, []string{"/data"}},
		{"localhost:5000/redis", NameRedis, []string{"/data"}},
		{"redis/redis-stack:latest", NameRedis, []string{"/data"}},
		{"redis/redis-stack-server:7.2.0-v10", NameRedis, []string{"/data"}},
		{"valkey/valkey:8-alpine", NameRedis, []string{"/data"}},
		{"ghcr.io/valkey-io/valkey:8", NameRedis, []string{"/data"}},
		{"bitnami/redis:7.4", NameRedis, []string{"/bitnami/redis/data"}},
		{"bitnami/valkey", NameRedis, []string{"/bitnami/valkey/data"}},
		{"localhost:5000/bitnami/valkey:8", NameRedis, []string{"/bitnami/valkey/data"}},
		{"docker.io/bitnami/valkey@sha256:" + sha, NameRedis, []string{"/bitnami/valkey/data"}},
		{"postgres:16", NamePostgres, []string{"/var/lib/postgresql/data"}},
		{"docker.io/library/postgres:15@sha256:" + sha, NamePostgres, []string{"/var/lib/postgresql/data"}},
		{"bitnami/postgresql:16", NamePostgres, []string{"/bitnami/postgresql"}},
		{"postgis/postgis:16-3.4", NamePostgres, []string{"/var/lib/postgresql/data"}},
		{"timescale/timescaledb:latest-pg16", NamePostgres, []string{"/var/lib/postgresql/data"}},
		{"timescale/timescaledb-ha:pg16", NamePostgres, []string{"/home/postgres/pgdata"}},
		{"pgvector/pgvector:pg16", NamePostgres, []string{"/var/lib/postgresql/data"}},
		{"supabase/postgres:15.1.0.147", NamePostgres, []string{"/var/lib/postgresql/data"}},
		// Same last name as a known engine image: that engine, data unknown.
		{"registry.local/team/redis:custom", NameRedis, nil},
		{"myorg/postgres:16-patched", NamePostgres, nil},
		{"mysql:8", NameMariaDB, []string{"/var/lib/mysql"}},
		// Known for their data only.
		{"quay.io/coreos/etcd:v3.5", "", []string{"/etcd-data"}},
		// Look-alikes that run no Redis server.
		{"redis/redisinsight", "", nil},
		{"oliver006/redis_exporter", "", nil},
		{"rediscommander/redis-commander", "", nil},
		{"nginx", "", nil},
		{"", "", nil},
	} {
		var got string
		if k := ForImage(tc.ref); k != nil {
			got = k.Name
		}
		if got != tc.engine {
			t.Errorf("ForImage(%q) = %q, want %q", tc.ref, got, tc.engine)
		}
		if dp := KnownDataPaths(tc.ref); !slices.Equal(dp, tc.data) {
			t.Errorf("KnownDataPaths(%q) = %v, want %v", tc.ref, dp, tc.data)
		}
	}
}

func TestRepositoryName(t *testing.T) {
	for in, want := range map[string]string{
		"redis":                                   "redis",
		"redis:7":                                 "redis",
		"docker.io/library/redis:7":               "redis",
		"redis@sha256:" + sha:                     "redis",
		"localhost:5000/bitnami/valkey:8":         "localhost:5000/bitnami/valkey",
		"registry.example.com:5000/a/b:1":         "registry.example.com:5000/a/b",
		"docker.io/bitnami/redis:7@sha256:" + sha: "bitnami/redis",
		"NOT A REF:1":                             "NOT A REF",
	} {
		if got := RepositoryName(in); got != want {
			t.Errorf("RepositoryName(%q) = %q, want %q", in, got, want)
		}
	}
}

func spec(image string, command, args []string, ports ...uint32) swarm.Service {
	s := swarm.Service{Spec: swarm.ServiceSpec{TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: image, Command: command, Args: args}}}}
	for _, p := range ports {
		s.Endpoint.Ports = append(s.Endpoint.Ports, swarm.PortConfig{TargetPort: p, PublishedPort: 10000 + p})
	}
	return s
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		name string
		svc  swarm.Service
		want string
	}{
		{"image", spec("bitnami/valkey:8", nil, nil), NameRedis},
		{"image beats port", spec("redis", nil, nil, 5432), NameRedis},
		{"server program in the command", spec("team/cache:1", []string{"valkey-server", "--save", "60 1"}, nil), NameRedis},
		{"server program in sh -c", spec("team/cache:1", []string{"sh", "-c", "exec /usr/local/bin/redis-server --appendonly yes"}, nil), NameRedis},
		{"postgres in args", spec("team/db:1", []string{"docker-entrypoint.sh"}, []string{"postgres", "-c", "fsync=on"}), NamePostgres},
		{"port 5432", spec("team/db:1", nil, nil, 5432), NamePostgres},
		{"port 6379", spec("team/cache:1", nil, nil, 6379), NameRedis},
		{"both ports", spec("x", nil, nil, 5432, 6379), ""},
		{"nothing", spec("x", nil, nil), ""},
		{"no container", swarm.Service{}, ""},
	} {
		k, why := Detect(tc.svc)
		var got string
		if k != nil {
			got = k.Name
		}
		if got != tc.want || (k != nil) != (why != "") {
			t.Errorf("%s: Detect = %q (%q), want %q", tc.name, got, why, tc.want)
		}
	}
	if !IsRedis(spec("bitnami/valkey", nil, nil).Spec) || IsRedis(spec("redis/redisinsight", nil, nil).Spec) {
		t.Error("IsRedis: bitnami/valkey must be Redis, redisinsight must not")
	}
}

func TestKinds(t *testing.T) {
	for _, k := range Kinds() {
		if k.Port == 0 || k.StopSignal == "" || k.StopGrace <= 0 || len(k.Servers) == 0 || k.URLFlag == "" || k.PasswordEnv == "" {
			t.Errorf("%s: incomplete entry %+v", k.Name, k)
		}
	}
	for _, img := range images {
		if img.Engine != "" && ByName(img.Engine) == nil {
			t.Errorf("image %s names unknown engine %q", img.Repository, img.Engine)
		}
	}
	if ByName("mysql") != nil || !slices.Equal(Names(), []string{NameRedis, NamePostgres, NameMariaDB}) {
		t.Errorf("names %v", Names())
	}
}

func TestParseRedisArgs(t *testing.T) {
	yes, no := true, false
	str := func(s string) *string { return &s }
	for i, tc := range []struct {
		cmd, args []string
		aof       *bool
		save      *string
		dir       string
		found     bool
	}{
		{nil, []string{"redis-server", "--appendonly", "yes"}, &yes, nil, "", true},
		{[]string{"docker-entrypoint.sh"}, []string{"redis-server", "/etc/redis.conf", "--save", "", "--dir", "/var/lib/redis"}, nil, str(""), "/var/lib/redis", true},
		{[]string{"redis-server", "--save", "60", "1", "300", "10", "--appendonly", "no"}, nil, &no, str("60 1 300 10"), "", true},
		{[]string{"sh", "-c", "exec redis-server --appendonly yes --save ''"}, nil, &yes, str(""), "", true},
		{nil, []string{"--appendonly", "yes"}, &yes, nil, "", true}, // official image: bare options
		{[]string{"valkey-server", "--dir", "/v"}, nil, nil, nil, "/v", true},
		{[]string{"sh", "-c", "valkey-server --appendonly yes"}, nil, &yes, nil, "", true},
		{[]string{"nginx"}, nil, nil, nil, "", false},
		{[]string{"sh", "-c", "echo redis-server-like"}, nil, nil, nil, "", false},
	} {
		sa := ParseRedisArgs(tc.cmd, tc.args)
		eqB := (sa.AppendOnly == nil) == (tc.aof == nil) && (sa.AppendOnly == nil || *sa.AppendOnly == *tc.aof)
		eqS := (sa.Save == nil) == (tc.save == nil) && (sa.Save == nil || *sa.Save == *tc.save)
		if sa.Found != tc.found || !eqB || !eqS || sa.Dir != tc.dir {
			t.Errorf("case %d: %+v", i, sa)
		}
	}
}

// TestRedisArgRules: the guard's rules for Redis' command line, on a
// Valkey image too (the old guard table did not list bitnami/valkey).
func TestRedisArgRules(t *testing.T) {
	s := func(image string, args ...string) swarm.ServiceSpec {
		return spec(image, nil, args).Spec
	}
	k := ByName(NameRedis)
	for _, tc := range []struct {
		name      string
		cur, next swarm.ServiceSpec
		refusals  int
	}{
		{"aof on at start", s("valkey/valkey"), s("valkey/valkey", "valkey-server", "--appendonly", "yes"), 1},
		{"dir moved", s("bitnami/valkey", "--dir", "/bitnami/valkey/data"), s("bitnami/valkey", "--dir", "/tmp"), 1},
		{"relative dir kept", s("redis", "--dir", "."), s("redis", "--dir", "/data"), 0},
		{"persistence off", s("redis"), s("redis", "--save", `""`), 1},
		{"persistence off with aof", s("redis"), s("redis", "--save", "", "--appendonly", "yes"), 1},
		{"nothing changes", s("redis", "--save", "60 1"), s("redis", "--save", "60 1"), 0},
		{"no server args", s("redis"), s("redis"), 0},
	} {
		if got := k.ServerArgRules(tc.cur, tc.next); len(got) != tc.refusals {
			t.Errorf("%s: %d refusals %q, want %d", tc.name, len(got), got, tc.refusals)
		}
	}
}
