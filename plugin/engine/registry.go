package engine

import (
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/swarm"
)

// Engine names: --engine's values and the "engine" field of JSON documents.
const (
	NameRedis    = "redis"    // Redis and Valkey
	NamePostgres = "postgres" // PostgreSQL and the images built on it
	NameMariaDB  = "mariadb"  // MariaDB and MySQL
)

// Kind is what the registry knows about one engine.
type Kind struct {
	Name  string // --engine's value, "engine" in JSON
	Title string // in messages: "Redis", "PostgreSQL"
	// Port is the container port the engine listens on by default (a
	// service publishing it, and no other engine's, is taken as this engine).
	Port uint32
	// Servers are the server programs as they appear in a command line
	// (a service running one of them runs this engine, whatever its image).
	Servers []string
	// StopSignal is the signal on which the engine shuts down cleanly,
	// writing what it must (the image's STOPSIGNAL); StopGrace the stop
	// grace period create gives it so that this shutdown is not cut short.
	StopSignal string
	StopGrace  time.Duration
	// The plugin's flags that reach the engine, and the environment variable
	// that carries its password.
	URLFlag, PasswordFileFlag, PasswordEnv string
	// ServerArgRules are the guard's rules for the engine's server
	// arguments: what a change of command line from cur to next loses. Nil
	// when the guard knows none.
	ServerArgRules func(cur, next swarm.ServiceSpec) []string
}

// Image is a well-known image: the engine it runs ("" for an image the
// plugin does not verify but whose data paths it knows), and where it keeps
// its data when it does not (or no longer) declare it as a VOLUME (the Redis
// 8 image, for one, only does `WORKDIR /data`).
type Image struct {
	Repository string // familiar path without registry host: "redis", "bitnami/valkey"
	Engine     string
	DataPaths  []string
}

var kinds = []*Kind{
	{
		Name: NameRedis, Title: "Redis", Port: 6379,
		Servers:    redisServers,
		StopSignal: "SIGTERM", StopGrace: 30 * time.Second,
		URLFlag: "--redis-url", PasswordFileFlag: "--redis-password-file", PasswordEnv: "REDISCLI_AUTH",
		ServerArgRules: redisServerArgRules,
	},
	{
		Name: NamePostgres, Title: "PostgreSQL", Port: 5432,
		Servers: []string{"postgres"},
		// SIGINT is PostgreSQL's fast shutdown (the official image's
		// STOPSIGNAL): SIGTERM waits for every client to leave.
		StopSignal: "SIGINT", StopGrace: 30 * time.Second,
		URLFlag: "--pg-url", PasswordFileFlag: "--pg-password-file", PasswordEnv: "PGPASSWORD",
	},
	mariadbKind,
}

var images = []Image{
	{"redis", NameRedis, []string{"/data"}},
	{"redis/redis-stack", NameRedis, []string{"/data"}},
	{"redis/redis-stack-server", NameRedis, []string{"/data"}},
	{"valkey/valkey", NameRedis, []string{"/data"}},
	{"valkey-io/valkey", NameRedis, []string{"/data"}}, // ghcr.io/valkey-io/valkey
	{"valkey", NameRedis, []string{"/data"}},
	{"bitnami/redis", NameRedis, []string{"/bitnami/redis/data"}},
	{"bitnami/valkey", NameRedis, []string{"/bitnami/valkey/data"}},
	{"postgres", NamePostgres, []string{"/var/lib/postgresql/data"}},
	{"bitnami/postgresql", NamePostgres, []string{"/bitnami/postgresql"}},
	{"postgis/postgis", NamePostgres, []string{"/var/lib/postgresql/data"}},
	{"timescale/timescaledb", NamePostgres, []string{"/var/lib/postgresql/data"}},
	{"timescale/timescaledb-ha", NamePostgres, []string{"/home/postgres/pgdata"}},
	{"pgvector/pgvector", NamePostgres, []string{"/var/lib/postgresql/data"}},
	{"supabase/postgres", NamePostgres, []string{"/var/lib/postgresql/data"}},
	{"mariadb", NameMariaDB, []string{"/var/lib/mysql"}},
	{"mysql", NameMariaDB, []string{"/var/lib/mysql"}},
	{"mysql/mysql-server", NameMariaDB, []string{"/var/lib/mysql"}},
	{"bitnami/mariadb", NameMariaDB, []string{"/bitnami/mariadb"}},
	{"bitnami/mysql", NameMariaDB, []string{"/bitnami/mysql"}},
	// Known for their data paths only (no engine the plugin verifies yet).
	{"mongo", "", []string{"/data/db"}},
	{"elasticsearch", "", []string{"/usr/share/elasticsearch/data"}},
	{"rabbitmq", "", []string{"/var/lib/rabbitmq"}},
	{"influxdb", "", []string{"/var/lib/influxdb2"}},
	{"memcached", "", nil}, // in-memory by design: nothing to keep
	{"nats", "", []string{"/data"}},
	{"etcd", "", []string{"/etcd-data"}},
	{"coreos/etcd", "", []string{"/etcd-data"}}, // quay.io/coreos/etcd
	{"clickhouse/clickhouse-server", "", []string{"/var/lib/clickhouse"}},
}

// Kinds returns every engine the registry knows, in a fixed order.
func Kinds() []*Kind { return slices.Clone(kinds) }

// ByName returns the engine named name ("redis", "postgres"), nil if none.
func ByName(name string) *Kind {
	for _, k := range kinds {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// Names are the engine names, for messages ("redis or postgres").
func Names() []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = k.Name
	}
	return out
}

// LookupImage returns the well-known image ref names, matched on its
// repository path without registry host, tag or digest ("redis:7",
// "docker.io/library/redis@sha256:…" and "localhost:5000/redis" are all
// "redis"); ok is false for any other image.
func LookupImage(ref string) (Image, bool) {
	p := imagePath(ref)
	for _, img := range images {
		if img.Repository == p {
			return img, true
		}
	}
	return Image{}, false
}

// ForImage returns the engine the image ref runs: a well-known image's, else
// the engine whose well-known image has the same last name ("myteam/redis"
// runs Redis, "redis/redisinsight" does not); nil when neither says.
func ForImage(ref string) *Kind {
	if img, ok := LookupImage(ref); ok {
		return ByName(img.Engine)
	}
	base := path.Base(imagePath(ref))
	for _, img := range images {
		if img.Engine != "" && path.Base(img.Repository) == base {
			return ByName(img.Engine)
		}
	}
	return nil
}

// ForCommand returns the engine whose server program the command line runs
// (also inside "sh -c '...'"), nil if none.
func ForCommand(command, args []string) *Kind {
	for _, k := range kinds {
		if serverAt(append(slices.Clone(command), args...), k.Servers) != nil {
			return k
		}
	}
	return nil
}

// ForSpec returns the engine a service spec runs, by its image, else by the
// server program in its command line; nil when neither says.
func ForSpec(spec swarm.ServiceSpec) *Kind {
	cs := spec.TaskTemplate.ContainerSpec
	if cs == nil {
		return nil
	}
	if k := ForImage(cs.Image); k != nil {
		return k
	}
	return ForCommand(cs.Command, cs.Args)
}

// Detect says which engine serves svc, and why: its image or command
// (ForSpec), else the one engine whose port it publishes. nil (why "") when
// nothing says.
func Detect(svc swarm.Service) (k *Kind, why string) {
	if cs := svc.Spec.TaskTemplate.ContainerSpec; cs != nil {
		if k := ForImage(cs.Image); k != nil {
			return k, "image " + RepositoryName(cs.Image)
		}
		if k := ForCommand(cs.Command, cs.Args); k != nil {
			return k, "command " + serverAt(append(slices.Clone(cs.Command), cs.Args...), k.Servers)[0]
		}
	}
	var found *Kind
	for _, k := range kinds {
		if publishes(svc, k.Port) {
			if found != nil {
				return nil, ""
			}
			found = k
		}
	}
	if found != nil {
		return found, "publishes port " + strconv.FormatUint(uint64(found.Port), 10)
	}
	return nil, ""
}

// IsRedis reports whether the service runs Redis (or Valkey).
func IsRedis(spec swarm.ServiceSpec) bool {
	k := ForSpec(spec)
	return k != nil && k.Name == NameRedis
}

// KnownDataPaths returns the built-in data paths of a well-known image
// (nil if unknown).
func KnownDataPaths(ref string) []string {
	img, _ := LookupImage(ref)
	return slices.Clone(img.DataPaths)
}

// RepositoryName reduces an image reference to its repository path as docker
// shows it, without tag, digest, or the docker.io/library/ prefix ("redis:7"
// → "redis", "localhost:5000/bitnami/valkey:8" → "localhost:5000/bitnami/valkey").
func RepositoryName(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		// Not a valid reference (docker would refuse it anyway): best effort.
		return cutTagDigest(ref)
	}
	return strings.TrimPrefix(reference.FamiliarName(named), "library/")
}

// imagePath is ref's repository path without registry host, tag, digest or
// library/ (a mirror's "mirror.example/library/redis" and ECR's
// "public.ecr.aws/docker/library/redis" are "redis").
func imagePath(ref string) string {
	if p, ok := imagePaths.Load(ref); ok {
		return p.(string)
	}
	p := parseImagePath(ref)
	imagePaths.Store(ref, p)
	return p
}

// imagePaths memoizes imagePath: ls and check ask it several times per
// service, and parsing a reference is most of what they spend on a spec.
var imagePaths sync.Map

func parseImagePath(ref string) string {
	var p string
	if named, err := reference.ParseNormalizedNamed(ref); err == nil {
		p = reference.Path(named)
	} else {
		p = cutTagDigest(ref)
		if first, rest, ok := strings.Cut(p, "/"); ok && strings.ContainsAny(first, ".:") {
			p = rest
		}
	}
	if i := strings.LastIndex("/"+p, "/library/"); i >= 0 {
		p = p[i+len("library/"):]
	}
	return p
}

func cutTagDigest(ref string) string {
	name, _, _ := strings.Cut(ref, "@")
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	return name
}

func publishes(svc swarm.Service, target uint32) bool {
	ports := svc.Endpoint.Ports
	if svc.Spec.EndpointSpec != nil && len(ports) == 0 {
		ports = svc.Spec.EndpointSpec.Ports
	}
	for _, p := range ports {
		if p.TargetPort == target && (p.Protocol == "" || p.Protocol == swarm.PortConfigProtocolTCP) {
			return true
		}
	}
	return false
}
