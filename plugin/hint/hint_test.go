package hint

import (
	"bytes"
	"strings"
	"testing"
	"text/template"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

func spec(name, image string, mounts []mount.Mount, constraints ...string) swarm.ServiceSpec {
	one := uint64(1)
	return swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: name},
		Mode:        swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: image, Mounts: mounts},
			Placement:     &swarm.Placement{Constraints: constraints},
		},
	}
}

// nodes3, nodes2 and nodes1 are swarms of that many nodes.
var (
	nodes3 = []stateful.Node{{ID: "n1", Hostname: "h1"}, {ID: "n2", Hostname: "h2"}, {ID: "n3", Hostname: "h3"}}
	nodes2 = nodes3[:2]
	nodes1 = nodes3[:1]
)

var (
	named = []mount.Mount{{Type: mount.TypeVolume, Source: "foobarstore", Target: "/data"}}
	anon  = []mount.Mount{{Type: mount.TypeVolume, Target: "/data"}}
)

func TestText(t *testing.T) {
	global := spec("g", "redis", named)
	global.Mode = swarm.ServiceMode{Global: &swarm.GlobalService{}}
	three := uint64(3)
	replicated := spec("r", "redis", nil)
	replicated.Mode.Replicated.Replicas = &three
	noPin := spec("np", "redis", named)
	noPin.Labels = map[string]string{stateful.LabelDataPaths: "/data", stateful.LabelPin: ""}

	cases := []struct {
		name string
		svc  Service
		want []string // substrings; none means no hint
	}{
		{"seed: redis with the image's anonymous /data", Service{Spec: spec("stateful", "redis", nil), ImageVolumes: []string{"/data"}, TaskNode: "n1", Nodes: nodes3},
			[]string{"stateful: /data is on the anonymous volume of the image's VOLUME, lost on every update; to keep it from now on (what is there now cannot be carried over): docker stateful update --force --mount-add type=volume,source=stateful-data,target=/data --constraint-add node.id==n1 stateful"}},
		{"known image without declared VOLUME", Service{Spec: spec("s", "redis:8", nil), Nodes: nodes3},
			[]string{"anonymous volume or the container's filesystem, lost on every update; to keep it from now on: docker stateful update --mount-add type=volume,source=s-data,target=/data --constraint-add node.id==<NODE-ID> s"}},
		{"explicit anonymous mount", Service{Spec: spec("s", "redis", anon), TaskNode: "n2", Nodes: nodes3}, []string{"on an anonymous volume"}},
		{"tmpfs", Service{Spec: spec("s", "redis", []mount.Mount{{Type: mount.TypeTmpfs, Target: "/data"}}), Nodes: nodes3}, []string{"/data is on a tmpfs"}},
		{"anonymous but pinned: no constraint in the fix", Service{Spec: spec("s", "redis", nil, "node.hostname==n1"), TaskNode: "n1", Nodes: nodes3},
			[]string{"--mount-add type=volume,source=s-data,target=/data s"}},
		{"replicas get per-slot volumes", Service{Spec: replicated, Nodes: nodes3}, []string{"source=r-data-{{.Task.Slot}},target=/data"}},
		{"seed's fix: named volume, not pinned", Service{Spec: spec("stateful", "redis", named), TaskNode: "n1", Nodes: nodes3},
			[]string{"stateful: /data on local volume foobarstore, but nothing pins the service to its node", "pin it: docker stateful update --constraint-add node.id==n1 stateful"}},
		{"named volume pinned by hostname", Service{Spec: spec("s", "redis", named, "node.hostname==n1"), Nodes: nodes3}, nil},
		{"named volume pinned by id", Service{Spec: spec("s", "redis", named, "node.id==abc"), Nodes: nodes3}, nil},
		{"named volume placed by node label", Service{Spec: spec("s", "redis", named, "node.labels.db==true"), Nodes: nodes3}, nil},
		{"single node swarm", Service{Spec: spec("s", "redis", named), Nodes: nodes1}, nil},
		{"global service", Service{Spec: global, Nodes: nodes3}, nil},
		{"created with --no-pin", Service{Spec: noPin, Nodes: nodes3}, nil},
		{"nfs volume needs no pin", Service{Spec: spec("s", "redis", []mount.Mount{{Type: mount.TypeVolume, Source: "v", Target: "/data",
			VolumeOptions: &mount.VolumeOptions{DriverConfig: &mount.Driver{Name: "local", Options: map[string]string{"type": "nfs"}}}}}), Nodes: nodes3}, nil},
		{"stateless image", Service{Spec: spec("web", "nginx", nil), Nodes: nodes3}, nil},
		{"unknown image with a declared volume", Service{Spec: spec("x", "example/db", nil), ImageVolumes: []string{"/var/db"}, Nodes: nodes3}, []string{"x: /var/db is on the anonymous volume of the image's VOLUME"}},
		{"named volume of an unknown image, unpinned", Service{Spec: spec("x", "example/app", []mount.Mount{{Type: mount.TypeVolume, Source: "appdata", Target: "/srv"}}), Nodes: nodes3},
			[]string{"/srv on local volume appdata"}},
	}
	for _, c := range cases {
		got := Text(c.svc)
		if len(c.want) == 0 {
			if got != "" {
				t.Errorf("%s: want no hint, got %q", c.name, got)
			}
			continue
		}
		if strings.Contains(got, "\n") {
			t.Errorf("%s: hint is not one line: %q", c.name, got)
		}
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: hint %q lacks %q", c.name, got, w)
			}
		}
	}
}

func TestSeveralDataPaths(t *testing.T) {
	s := Service{Spec: spec("pg", "postgres", nil), ImageVolumes: []string{"/var/lib/postgresql/data", "/backup"}, TaskNode: "n1", Nodes: nodes2}
	got := Text(s)
	for _, w := range []string{"/backup, /var/lib/postgresql/data are on the anonymous volume of the image's VOLUME",
		"source=pg-data-backup,target=/backup", "source=pg-data-var-lib-postgresql-data,target=/var/lib/postgresql/data"} {
		if !strings.Contains(got, w) {
			t.Errorf("hint %q lacks %q", got, w)
		}
	}
}

// render executes a hook template as docker does, with arg and flag taken
// from what the user typed.
func render(t *testing.T, tmpl string, args []string, flags map[string]string) string {
	t.Helper()
	tp, err := template.New("").Funcs(template.FuncMap{
		"arg": func(_ any, i int) string {
			if i < len(args) {
				return args[i]
			}
			return ""
		},
		"flag": func(_ any, name string) string { return flags[name] },
	}).Parse(tmpl)
	if err != nil {
		t.Fatalf("template %q: %v", tmpl, err)
	}
	var b bytes.Buffer
	if err := tp.Execute(&b, nil); err != nil {
		t.Fatalf("template %q: %v", tmpl, err)
	}
	return b.String()
}

func TestUpdateTemplate(t *testing.T) {
	id := "abcdefghijklmnopqrstuvwxy"
	tmpl := UpdateTemplate([]Hooked{
		{Name: "stateful", ID: id, Text: "hint for stateful {{.Task.Slot}}"},
		{Name: "other", ID: "zzzzzzzzzzzzzzzzzzzzzzzzz", Text: "hint for other"},
		{Name: "safe", ID: "s", Text: ""},
	})
	for arg, want := range map[string]string{
		"stateful":  "hint for stateful {{.Task.Slot}}",
		id:          "hint for stateful {{.Task.Slot}}",
		"abc":       "hint for stateful {{.Task.Slot}}",
		"other":     "hint for other",
		"safe":      "",
		"statefulx": "",
		id + "x":    "",
		"":          "",
	} {
		if got := render(t, tmpl, []string{arg}, nil); got != want {
			t.Errorf("service update %q: got %q, want %q", arg, got, want)
		}
	}
}

func TestCreateTemplate(t *testing.T) {
	svcs := []Hooked{{Name: "a", Text: "hint a"}, {Name: "b", Text: "hint b"}}
	tmpl := CreateTemplate(svcs, true, nil)
	if got := render(t, tmpl, []string{"redis"}, map[string]string{"name": "b"}); got != "hint b" {
		t.Errorf("create --name b: got %q", got)
	}
	if got := render(t, tmpl, []string{"redis"}, map[string]string{"name": "c"}); got != "" {
		t.Errorf("create --name c: got %q", got)
	}
	if got := render(t, CreateTemplate(svcs, false, &svcs[0]), []string{"redis"}, nil); got != "hint a" {
		t.Errorf("create without --name: got %q", got)
	}
	if got := CreateTemplate(svcs, false, nil); got != "" {
		t.Errorf("create without --name, nothing new: got %q", got)
	}
}
