package verifyflow

import (
	"fmt"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/engine"
)

// The engines --verify, snapshot and verify know.
const (
	EngineRedis    = engine.NameRedis
	EnginePostgres = engine.NamePostgres
)

// PostgresPort is the container port PostgreSQL listens on.
var PostgresPort = engine.ByName(engine.NamePostgres).Port

// CheckEngine refuses an --engine other than redis, postgres or "".
func CheckEngine(engine string) error {
	switch engine {
	case "", EngineRedis, EnginePostgres, EngineMariaDB:
		return nil
	}
	return fmt.Errorf("--engine %s: must be redis, postgres or mariadb", engine)
}

// DetectEngine says which engine serves svc, and why: forced ("" = not)
// wins, then a URL flag given for one engine (pgURL, redisURL), then the
// engine registry (engine.Detect: the image, the server program in the
// command, the one engine port it publishes). Anything else is taken as Redis, whose locate error then says what to
// publish.
func DetectEngine(svc swarm.Service, forced, redisURL, pgURL string) (eng, why string) {
	switch {
	case forced != "":
		return forced, "--engine " + forced
	case pgURL != "" && redisURL == "":
		return EnginePostgres, "--pg-url"
	case redisURL != "" && pgURL == "":
		return EngineRedis, "--redis-url"
	}
	// The engine registry knows the images, server programs and ports.
	if k, why := engine.Detect(svc); k != nil {
		return k.Name, why
	}
	return EngineRedis, "default"
}
