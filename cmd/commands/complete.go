package commands

import (
	"fmt"
	"os"
	"strings"

	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/command/completion"
	"github.com/docker/docker/api/types/swarm"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/docker-stateful/docker-stateful/plugin/candidates"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// Shell completion for docker stateful. The shells ask `docker __complete
// stateful …`, which docker (26+) forwards to the plugin's own cobra
// `__complete`; the commands built from docker's own keep docker's flag
// completions (--update-order, --network, …), and registerCompletion adds
// the dynamic values docker stateful's own arguments and flags take.

// registerCompletion sets the completions of docker stateful's arguments and
// flags on cmd: the first positional argument by its name in Use (SERVICE,
// IMAGE, NODE), --pin and --to (nodes), --volume-name (volumes), and no file names
// for any other flag that has no completion yet. Call it last, once every
// flag is defined: cobra refuses a second completion for a flag.
func registerCompletion(dockerCLI command.Cli, cmd *cobra.Command) {
	switch firstArg(cmd.Use) {
	case "SERVICE":
		cmd.ValidArgsFunction = completeServiceNames(dockerCLI)
	case "IMAGE":
		cmd.ValidArgsFunction = completion.ImageNames(dockerCLI, 1)
	case "NODE":
		cmd.ValidArgsFunction = completeNodeNames(dockerCLI)
	}
	for name, fn := range map[string]cobra.CompletionFunc{
		"pin":         completeNodeNames(dockerCLI),
		"to":          completeNodeNames(dockerCLI),
		"volume-name": completion.VolumeNames(dockerCLI),
	} {
		if f := cmd.Flags().Lookup(name); f != nil && f.Value.Type() != "bool" {
			if _, ok := cmd.GetFlagCompletionFunc(name); !ok {
				_ = cmd.RegisterFlagCompletionFunc(name, fn)
			}
		}
	}
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if _, ok := cmd.GetFlagCompletionFunc(f.Name); !ok {
			_ = cmd.RegisterFlagCompletionFunc(f.Name, cobra.NoFileCompletions)
		}
	})
}

// firstArg is the first positional argument named in a command's Use line
// ("update [OPTIONS] SERVICE" → "SERVICE").
func firstArg(use string) string {
	fields := strings.Fields(use)
	for _, f := range fields[min(1, len(fields)):] {
		if strings.HasPrefix(f, "[") {
			continue
		}
		return strings.TrimSuffix(f, "...")
	}
	return ""
}

// completeServiceNames offers the swarm's service names for the first
// argument: the services docker stateful manages first, then the others
// (the ones a plain docker service create made, which are what `docker
// stateful update` protects too). As in docker, IDs are offered as well with
// DOCKER_COMPLETION_SHOW_SERVICE_IDS=yes, or when what is typed so far can
// only be an ID.
func completeServiceNames(dockerCLI completion.APIClientProvider) cobra.CompletionFunc {
	showIDs := os.Getenv("DOCKER_COMPLETION_SHOW_SERVICE_IDS") == "yes"
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		list, err := dockerCLI.Client().ServiceList(cmd.Context(), swarm.ServiceListOptions{})
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		items := make([]candidates.Item, len(list))
		for i, s := range list {
			managed := stateful.IsManaged(s.Spec.Labels)
			desc := imageOf(s.Spec)
			if managed {
				desc = "stateful, " + desc
			}
			items[i] = candidates.Item{Name: s.Spec.Name, ID: s.ID, Desc: desc, First: managed}
		}
		return candidates.Lines(items, toComplete, showIDs), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
	}
}

// completeNodeNames offers the swarm's node hostnames (Ready and Active ones
// first), and their IDs with DOCKER_COMPLETION_SHOW_NODE_IDS=yes or when what
// is typed so far can only be an ID.
func completeNodeNames(dockerCLI completion.APIClientProvider) cobra.CompletionFunc {
	showIDs := os.Getenv("DOCKER_COMPLETION_SHOW_NODE_IDS") == "yes"
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		list, err := dockerCLI.Client().NodeList(cmd.Context(), swarm.NodeListOptions{})
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		items := make([]candidates.Item, len(list))
		for i, n := range list {
			desc := string(n.Spec.Role) + ", " + string(n.Status.State)
			if n.Spec.Availability != swarm.NodeAvailabilityActive {
				desc += ", " + string(n.Spec.Availability)
			}
			usable := n.Status.State == swarm.NodeStateReady && n.Spec.Availability == swarm.NodeAvailabilityActive
			items[i] = candidates.Item{Name: n.Description.Hostname, ID: n.ID, Desc: desc, First: usable}
		}
		return candidates.Lines(items, toComplete, showIDs), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
	}
}

func imageOf(spec swarm.ServiceSpec) string {
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
		return stateful.RepositoryName(cs.Image)
	}
	return "service"
}

// newCompletionCommand is `docker stateful completion SHELL`: the script of
// `docker completion SHELL` (cobra's, for the docker command), which
// completes docker stateful along with every other docker command, since it
// asks `docker __complete` and docker 26+ forwards that to the plugin. It is
// what completion/ holds and install.sh installs.
func newCompletionCommand() *cobra.Command {
	var noDesc bool
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print the shell completion script for docker, which completes docker stateful too",
		Long: `Print the shell completion script for docker, which completes docker stateful
too: its verbs, docker's own flags and their values, service names (the ones
docker stateful manages first), node names for --pin. It is the script of
"docker completion SHELL" and needs docker 26 or later, which forwards
completion to plugins. install.sh installs it; by hand:

  bash (needs bash-completion):
    docker stateful completion bash > ~/.local/share/bash-completion/completions/docker
  zsh:
    docker stateful completion zsh > ~/.local/share/zsh/site-functions/_docker
    # ~/.zshrc: fpath=(~/.local/share/zsh/site-functions $fpath); autoload -Uz compinit && compinit
  fish:
    docker stateful completion fish > ~/.config/fish/completions/docker.fish
  PowerShell:
    docker stateful completion powershell | Out-String | Invoke-Expression`,
		Args:                  cobra.ExactArgs(1),
		ValidArgs:             []string{"bash", "zsh", "fish", "powershell"},
		DisableFlagsInUseLine: true,
		// Prints a script: no daemon, no client set-up.
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		RunE: func(cmd *cobra.Command, args []string) error {
			desc := !noDesc && os.Getenv("DOCKER_CLI_DISABLE_COMPLETION_DESCRIPTION") == ""
			root, out := cmd.Root(), cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, desc)
			case "zsh":
				if desc {
					return root.GenZshCompletion(out)
				}
				return root.GenZshCompletionNoDesc(out)
			case "fish":
				return root.GenFishCompletion(out, desc)
			case "powershell":
				if desc {
					return root.GenPowerShellCompletionWithDesc(out)
				}
				return root.GenPowerShellCompletion(out)
			}
			return fmt.Errorf("unknown shell %q: use bash, zsh, fish or powershell", args[0])
		},
	}
	cmd.Flags().BoolVar(&noDesc, "no-descriptions", false, "Leave out the completion descriptions")
	return cmd
}

// completeServiceNamesAnyArg completes service names for every argument, for
// the verbs that take several (check, rm).
func completeServiceNamesAnyArg(dockerCLI completion.APIClientProvider) cobra.CompletionFunc {
	fn := completeServiceNames(dockerCLI)
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return fn(cmd, nil, toComplete)
	}
}
