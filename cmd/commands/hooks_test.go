package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docker/cli/cli-plugins/hooks"
	"github.com/docker/cli/cli/command"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/docker-stateful/docker-stateful/plugin/hint"
	"github.com/docker-stateful/docker-stateful/plugin/hookconfig"
)

// hookFakeAPI is a fakeAPI for the hook: a swarm of nodes, services and
// tasks, and images' VOLUMEs; it records the images looked up.
type hookFakeAPI struct {
	*fakeAPI
	inspects []string
}

func newHookFakeAPI(nodes int, services []swarm.Service, tasks []swarm.Task, volumes map[string]map[string]struct{}) *hookFakeAPI {
	f := &hookFakeAPI{}
	f.fakeAPI = &fakeAPI{
		serviceListFunc: func() ([]swarm.Service, error) { return append([]swarm.Service(nil), services...), nil },
		taskListFunc:    func(swarm.TaskListOptions) ([]swarm.Task, error) { return tasks, nil },
		nodeListFunc:    func() ([]swarm.Node, error) { return make([]swarm.Node, nodes), nil },
		imageInspectFunc: func(ref string) (image.InspectResponse, error) {
			f.inspects = append(f.inspects, ref)
			return image.InspectResponse{Config: &dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{Volumes: volumes[ref]}}}, nil
		},
	}
	return f
}

func svc(id, name, img string, updated time.Time, mounts []mount.Mount, constraints ...string) swarm.Service {
	one := uint64(1)
	return swarm.Service{
		ID:   id,
		Meta: swarm.Meta{CreatedAt: updated, UpdatedAt: updated},
		Spec: swarm.ServiceSpec{
			Annotations: swarm.Annotations{Name: name},
			Mode:        swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
			TaskTemplate: swarm.TaskSpec{
				ContainerSpec: &swarm.ContainerSpec{Image: img, Mounts: mounts},
				Placement:     &swarm.Placement{Constraints: constraints},
			},
		},
	}
}

// printed runs docker's own command line through cobra, then renders the
// hook's reply exactly as the docker CLI does after that command.
func printed(t *testing.T, reply string, verb string, argv ...string) string {
	t.Helper()
	cli, err := command.NewDockerCli()
	if err != nil {
		t.Fatal(err)
	}
	return printedAfter(t, reply, dockerServiceCommand(cli, verb), argv...)
}

// printedAfter is printed for any of docker's commands (e.g. stack deploy).
func printedAfter(t *testing.T, reply string, cmd *cobra.Command, argv ...string) string {
	t.Helper()
	verb := cmd.Name()
	cmd.RunE = func(*cobra.Command, []string) error { return nil }
	cmd.SetArgs(argv)
	cmd.SetOut(&bytes.Buffer{})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("%s %v: %v", verb, argv, err)
	}
	if reply == "" {
		return ""
	}
	var msg hooks.HookMessage
	if err := json.Unmarshal([]byte(reply), &msg); err != nil {
		t.Fatalf("reply %q: %v", reply, err)
	}
	lines, err := hooks.ParseTemplate(msg.Template, cmd)
	if err != nil {
		t.Fatalf("docker cannot render %q: %v", msg.Template, err)
	}
	return strings.Join(lines, "\n")
}

func reply(t *testing.T, api hint.API, data string) string {
	t.Helper()
	var b bytes.Buffer
	writeHookReply(&b, hint.Reply(context.Background(), api, data, time.Now()))
	return b.String()
}

func TestHookReply(t *testing.T) {
	now := time.Now()
	named := []mount.Mount{{Type: mount.TypeVolume, Source: "store", Target: "/data"}}
	api := newHookFakeAPI(3,
		[]swarm.Service{
			svc("id-unsafe-aaaaaaaaaaaaaaaa", "stateful", "redis:latest@sha256:abc", now.Add(-time.Minute), nil),
			svc("id-safe-bbbbbbbbbbbbbbbbbb", "safe", "redis", now, named, "node.hostname==n2"),
			svc("id-loose-cccccccccccccccccc", "loose", "redis", now.Add(-2*time.Minute), named),
			svc("id-web-dddddddddddddddddddd", "web", "nginx", now.Add(-3*time.Minute), nil),
		},
		[]swarm.Task{
			{ServiceID: "id-unsafe-aaaaaaaaaaaaaaaa", NodeID: "old", DesiredState: swarm.TaskStateShutdown, Meta: swarm.Meta{UpdatedAt: now}},
			{ServiceID: "id-unsafe-aaaaaaaaaaaaaaaa", NodeID: "n1", DesiredState: swarm.TaskStateRunning},
			{ServiceID: "id-loose-cccccccccccccccccc", NodeID: "n3", DesiredState: swarm.TaskStateRunning},
		},
		map[string]map[string]struct{}{"redis:latest": {"/data": {}}, "nginx": {}},
	)
	update := reply(t, api, `{"RootCmd":"service update","Flags":{"limit-memory":""}}`)

	got := printed(t, update, "update", "--limit-memory", "100M", "stateful")
	want := "stateful: /data is on the anonymous volume of the image's VOLUME, lost on every update; to keep it from now on (what is there now cannot be carried over): docker stateful update --force --mount-add type=volume,source=stateful-data,target=/data --constraint-add node.id==n1 stateful"
	if got != want {
		t.Errorf("update stateful:\n got %q\nwant %q", got, want)
	}
	if got := printed(t, update, "update", "--limit-memory", "100M", "id-unsafe"); got != want {
		t.Errorf("update by ID prefix: got %q", got)
	}
	if got := printed(t, update, "update", "--constraint-add", "node.role==worker", "loose"); !strings.Contains(got, "pin it: docker stateful update --constraint-add node.id==n3 loose") {
		t.Errorf("update loose: got %q", got)
	}
	for _, name := range []string{"safe", "web", "other"} {
		if got := printed(t, update, "update", "--limit-memory", "100M", name); got != "" {
			t.Errorf("update %s: want nothing, got %q", name, got)
		}
	}
	// The digest the manager pinned is not looked up: the tag is.
	if !reflect.DeepEqual(api.inspects, []string{"redis:latest", "nginx"}) {
		t.Errorf("image lookups = %v, want redis:latest (not its digest) and nginx (unknown image)", api.inspects)
	}

	create := reply(t, api, `{"RootCmd":"service create","Flags":{"name":"","publish":""}}`)
	if got := printed(t, create, "create", "--name", "stateful", "-p", "published=10000,target=6379,mode=host", "redis"); got != want {
		t.Errorf("create --name stateful: got %q", got)
	}
	if got := printed(t, create, "create", "--name", "safe", "redis"); got != "" {
		t.Errorf("create --name safe: want nothing, got %q", got)
	}
	// Without --name, the newest service is the one just created (safe here).
	if got := reply(t, api, `{"RootCmd":"service create","Flags":{}}`); got != "" {
		t.Errorf("create without --name of a safe service: want nothing, got %q", got)
	}

	for _, data := range []string{
		`{"RootCmd":"service update","Flags":{},"CommandError":"no such service"}`,
		`{"RootCmd":"service ls","Flags":{}}`,
		`not json`,
	} {
		if got := reply(t, api, data); got != "" {
			t.Errorf("hook %s: want no reply, got %q", data, got)
		}
	}
}

func TestConfigHooksCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	before := "{\n\t\"auths\": {\n\t\t\"r.example\": {\n\t\t\t\"auth\": \"dXNlcjpwYXNz\"\n\t\t}\n\t},\n\t\"features\": {\n\t\t\"hooks\": \"false\"\n\t}\n}\n"
	if err := os.WriteFile(cfg, []byte(before), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := newConfigHooksCommand()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetArgs(args)
		if err := cmd.Execute(); err != nil {
			t.Fatalf("__config-hooks %v: %v", args, err)
		}
		return out.String()
	}
	record := strings.Fields(strings.ReplaceAll(run("add", cfg), " ", "\x00"))
	for i := range record {
		record[i] = strings.ReplaceAll(record[i], "\x00", " ")
	}
	data, _ := os.ReadFile(cfg)
	if !strings.Contains(string(data), `"hooks": "service update,service create,stack deploy"`) || !strings.Contains(string(data), `"hooks": "true"`) {
		t.Fatalf("after add:\n%s", data)
	}
	if fi, _ := os.Stat(cfg); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after add: %v", fi.Mode())
	}
	run(append([]string{"remove", cfg}, record...)...)
	if data, _ := os.ReadFile(cfg); string(data) != before {
		t.Errorf("round trip:\n got %s\nwant %s", data, before)
	}

	// A config the install created is removed again.
	fresh := filepath.Join(dir, "new", "config.json")
	rec := strings.Split(strings.TrimSpace(run("add", fresh)), "\n")
	if rec[0] != hookconfig.RecordCreatedFile {
		t.Errorf("record of a new file: %q", rec)
	}
	run(append([]string{"remove", fresh}, rec...)...)
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("config created by add still there after remove: %v", err)
	}
}

// Every tag of an image may declare other VOLUMEs: the hook looks each image
// up by its full reference, not once per repository.
func TestHookImagesByFullReference(t *testing.T) {
	now := time.Now()
	api := newHookFakeAPI(3, []swarm.Service{
		svc("id-one-aaaaaaaaaaaaaaaaaaaa", "one", "example/db:1", now, nil),
		svc("id-two-bbbbbbbbbbbbbbbbbbbb", "two", "example/db:2", now.Add(-time.Minute), nil),
	}, nil, map[string]map[string]struct{}{"example/db:1": {"/var/db": {}}, "example/db:2": {}})
	update := reply(t, api, `{"RootCmd":"service update","Flags":{"limit-memory":""}}`)
	if got := printed(t, update, "update", "--limit-memory", "100M", "one"); !strings.Contains(got, "one: /var/db is on the anonymous volume of the image's VOLUME") {
		t.Errorf("update one (example/db:1 declares /var/db): got %q", got)
	}
	if got := printed(t, update, "update", "--limit-memory", "100M", "two"); got != "" {
		t.Errorf("update two (example/db:2 declares no VOLUME): want nothing, got %q", got)
	}
	if !reflect.DeepEqual(api.inspects, []string{"example/db:1", "example/db:2"}) {
		t.Errorf("image lookups = %v, want one per full reference", api.inspects)
	}
}

// After a plain `docker stack deploy ... STACK`, the hook prints the hints of
// that stack's services at risk, and how to deploy it safely; nothing for a
// stack whose services are safe.
func TestHookReplyStackDeploy(t *testing.T) {
	now := time.Now()
	named := []mount.Mount{{Type: mount.TypeVolume, Source: "store", Target: "/data"}}
	inStack := func(s swarm.Service, ns string) swarm.Service {
		s.Spec.Labels = map[string]string{"com.docker.stack.namespace": ns}
		return s
	}
	api := newHookFakeAPI(3, []swarm.Service{
		inStack(svc("id-a-aaaaaaaaaaaaaaaaaaaa", "app_redis", "redis", now, nil), "app"),
		inStack(svc("id-b-bbbbbbbbbbbbbbbbbbbb", "app_web", "nginx", now, nil), "app"),
		inStack(svc("id-c-cccccccccccccccccccc", "safe_redis", "redis", now, named, "node.hostname==n2"), "safe"),
	}, nil, nil)
	r := reply(t, api, `{"RootCmd":"stack deploy","Flags":{"compose-file":""}}`)
	cli, err := command.NewDockerCli()
	if err != nil {
		t.Fatal(err)
	}
	got := printedAfter(t, r, dockerStackCommand(cli, "deploy"), "-c", "compose.yml", "app")
	for _, want := range []string{"app_redis: /data is on the container's own filesystem", "docker stateful stack deploy", "docker stateful check -c COMPOSE_FILE --fix"} {
		if !strings.Contains(got, want) {
			t.Errorf("after docker stack deploy app: %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "app_web") {
		t.Errorf("a stateless service has a hint: %q", got)
	}
	if got := printedAfter(t, r, dockerStackCommand(cli, "deploy"), "-c", "compose.yml", "safe"); got != "" {
		t.Errorf("after docker stack deploy safe: want nothing, got %q", got)
	}
}
