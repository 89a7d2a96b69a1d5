package stateful

import (
	"strings"

	"github.com/distribution/reference"
)

// knownDataPaths lists where well-known images keep their state, for images
// that do not (or no longer) declare it as a VOLUME: the Redis 8 image, for
// one, only does `WORKDIR /data`. Keys are repository paths without the
// docker.io/library/ prefix.
var knownDataPaths = map[string][]string{
	"redis":                        {"/data"},
	"redis/redis-stack":            {"/data"},
	"valkey/valkey":                {"/data"},
	"bitnami/redis":                {"/bitnami/redis/data"},
	"postgres":                     {"/var/lib/postgresql/data"},
	"bitnami/postgresql":           {"/bitnami/postgresql"},
	"mysql":                        {"/var/lib/mysql"},
	"mariadb":                      {"/var/lib/mysql"},
	"mongo":                        {"/data/db"},
	"elasticsearch":                {"/usr/share/elasticsearch/data"},
	"rabbitmq":                     {"/var/lib/rabbitmq"},
	"influxdb":                     {"/var/lib/influxdb2"},
	"memcached":                    nil, // in-memory by design: nothing to keep
	"nats":                         {"/data"},
	"etcd":                         {"/etcd-data"},
	"quay.io/coreos/etcd":          {"/etcd-data"},
	"clickhouse/clickhouse-server": {"/var/lib/clickhouse"},
}

// KnownDataPaths returns the built-in data paths for an image reference such
// as "redis", "redis:7", "docker.io/library/redis@sha256:…" (nil if unknown).
func KnownDataPaths(image string) []string {
	return knownDataPaths[RepositoryName(image)]
}

// RepositoryName reduces an image reference to its repository path, without
// tag, digest, or the docker.io/library/ prefix ("redis:7" → "redis").
func RepositoryName(image string) string {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		// Not a valid reference (docker would refuse it anyway): best effort.
		name, _, _ := strings.Cut(image, "@")
		if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
			name = name[:i]
		}
		return name
	}
	return strings.TrimPrefix(reference.FamiliarName(named), "library/")
}
