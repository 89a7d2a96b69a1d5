package serverversion

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"testing"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/internal/redistest"
	"github.com/docker-stateful/docker-stateful/plugin/engine"
	"github.com/docker-stateful/docker-stateful/plugin/pgstate/pgtest"
)

// fakeAPI is a swarm of one node at 127.0.0.1 whose task publishes the
// server's port in host mode, and a daemon holding the images of envs.
type fakeAPI struct {
	published uint32
	target    uint32
	envs      map[string][]string
}

func (f fakeAPI) TaskList(context.Context, swarm.TaskListOptions) ([]swarm.Task, error) {
	return []swarm.Task{{ID: "t1", NodeID: "n1", Status: swarm.TaskStatus{State: swarm.TaskStateRunning,
		PortStatus: swarm.PortStatus{Ports: []swarm.PortConfig{{TargetPort: f.target, PublishedPort: f.published, PublishMode: swarm.PortConfigPublishModeHost}}}}}}, nil
}

func (f fakeAPI) NodeList(context.Context, swarm.NodeListOptions) ([]swarm.Node, error) {
	n, _, err := f.NodeInspectWithRaw(context.Background(), "n1")
	return []swarm.Node{n}, err
}

func (f fakeAPI) NodeInspectWithRaw(context.Context, string) (swarm.Node, []byte, error) {
	return swarm.Node{ID: "n1", Status: swarm.NodeStatus{State: swarm.NodeStateReady, Addr: "127.0.0.1"}}, nil, nil
}

func (f fakeAPI) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	env, ok := f.envs[ref]
	if !ok {
		return image.InspectResponse{}, errors.New("no such image: " + ref)
	}
	return image.InspectResponse{Config: &dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{Env: env}}}, nil
}

func service(img string, target, published uint32) swarm.Service {
	return swarm.Service{ID: "s1",
		Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "db"},
			TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: img}},
			EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: target, PublishedPort: published, PublishMode: swarm.PortConfigPublishModeHost}}}},
	}
}

func withImage(s swarm.ServiceSpec, img string) swarm.ServiceSpec {
	cs := *s.TaskTemplate.ContainerSpec
	cs.Image = img
	s.TaskTemplate.ContainerSpec = &cs
	return s
}

func port(t *testing.T, addr string) uint32 {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return uint32(n)
}

// The running Redis is asked for its version: the image's REDIS_VERSION,
// deliberately wrong here, does not win over what the server says.
func TestGatherAsksTheRedisServer(t *testing.T) {
	out, err := exec.Command("redis-server", "--version").Output()
	if err != nil {
		t.Skip("no redis-server")
	}
	want := regexp.MustCompile(`v=([0-9.]+)`).FindStringSubmatch(string(out))[1]
	addr, _ := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	if err := rdb.ConfigSet(context.Background(), "requirepass", "s3cret").Err(); err != nil {
		t.Fatal(err)
	}
	api := fakeAPI{target: 6379, published: port(t, addr), envs: map[string][]string{
		"redis:8": {"REDIS_VERSION=8.0.2"}, "redis:7": {"REDIS_VERSION=99.0.0"}}}
	cur := service("redis:7", 6379, api.published)
	getenv := func(k string) string {
		if k == "REDISCLI_AUTH" {
			return "s3cret"
		}
		return ""
	}
	v := Gather(context.Background(), api, cur, withImage(cur.Spec, "redis:8"), Options{Getenv: getenv})
	if v.Current != (engine.ServerVersion{Product: "Redis", Version: want, Source: "the server"}) {
		t.Errorf("current = %+v, want Redis %s from the server", v.Current, want)
	}
	if v.New != (engine.ServerVersion{Product: "Redis", Version: "8.0.2", Source: "REDIS_VERSION of image redis:8"}) {
		t.Errorf("new = %+v", v.New)
	}

	// Without the password the server does not answer: the current image says.
	v = Gather(context.Background(), api, cur, withImage(cur.Spec, "redis:8"), Options{Getenv: func(string) string { return "" }})
	if v.Current != (engine.ServerVersion{Product: "Redis", Version: "99.0.0", Source: "REDIS_VERSION of image redis:7"}) {
		t.Errorf("current without the password = %+v, want the image's", v.Current)
	}

	// The same image: nothing is gathered.
	if v := Gather(context.Background(), api, cur, cur.Spec, Options{Getenv: getenv}); v.Current.Known() || v.New.Known() {
		t.Errorf("same image: %+v", v)
	}
}

func TestGatherAsksThePostgresServer(t *testing.T) {
	srv, err := pgtest.Start()
	if err != nil {
		t.Skipf("no PostgreSQL: %v", err)
	}
	t.Cleanup(srv.Stop)
	api := fakeAPI{target: 5432, published: uint32(srv.Port), envs: map[string][]string{}}
	cur := service("postgres:latest", 5432, api.published)
	getenv := func(k string) string {
		if k == "PGPASSWORD" {
			return srv.Password
		}
		return ""
	}
	v := Gather(context.Background(), api, cur, withImage(cur.Spec, "postgres:17-alpine"), Options{Getenv: getenv})
	if v.Current.Product != "PostgreSQL" || v.Current.Source != "the server" || engine.PostgresMajor(v.Current) == "" {
		t.Errorf("current = %+v, want PostgreSQL from the server", v.Current)
	}
	if v.New != (engine.ServerVersion{Product: "PostgreSQL", Version: "17", Source: "the tag of image postgres:17-alpine"}) {
		t.Errorf("new = %+v", v.New)
	}
}
