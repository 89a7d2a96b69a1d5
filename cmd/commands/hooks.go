package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/docker/cli/cli-plugins/hooks"
	"github.com/docker/cli/cli-plugins/metadata"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/config"
	cliflags "github.com/docker/cli/cli/flags"
	"github.com/docker/docker/client"
	"github.com/spf13/cobra"

	"github.com/docker-stateful/docker-stateful/plugin/hint"
	"github.com/docker-stateful/docker-stateful/plugin/hookconfig"
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
)

// hookReplyFunc answers the hook: hint.Reply, or a test's stand-in.
type hookReplyFunc func(ctx context.Context, api hint.API, arg string, now time.Time) string

func newHooksCommand(replyF hookReplyFunc) *cobra.Command {
	if replyF == nil {
		replyF = hint.Reply
	}
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
			writeHookReply(cmd.OutOrStdout(), replyF(ctx, api, args[0], time.Now()))
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
