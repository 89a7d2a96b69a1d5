package commands

import (
	"context"
	"reflect"
	"testing"

	"github.com/docker/cli/cli/command"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	"github.com/spf13/cobra"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// completionAPI is a fakeAPI that lists services and nodes.
func completionAPI(services []swarm.Service, nodes []swarm.Node) *fakeAPI {
	return &fakeAPI{
		serviceListFunc: func() ([]swarm.Service, error) { return append([]swarm.Service(nil), services...), nil },
		nodeListFunc:    func() ([]swarm.Node, error) { return append([]swarm.Node(nil), nodes...), nil },
	}
}

type fakeProvider struct{ api client.APIClient }

func (p fakeProvider) Client() client.APIClient { return p.api }

func complete(t *testing.T, fn cobra.CompletionFunc, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	t.Helper()
	cmd := &cobra.Command{}
	cmd.SetContext(context.Background())
	return fn(cmd, args, toComplete)
}

func TestCompleteServiceNames(t *testing.T) {
	managed := map[string]string{stateful.LabelDataPaths: "/data"}
	api := completionAPI([]swarm.Service{
		{ID: "id-zeta", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "zeta"}, TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "nginx:1@sha256:0123456789012345678901234567890123456789012345678901234567890123"}}}},
		{ID: "id-cache", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "cache", Labels: managed}, TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "redis"}}}},
		{ID: "id-alpha", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "alpha"}, TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "redis"}}}},
	}, nil)
	fn := completeServiceNames(fakeProvider{api})

	got, dir := complete(t, fn, nil, "")
	want := []string{"cache\tstateful, redis", "alpha\tredis", "zeta\tnginx"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("services = %q, want %q (stateful first)", got, want)
	}
	if dir != cobra.ShellCompDirectiveNoFileComp|cobra.ShellCompDirectiveKeepOrder {
		t.Errorf("directive = %v", dir)
	}
	// What can only be an ID gets IDs.
	if got, _ := complete(t, fn, nil, "id-c"); !reflect.DeepEqual(got, []string{"cache\tstateful, redis", "id-cache\tcache", "alpha\tredis", "zeta\tnginx"}) {
		t.Errorf("ID prefix: got %q", got)
	}
	// One SERVICE only.
	if got, _ := complete(t, fn, []string{"cache"}, ""); got != nil {
		t.Errorf("second argument: got %q", got)
	}
}

func TestCompleteNodeNames(t *testing.T) {
	node := func(id, host string, state swarm.NodeState, avail swarm.NodeAvailability) swarm.Node {
		return swarm.Node{ID: id, Description: swarm.NodeDescription{Hostname: host},
			Spec:   swarm.NodeSpec{Role: swarm.NodeRoleWorker, Availability: avail},
			Status: swarm.NodeStatus{State: state}}
	}
	api := completionAPI(nil, []swarm.Node{
		node("n1id", "node1", swarm.NodeStateDown, swarm.NodeAvailabilityActive),
		node("n3id", "node3", swarm.NodeStateReady, swarm.NodeAvailabilityActive),
		node("n2id", "node2", swarm.NodeStateReady, swarm.NodeAvailabilityDrain),
		node("n0id", "node0", swarm.NodeStateReady, swarm.NodeAvailabilityActive),
	})
	got, _ := complete(t, completeNodeNames(fakeProvider{api}), nil, "")
	want := []string{"node0\tworker, ready", "node3\tworker, ready", "node1\tworker, down", "node2\tworker, ready, drain"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("nodes = %q, want %q (usable first)", got, want)
	}
	if got, _ := complete(t, completeNodeNames(fakeProvider{api}), nil, "n3"); !reflect.DeepEqual(got[:2], []string{"node0\tworker, ready", "node3\tworker, ready"}) || len(got) != 5 || got[2] != "n3id\tnode3" {
		t.Errorf("ID prefix: got %q", got)
	}
}

func TestRegisterCompletion(t *testing.T) {
	cli, err := command.NewDockerCli()
	if err != nil {
		t.Fatal(err)
	}
	upd := dockerServiceCommand(cli, "update")
	upd.Flags().String("volume-name", "", "")
	upd.Flags().String("mine", "", "")
	registerCompletion(cli, upd)
	if upd.ValidArgsFunction == nil {
		t.Error("update: no SERVICE completion")
	}
	for _, f := range []string{"volume-name", "mine", "update-order"} {
		if _, ok := upd.GetFlagCompletionFunc(f); !ok {
			t.Errorf("update --%s: no completion registered", f)
		}
	}
	// docker's own flag completions are kept.
	fn, _ := upd.GetFlagCompletionFunc("update-order")
	if got, _ := complete(t, fn, nil, ""); !reflect.DeepEqual(got, []string{"start-first", "stop-first"}) {
		t.Errorf("--update-order: got %q", got)
	}

	create := dockerServiceCommand(cli, "create")
	create.Flags().String("pin", "", "")
	registerCompletion(cli, create)
	if _, ok := create.GetFlagCompletionFunc("pin"); !ok {
		t.Error("create --pin: no completion")
	}
	for use, want := range map[string]string{"update [OPTIONS] SERVICE": "SERVICE", "create [OPTIONS] IMAGE [COMMAND] [ARG...]": "IMAGE", "version": "", "verify [OPTIONS] SERVICE...": "SERVICE"} {
		if got := firstArg(use); got != want {
			t.Errorf("firstArg(%q) = %q, want %q", use, got, want)
		}
	}
}
