package verifyflow

import (
	"testing"

	"github.com/docker/docker/api/types/swarm"
)

func TestDetectEngine(t *testing.T) {
	svc := func(image string, ports ...uint32) swarm.Service {
		s := swarm.Service{Spec: swarm.ServiceSpec{TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: image}}}}
		for _, p := range ports {
			s.Endpoint.Ports = append(s.Endpoint.Ports, swarm.PortConfig{TargetPort: p, PublishedPort: 10000 + p})
		}
		return s
	}
	for _, tc := range []struct {
		name                    string
		svc                     swarm.Service
		forced, redisURL, pgURL string
		want                    string
	}{
		{"postgres image", svc("postgres:16"), "", "", "", EnginePostgres},
		{"postgres image by digest", svc("docker.io/library/postgres:15@sha256:" + sha), "", "", "", EnginePostgres},
		{"postgis", svc("postgis/postgis:16-3.4"), "", "", "", EnginePostgres},
		{"redis image", svc("redis:7"), "", "", "", EngineRedis},
		{"own image publishing 5432", svc("registry.local/team/db:1", 5432), "", "", "", EnginePostgres},
		{"own image publishing 6379", svc("registry.local/team/cache:1", 6379), "", "", "", EngineRedis},
		{"image beats port", svc("redis", 5432), "", "", "", EngineRedis},
		{"both ports: default", svc("x", 5432, 6379), "", "", "", EngineRedis},
		{"nothing known: redis", svc("x"), "", "", "", EngineRedis},
		{"--engine wins", svc("redis", 6379), EnginePostgres, "", "", EnginePostgres},
		{"--engine redis on a postgres image", svc("postgres"), EngineRedis, "", "", EngineRedis},
		{"--pg-url", svc("x"), "", "", "postgres://h/db", EnginePostgres},
		{"--redis-url", svc("postgres"), "", "redis://h:1", "", EngineRedis},
		{"no service known, --pg-url", swarm.Service{}, "", "", "postgres://h/db", EnginePostgres},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := DetectEngine(tc.svc, tc.forced, tc.redisURL, tc.pgURL)
			if got != tc.want || why == "" {
				t.Fatalf("DetectEngine = %q (%s), want %q", got, why, tc.want)
			}
		})
	}
	if err := CheckEngine("mysql"); err == nil {
		t.Fatal("CheckEngine accepts mysql")
	}
}

const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
