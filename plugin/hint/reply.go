package hint

import (
	"context"
	"encoding/json"
	"sort"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// The hook reply's bounds and names.
const (
	// hookMaxServices bounds the conditionals in the reply.
	hookMaxServices = 100
	// stackNamespaceLabel names a service's stack (docker/cli's
	// convert.LabelNamespace).
	stackNamespaceLabel = "com.docker.stack.namespace"
	// hookMaxImageLookups bounds the image inspects for unknown images.
	hookMaxImageLookups = 10
)

// hookData is what docker passes to the hook (cli-plugins/manager
// HookPluginData): the matched hook, the flags set (values only for bools)
// and the command's error. No arguments, no flag values.
type hookData struct {
	RootCmd      string
	Flags        map[string]string
	CommandError string
}

// API is the part of the Docker API the hook reply uses.
type API interface {
	ServiceList(ctx context.Context, options swarm.ServiceListOptions) ([]swarm.Service, error)
	TaskList(ctx context.Context, options swarm.TaskListOptions) ([]swarm.Task, error)
	NodeList(ctx context.Context, options swarm.NodeListOptions) ([]swarm.Node, error)
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
}

// Reply is the template docker renders after a plain `docker service
// update`, `service create` or `stack deploy` (the CLI plugin hook; "" = say
// nothing): the hint of the service the command named, if it is at risk. arg
// is the JSON docker passes the hook.
func Reply(ctx context.Context, api API, arg string, now time.Time) string {
	var data hookData
	if err := json.Unmarshal([]byte(arg), &data); err != nil || data.CommandError != "" {
		return ""
	}
	create, stack := false, false
	switch data.RootCmd {
	case "service update":
	case "service create":
		create = true
	case "stack deploy":
		stack = true
	default:
		return ""
	}
	services, err := api.ServiceList(ctx, swarm.ServiceListOptions{})
	if err != nil || len(services) == 0 {
		return ""
	}
	nodes, err := api.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return ""
	}
	// The node each service runs on: its task meant to run, else (right
	// after `update --detach`, before the new task is scheduled) its newest.
	taskNode := map[string]string{}
	if tasks, err := api.TaskList(ctx, swarm.TaskListOptions{}); err == nil {
		sort.SliceStable(tasks, func(i, j int) bool {
			ri, rj := tasks[i].DesiredState == swarm.TaskStateRunning, tasks[j].DesiredState == swarm.TaskStateRunning
			if ri != rj {
				return ri
			}
			return tasks[i].UpdatedAt.After(tasks[j].UpdatedAt)
		})
		for _, t := range tasks {
			if t.NodeID != "" && taskNode[t.ServiceID] == "" {
				taskNode[t.ServiceID] = t.NodeID
			}
		}
	}

	// Most recently changed first: the service the user just touched is
	// among the first, however many there are.
	sort.SliceStable(services, func(i, j int) bool {
		if create {
			return services[i].CreatedAt.After(services[j].CreatedAt)
		}
		return services[i].UpdatedAt.After(services[j].UpdatedAt)
	})
	if len(services) > hookMaxServices {
		services = services[:hookMaxServices]
	}
	images := imageVolumes(ctx, api, services)
	hooked := make([]Hooked, 0, len(services))
	for _, s := range services {
		hooked = append(hooked, Hooked{Name: s.Spec.Name, ID: s.ID, Text: Text(Service{
			ID:           s.ID,
			Spec:         s.Spec,
			ImageVolumes: images[stateful.Image(s.Spec)],
			TaskNode:     taskNode[s.ID],
			Nodes:        stateful.NodesFrom(nodes),
		})})
	}
	if stack {
		stacks := map[string][]Hooked{}
		for i, s := range services {
			if ns := s.Spec.Labels[stackNamespaceLabel]; ns != "" {
				stacks[ns] = append(stacks[ns], hooked[i])
			}
		}
		return StackTemplate(stacks)
	}
	if !create {
		return UpdateTemplate(hooked)
	}
	_, nameSet := data.Flags["name"]
	var newest *Hooked
	if !nameSet && now.Sub(services[0].CreatedAt) < 10*time.Minute {
		newest = &hooked[0]
	}
	return CreateTemplate(hooked, nameSet, newest)
}

// needsImageVolumes reports whether the image's VOLUMEs matter to the hint:
// its data paths are otherwise unknown (no labels, not a known image), or
// one has no mount (then the VOLUME says it is on an anonymous volume).
func needsImageVolumes(spec swarm.ServiceSpec) bool {
	paths := stateful.Paths(stateful.DataPathsOf(spec, nil, nil))
	for _, p := range paths {
		if _, ok := stateful.MountFor(stateful.Mounts(spec), p); !ok {
			return true
		}
	}
	return len(paths) == 0
}

// imageVolumes looks up the VOLUMEs of the images whose data paths or mounts
// need them (needsImageVolumes), a few at most, by full image reference
// (every tag may declare other VOLUMEs). An image that cannot be looked up
// maps to nil.
func imageVolumes(ctx context.Context, api API, services []swarm.Service) map[string][]string {
	out := map[string][]string{}
	for _, s := range services {
		if s.Spec.TaskTemplate.ContainerSpec == nil || !needsImageVolumes(s.Spec) {
			continue
		}
		ref := stateful.Image(s.Spec)
		if _, done := out[ref]; done {
			continue
		}
		if len(out) >= hookMaxImageLookups || ctx.Err() != nil {
			break
		}
		out[ref], _ = stateful.LookupImageVolumes(ctx, api, ref)
	}
	return out
}
