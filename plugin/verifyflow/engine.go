package verifyflow

import (
	"fmt"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/locate"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// The engines --verify, snapshot and verify know.
const (
	EngineRedis    = "redis"
	EnginePostgres = "postgres"
)

// PostgresPort is the container port PostgreSQL listens on.
const PostgresPort = 5432

// postgresImages are repositories whose image runs PostgreSQL (as
// stateful's table of well-known images names them).
var postgresImages = map[string]bool{
	"postgres": true, "bitnami/postgresql": true, "postgis/postgis": true,
	"timescale/timescaledb": true, "timescale/timescaledb-ha": true,
	"pgvector/pgvector": true, "supabase/postgres": true,
}

var redisImages = map[string]bool{
	"redis": true, "redis/redis-stack": true, "redis/redis-stack-server": true,
	"valkey/valkey": true, "bitnami/redis": true, "bitnami/valkey": true,
}

// CheckEngine refuses an --engine other than redis, postgres or "".
func CheckEngine(engine string) error {
	switch engine {
	case "", EngineRedis, EnginePostgres:
		return nil
	}
	return fmt.Errorf("--engine %s: must be redis or postgres", engine)
}

// DetectEngine says which engine serves svc, and why: forced ("" = not)
// wins, then a URL flag given for one engine (pgURL, redisURL), then the
// image (a known Redis or PostgreSQL image), then the published port (6379 or
// 5432). Anything else is taken as Redis, whose locate error then says what to
// publish.
func DetectEngine(svc swarm.Service, forced, redisURL, pgURL string) (engine, why string) {
	switch {
	case forced != "":
		return forced, "--engine " + forced
	case pgURL != "" && redisURL == "":
		return EnginePostgres, "--pg-url"
	case redisURL != "" && pgURL == "":
		return EngineRedis, "--redis-url"
	}
	if cs := svc.Spec.TaskTemplate.ContainerSpec; cs != nil {
		repo := stateful.RepositoryName(cs.Image)
		switch {
		case postgresImages[repo]:
			return EnginePostgres, "image " + repo
		case redisImages[repo]:
			return EngineRedis, "image " + repo
		}
	}
	pg, redis := locate.Publishes(svc, PostgresPort), locate.Publishes(svc, locate.DefaultRedisPort)
	switch {
	case pg && !redis:
		return EnginePostgres, "publishes port 5432"
	case redis && !pg:
		return EngineRedis, "publishes port 6379"
	}
	return EngineRedis, "default"
}
