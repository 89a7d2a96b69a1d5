package intercept

import (
	"context"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
)

// A stack deploy creates its secrets and configs before its services, whose
// references docker's converter resolves by listing them by name. In a NoSend
// pass nothing is created, so the list answers with the ones that would have
// been, under a placeholder ID (never sent: the pass sends nothing).

func (c *Cli) pendSecret(spec swarm.SecretSpec) string {
	if c.pendingSecrets == nil {
		c.pendingSecrets = map[string]swarm.Secret{}
	}
	id := "(not sent) " + spec.Name
	c.pendingSecrets[spec.Name] = swarm.Secret{ID: id, Spec: spec}
	return id
}

func (c *Cli) pendConfig(spec swarm.ConfigSpec) string {
	if c.pendingConfigs == nil {
		c.pendingConfigs = map[string]swarm.Config{}
	}
	id := "(not sent) " + spec.Name
	c.pendingConfigs[spec.Name] = swarm.Config{ID: id, Spec: spec}
	return id
}

func (a *apiClient) SecretList(ctx context.Context, opts swarm.SecretListOptions) ([]swarm.Secret, error) {
	list, err := a.APIClient.SecretList(ctx, opts)
	if err != nil || !a.cli.NoSend {
		return list, err
	}
	have := map[string]bool{}
	for _, s := range list {
		have[s.Spec.Name] = true
	}
	for name, s := range a.cli.pendingSecrets {
		if !have[name] && wanted(opts.Filters, name) {
			list = append(list, s)
		}
	}
	return list, nil
}

func (a *apiClient) ConfigList(ctx context.Context, opts swarm.ConfigListOptions) ([]swarm.Config, error) {
	list, err := a.APIClient.ConfigList(ctx, opts)
	if err != nil || !a.cli.NoSend {
		return list, err
	}
	have := map[string]bool{}
	for _, c := range list {
		have[c.Spec.Name] = true
	}
	for name, c := range a.cli.pendingConfigs {
		if !have[name] && wanted(opts.Filters, name) {
			list = append(list, c)
		}
	}
	return list, nil
}

// wanted reports whether a list filtered by f would include name (only the
// name filter is looked at: it is the one docker's converter sets).
func wanted(f filters.Args, name string) bool {
	return !f.Contains("name") || f.ExactMatch("name", name)
}
