package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/docker/cli/cli-plugins/hooks"
	"github.com/docker/cli/cli-plugins/metadata"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/config"
	cliflags "github.com/docker/cli/cli/flags"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	"github.com/spf13/cobra"

	"github.com/docker-stateful/docker-stateful/plugin/hint"
	"github.com/docker-stateful/docker-stateful/plugin/hookconfig"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// Hooks: with `"plugins": {"stateful": {"hooks": "service update,service
// create"}}` and `"features": {"hooks": "true"}` in the user's config.json
// (install.sh --hooks, which registers "stack deploy" too), docker runs
// `docker-stateful stateful docker-cli-plugin-hooks '<json>'` after a plain
// `docker service update`, `create` or `docker stack deploy`, when stdout is a terminal, and prints the template we answer
// under "What's next:".

const (
	// hookBudget bounds the hook's work: docker waits for it after the
	// user's command has finished.
	hookBudget = 1500 * time.Millisecond
	// hookDeadline is when the hook gives up whatever it is doing (a stuck
	// context, an ssh connection helper) and exits silently.
	hookDeadline = 2 * time.Second
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

// hookAPI is the part of the Docker API the hook uses.
type hookAPI interface {
	ServiceList(ctx context.Context, options swarm.ServiceListOptions) ([]swarm.Service, error)
	TaskList(ctx context.Context, options swarm.TaskListOptions) ([]swarm.Task, error)
	NodeList(ctx context.Context, options swarm.NodeListOptions) ([]swarm.Node, error)
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
}

func newHooksCommand() *cobra.Command {
	return &cobra.Command{
		Use:    metadata.HookSubcommandName + " JSON",
		Hidden: true,
		Args:   cobra.ArbitraryArgs,
		// Not plugin.PersistentPreRunE: the hook sets up its own client,
		// with a short timeout, and must never prompt, hang or print errors.
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		RunE: func(cmd *cobra.Command, args []string) error {
			time.AfterFunc(hookDeadline, func() { os.Exit(0) })
			if len(args) != 1 {
				return nil
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), hookBudget)
			defer cancel()
			api, err := newHookClient(ctx)
			if err != nil {
				return nil
			}
			defer api.Close()
			writeHookReply(cmd.OutOrStdout(), hookReply(ctx, api, args[0], time.Now()))
			return nil
		},
	}
}

// newHookClient connects as plain docker would: DOCKER_HOST, DOCKER_CONTEXT,
// the config's current context, TLS settings. (docker passes the hook no
// global flags, so -H or --context on the user's command cannot be seen.)
func newHookClient(ctx context.Context) (client.APIClient, error) {
	api, err := command.NewAPIClientFromFlags(cliflags.NewClientOptions(), config.LoadDefaultConfigFile(io.Discard))
	if err != nil {
		return nil, err
	}
	api.NegotiateAPIVersion(ctx)
	return api, nil
}

func writeHookReply(w io.Writer, tmpl string) {
	if tmpl == "" {
		return
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(hooks.HookMessage{Type: hooks.NextSteps, Template: tmpl})
}

// hookReply is the template docker renders after the command (""= say
// nothing): the hint of the service the command named, if it is at risk.
func hookReply(ctx context.Context, api hookAPI, arg string, now time.Time) string {
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
	hooked := make([]hint.Hooked, 0, len(services))
	for _, s := range services {
		hooked = append(hooked, hint.Hooked{Name: s.Spec.Name, ID: s.ID, Text: hint.Text(hint.Service{
			ID:           s.ID,
			Spec:         s.Spec,
			ImageVolumes: images[stateful.Image(s.Spec)],
			TaskNode:     taskNode[s.ID],
			Nodes:        stateful.NodesFrom(nodes),
		})})
	}
	if stack {
		stacks := map[string][]hint.Hooked{}
		for i, s := range services {
			if ns := s.Spec.Labels[stackNamespaceLabel]; ns != "" {
				stacks[ns] = append(stacks[ns], hooked[i])
			}
		}
		return hint.StackTemplate(stacks)
	}
	if !create {
		return hint.UpdateTemplate(hooked)
	}
	_, nameSet := data.Flags["name"]
	var newest *hint.Hooked
	if !nameSet && now.Sub(services[0].CreatedAt) < 10*time.Minute {
		newest = &hooked[0]
	}
	return hint.CreateTemplate(hooked, nameSet, newest)
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
func imageVolumes(ctx context.Context, api hookAPI, services []swarm.Service) map[string][]string {
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

// newConfigHooksCommand edits a docker config.json for install.sh, which
// cannot count on jq or python: `add CONFIG` registers the hint hook and
// prints what it changed, one record per line; `remove CONFIG RECORD...`
// undoes exactly those changes; `check CONFIG` says whether add would work.
func newConfigHooksCommand() *cobra.Command {
	return &cobra.Command{
		Use:                   "__config-hooks add|remove|check CONFIG [RECORD...]",
		Short:                 "Register or remove the hint hook in a docker config.json (used by install.sh)",
		Hidden:                true,
		Args:                  cobra.MinimumNArgs(2),
		DisableFlagsInUseLine: true,
		PersistentPreRunE:     func(*cobra.Command, []string) error { return nil },
		RunE: func(cmd *cobra.Command, args []string) error {
			switch args[0] {
			case "add":
				if len(args) != 2 {
					return errors.New(`"__config-hooks add" takes one argument: the config.json path`)
				}
				record, err := hookconfig.AddFile(args[1])
				for _, r := range record {
					_, _ = fmt.Fprintln(cmd.OutOrStdout(), r)
				}
				return err
			case "remove":
				return hookconfig.RemoveFile(args[1], args[2:])
			case "check":
				return hookconfig.CheckFile(args[1])
			}
			return fmt.Errorf("unknown action %q: use add, remove or check", args[0])
		},
	}
}
