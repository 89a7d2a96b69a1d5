// Package intercept puts docker-stateful at the API boundary of docker's own
// service commands. Docker's `service create` and `service update` run in
// process on a Cli whose Client() is wrapped: ServiceCreate and ServiceUpdate
// first hand the exact spec docker computed to our hooks, which may change it
// (add mounts, a pin), refuse it, or stop before anything is sent (--dry-run).
package intercept

import (
	"context"
	"errors"
	"fmt"

	"github.com/docker/cli/cli/command"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
)

// CreateHook sees the spec of a service about to be created and may change it.
// A non-nil error stops the create: nothing is sent.
type CreateHook func(ctx context.Context, spec *swarm.ServiceSpec, opts *swarm.ServiceCreateOptions) error

// UpdateHook sees the current service and the spec docker computed for the
// update (which it may change). A non-nil error stops the update.
type UpdateHook func(ctx context.Context, current swarm.Service, spec *swarm.ServiceSpec, opts *swarm.ServiceUpdateOptions) error

// Cli is a command.Cli whose API client runs the hooks. Build docker's
// commands on it; set the hooks before they run.
type Cli struct {
	command.Cli
	BeforeCreate CreateHook
	BeforeUpdate UpdateHook
	// AfterSend runs once the create or update was accepted by the daemon,
	// before docker waits for convergence (e.g. to release a write pause).
	AfterSend func(ctx context.Context, serviceID string)
	// NoSend makes every change a no-op that succeeds: the hooks still see
	// each service spec, but nothing (service, network, secret, config) is
	// created, updated or removed. A stack deploy runs once this way to
	// judge every service before any of them is sent.
	NoSend bool
	// LatestVersion sends an update against the service's current version
	// instead of refusing the one docker read earlier. For stack deploy
	// only: it computes the whole spec from the compose file (nothing of the
	// current one to lose), and a long --verify of one service lets the
	// others' versions move on (their update status changes them).
	LatestVersion bool

	// The secrets and configs a NoSend pass "created", by name: docker's
	// converter then looks them up by name (SecretList, ConfigList), and
	// finds them (pending.go).
	pendingSecrets map[string]swarm.Secret
	pendingConfigs map[string]swarm.Config
}

// New wraps dockerCLI. The real client is looked up on every call, since the
// plugin framework initialises it only after the commands are built.
func New(dockerCLI command.Cli) *Cli {
	return &Cli{Cli: dockerCLI}
}

// Client returns the real API client with ServiceCreate/ServiceUpdate hooked.
func (c *Cli) Client() client.APIClient {
	return &apiClient{APIClient: c.Cli.Client(), cli: c}
}

type apiClient struct {
	client.APIClient
	cli *Cli
}

func (a *apiClient) ServiceCreate(ctx context.Context, spec swarm.ServiceSpec, opts swarm.ServiceCreateOptions) (swarm.ServiceCreateResponse, error) {
	if a.cli.BeforeCreate != nil {
		if err := a.cli.BeforeCreate(ctx, &spec, &opts); err != nil {
			return swarm.ServiceCreateResponse{}, err
		}
	}
	if a.cli.NoSend {
		return swarm.ServiceCreateResponse{ID: "(not sent) " + spec.Name}, nil
	}
	resp, err := a.APIClient.ServiceCreate(ctx, spec, opts)
	if err == nil && a.cli.AfterSend != nil {
		a.cli.AfterSend(ctx, resp.ID)
	}
	return resp, err
}

func (a *apiClient) ServiceUpdate(ctx context.Context, serviceID string, version swarm.Version, spec swarm.ServiceSpec, opts swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error) {
	if a.cli.BeforeUpdate != nil {
		current, _, err := a.APIClient.ServiceInspectWithRaw(ctx, serviceID, swarm.ServiceInspectOptions{})
		if err != nil {
			return swarm.ServiceUpdateResponse{}, err
		}
		if current.Version.Index != version.Index && a.cli.LatestVersion {
			version = current.Version
		}
		if current.Version.Index != version.Index {
			return swarm.ServiceUpdateResponse{}, fmt.Errorf("service %s changed while the update was prepared (version %d, now %d): run the command again", serviceID, version.Index, current.Version.Index)
		}
		if err := a.cli.BeforeUpdate(ctx, current, &spec, &opts); err != nil {
			return swarm.ServiceUpdateResponse{}, err
		}
	}
	if a.cli.NoSend {
		return swarm.ServiceUpdateResponse{}, nil
	}
	resp, err := a.APIClient.ServiceUpdate(ctx, serviceID, version, spec, opts)
	if err == nil && a.cli.AfterSend != nil {
		a.cli.AfterSend(ctx, serviceID)
	}
	return resp, err
}

// The other changes a stack deploy makes, skipped under NoSend.

func (a *apiClient) ServiceRemove(ctx context.Context, serviceID string) error {
	if a.cli.NoSend {
		return nil
	}
	return a.APIClient.ServiceRemove(ctx, serviceID)
}

func (a *apiClient) NetworkCreate(ctx context.Context, name string, opts network.CreateOptions) (network.CreateResponse, error) {
	if a.cli.NoSend {
		return network.CreateResponse{}, nil
	}
	return a.APIClient.NetworkCreate(ctx, name, opts)
}

func (a *apiClient) SecretCreate(ctx context.Context, spec swarm.SecretSpec) (swarm.SecretCreateResponse, error) {
	if a.cli.NoSend {
		return swarm.SecretCreateResponse{ID: a.cli.pendSecret(spec)}, nil
	}
	return a.APIClient.SecretCreate(ctx, spec)
}

func (a *apiClient) SecretUpdate(ctx context.Context, id string, version swarm.Version, spec swarm.SecretSpec) error {
	if a.cli.NoSend {
		return nil
	}
	return a.APIClient.SecretUpdate(ctx, id, version, spec)
}

func (a *apiClient) ConfigCreate(ctx context.Context, spec swarm.ConfigSpec) (swarm.ConfigCreateResponse, error) {
	if a.cli.NoSend {
		return swarm.ConfigCreateResponse{ID: a.cli.pendConfig(spec)}, nil
	}
	return a.APIClient.ConfigCreate(ctx, spec)
}

func (a *apiClient) ConfigUpdate(ctx context.Context, id string, version swarm.Version, spec swarm.ConfigSpec) error {
	if a.cli.NoSend {
		return nil
	}
	return a.APIClient.ConfigUpdate(ctx, id, version, spec)
}

// Stop ends a command before anything is sent, with an exit status (0 for a
// dry run that would be allowed). The hook has printed what there is to say.
type Stop struct{ Status int }

func (s Stop) Error() string { return fmt.Sprintf("stopped before sending (exit status %d)", s.Status) }

// AsStop reports whether err is (or wraps) a Stop.
func AsStop(err error) (Stop, bool) {
	var s Stop
	ok := errors.As(err, &s)
	return s, ok
}
