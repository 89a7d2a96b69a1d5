package intercept

import (
	"context"
	"errors"
	"testing"

	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/command/service"
	"github.com/docker/cli/cli/flags"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
)

// fakeAPI records what reaches the daemon.
type fakeAPI struct {
	client.APIClient
	current swarm.Service
	created []swarm.ServiceSpec
	updated []swarm.ServiceSpec
}

func (f *fakeAPI) ServiceCreate(_ context.Context, spec swarm.ServiceSpec, _ swarm.ServiceCreateOptions) (swarm.ServiceCreateResponse, error) {
	f.created = append(f.created, spec)
	return swarm.ServiceCreateResponse{ID: "new-id"}, nil
}

func (f *fakeAPI) ServiceUpdate(_ context.Context, _ string, _ swarm.Version, spec swarm.ServiceSpec, _ swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error) {
	f.updated = append(f.updated, spec)
	return swarm.ServiceUpdateResponse{}, nil
}

func (f *fakeAPI) Ping(context.Context) (types.Ping, error) {
	return types.Ping{APIVersion: "1.41"}, nil
}

func (f *fakeAPI) ClientVersion() string { return "1.41" }

func (f *fakeAPI) NegotiateAPIVersionPing(types.Ping) {}

func (f *fakeAPI) ServiceInspectWithRaw(context.Context, string, swarm.ServiceInspectOptions) (swarm.Service, []byte, error) {
	return f.current, nil, nil
}

func newCli(t *testing.T, api client.APIClient) *Cli {
	t.Helper()
	dockerCLI, err := command.NewDockerCli(command.WithAPIClient(api))
	if err != nil {
		t.Fatal(err)
	}
	if err := dockerCLI.Initialize(flags.NewClientOptions()); err != nil {
		t.Fatal(err)
	}
	return New(dockerCLI)
}

func TestCreateHookChangesTheSpecThatIsSent(t *testing.T) {
	api := &fakeAPI{}
	c := newCli(t, api)
	var sentID string
	c.BeforeCreate = func(_ context.Context, spec *swarm.ServiceSpec, _ *swarm.ServiceCreateOptions) error {
		spec.Labels = map[string]string{"added": "yes"}
		return nil
	}
	c.AfterSend = func(_ context.Context, id string) { sentID = id }
	if _, err := c.Client().ServiceCreate(context.Background(), swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "x"}}, swarm.ServiceCreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(api.created) != 1 || api.created[0].Labels["added"] != "yes" {
		t.Fatalf("daemon got %+v, want the hook's label", api.created)
	}
	if sentID != "new-id" {
		t.Fatalf("AfterSend got %q", sentID)
	}
}

func TestStopSendsNothing(t *testing.T) {
	api := &fakeAPI{current: swarm.Service{ID: "s", Meta: swarm.Meta{Version: swarm.Version{Index: 7}}}}
	c := newCli(t, api)
	afterSend := false
	c.AfterSend = func(context.Context, string) { afterSend = true }
	c.BeforeCreate = func(context.Context, *swarm.ServiceSpec, *swarm.ServiceCreateOptions) error { return Stop{Status: 0} }
	c.BeforeUpdate = func(context.Context, swarm.Service, *swarm.ServiceSpec, *swarm.ServiceUpdateOptions) error {
		return Stop{Status: 1}
	}
	_, err := c.Client().ServiceCreate(context.Background(), swarm.ServiceSpec{}, swarm.ServiceCreateOptions{})
	if s, ok := AsStop(err); !ok || s.Status != 0 {
		t.Fatalf("create: got %v, want Stop{0}", err)
	}
	_, err = c.Client().ServiceUpdate(context.Background(), "s", swarm.Version{Index: 7}, swarm.ServiceSpec{}, swarm.ServiceUpdateOptions{})
	if s, ok := AsStop(err); !ok || s.Status != 1 {
		t.Fatalf("update: got %v, want Stop{1}", err)
	}
	if len(api.created)+len(api.updated) != 0 || afterSend {
		t.Fatalf("something was sent: created %d, updated %d, AfterSend %v", len(api.created), len(api.updated), afterSend)
	}
}

func TestUpdateHookSeesTheCurrentServiceAndRefusesAStaleVersion(t *testing.T) {
	api := &fakeAPI{current: swarm.Service{ID: "s", Meta: swarm.Meta{Version: swarm.Version{Index: 9}}}}
	c := newCli(t, api)
	var seen swarm.Service
	c.BeforeUpdate = func(_ context.Context, current swarm.Service, _ *swarm.ServiceSpec, _ *swarm.ServiceUpdateOptions) error {
		seen = current
		return nil
	}
	if _, err := c.Client().ServiceUpdate(context.Background(), "s", swarm.Version{Index: 9}, swarm.ServiceSpec{}, swarm.ServiceUpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if seen.ID != "s" || len(api.updated) != 1 {
		t.Fatalf("hook saw %q, daemon got %d updates", seen.ID, len(api.updated))
	}
	_, err := c.Client().ServiceUpdate(context.Background(), "s", swarm.Version{Index: 8}, swarm.ServiceSpec{}, swarm.ServiceUpdateOptions{})
	if err == nil || len(api.updated) != 1 {
		t.Fatalf("stale version: err %v, updates %d; want an error and nothing sent", err, len(api.updated))
	}
	if _, ok := AsStop(errors.New("other")); ok {
		t.Fatal("AsStop matched a plain error")
	}
}

// TestNoSendSendsNothing: with NoSend the hooks see every spec, and no
// service, network, secret or config change reaches the daemon (the fake's
// embedded nil client would panic on any call it does not implement).
func TestNoSendSendsNothing(t *testing.T) {
	api := &fakeAPI{current: swarm.Service{ID: "svc", Meta: swarm.Meta{Version: swarm.Version{Index: 3}}}}
	c := newCli(t, api)
	c.NoSend = true
	var seen []string
	c.BeforeCreate = func(_ context.Context, spec *swarm.ServiceSpec, _ *swarm.ServiceCreateOptions) error {
		seen = append(seen, "create "+spec.Name)
		return nil
	}
	c.BeforeUpdate = func(_ context.Context, _ swarm.Service, spec *swarm.ServiceSpec, _ *swarm.ServiceUpdateOptions) error {
		seen = append(seen, "update "+spec.Name)
		return nil
	}
	ctx := context.Background()
	api2 := c.Client()
	if _, err := api2.ServiceCreate(ctx, swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "a"}}, swarm.ServiceCreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := api2.ServiceUpdate(ctx, "svc", swarm.Version{Index: 3}, swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "b"}}, swarm.ServiceUpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := api2.ServiceRemove(ctx, "svc"); err != nil {
		t.Fatal(err)
	}
	if _, err := api2.NetworkCreate(ctx, "n", network.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := api2.SecretCreate(ctx, swarm.SecretSpec{}); err != nil {
		t.Fatal(err)
	}
	if _, err := api2.ConfigCreate(ctx, swarm.ConfigSpec{}); err != nil {
		t.Fatal(err)
	}
	if len(api.created)+len(api.updated) != 0 {
		t.Errorf("sent %d creates and %d updates with NoSend", len(api.created), len(api.updated))
	}
	if len(seen) != 2 {
		t.Errorf("hooks saw %q, want the create and the update", seen)
	}
}

// With LatestVersion (stack deploy) an update read at an older version is
// sent against the current one; without, it is refused.
func TestLatestVersion(t *testing.T) {
	api := &fakeAPI{current: swarm.Service{ID: "svc", Meta: swarm.Meta{Version: swarm.Version{Index: 9}}}}
	c := newCli(t, api)
	c.BeforeUpdate = func(context.Context, swarm.Service, *swarm.ServiceSpec, *swarm.ServiceUpdateOptions) error {
		return nil
	}
	if _, err := c.Client().ServiceUpdate(context.Background(), "svc", swarm.Version{Index: 3}, swarm.ServiceSpec{}, swarm.ServiceUpdateOptions{}); err == nil || len(api.updated) != 0 {
		t.Fatalf("a stale version was sent (err %v)", err)
	}
	c.LatestVersion = true
	if _, err := c.Client().ServiceUpdate(context.Background(), "svc", swarm.Version{Index: 3}, swarm.ServiceSpec{}, swarm.ServiceUpdateOptions{}); err != nil || len(api.updated) != 1 {
		t.Fatalf("LatestVersion: err %v, %d sent", err, len(api.updated))
	}
}

func (f *fakeAPI) SecretList(context.Context, swarm.SecretListOptions) ([]swarm.Secret, error) {
	return []swarm.Secret{{ID: "old", Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: "st_old"}}}}, nil
}

func (f *fakeAPI) ConfigList(context.Context, swarm.ConfigListOptions) ([]swarm.Config, error) {
	return nil, nil
}

// In a NoSend pass a secret or config the stack "created" is found by
// docker's own converter (service.ParseSecrets/ParseConfigs list them by
// name); with NoSend off only the daemon's are listed.
func TestNoSendCreatedSecretsAreListed(t *testing.T) {
	c := newCli(t, &fakeAPI{})
	c.NoSend = true
	ctx := context.Background()
	api := c.Client()
	if _, err := api.SecretCreate(ctx, swarm.SecretSpec{Annotations: swarm.Annotations{Name: "st_app_pw"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.ConfigCreate(ctx, swarm.ConfigSpec{Annotations: swarm.Annotations{Name: "st_conf"}}); err != nil {
		t.Fatal(err)
	}
	secrets, err := service.ParseSecrets(ctx, api, []*swarm.SecretReference{
		{SecretName: "st_app_pw", File: &swarm.SecretReferenceFileTarget{Name: "app_pw"}},
		{SecretName: "st_old", File: &swarm.SecretReferenceFileTarget{Name: "old"}},
	})
	if err != nil || len(secrets) != 2 {
		t.Fatalf("ParseSecrets: %v %v", secrets, err)
	}
	configs, err := service.ParseConfigs(ctx, api, []*swarm.ConfigReference{
		{ConfigName: "st_conf", File: &swarm.ConfigReferenceFileTarget{Name: "/etc/x.conf"}},
	})
	if err != nil || len(configs) != 1 {
		t.Fatalf("ParseConfigs: %v %v", configs, err)
	}
	if _, err := service.ParseSecrets(ctx, api, []*swarm.SecretReference{{SecretName: "st_missing", File: &swarm.SecretReferenceFileTarget{Name: "m"}}}); err == nil {
		t.Errorf("a secret nobody created was found")
	}
	c.NoSend = false
	if _, err := service.ParseSecrets(ctx, api, []*swarm.SecretReference{{SecretName: "st_app_pw", File: &swarm.SecretReferenceFileTarget{Name: "app_pw"}}}); err == nil {
		t.Errorf("with NoSend off, a secret that was never sent was found")
	}
}
