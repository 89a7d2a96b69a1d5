package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/docker-stateful/docker-stateful/cmd/commands"
	"github.com/docker-stateful/docker-stateful/plugin/helptext"
)

// withVerb adds a verb to the root, as another change to cmd/commands
// would: the generators must pick it up with no change of theirs.
func withVerb(t *testing.T) {
	t.Helper()
	newRoot = func(cli command.Cli) *cobra.Command {
		root := commands.NewRootCommand(cli)
		cmd := &cobra.Command{
			Use:   "frobnicate [OPTIONS] SERVICE",
			Short: "Frobnicate a service",
			Args:  cobra.ExactArgs(1),
			RunE:  func(*cobra.Command, []string) error { return nil },
		}
		cmd.Flags().Duration("frob-timeout", 0, "How long to frobnicate, with a usage long enough to be wrapped on a narrow terminal by pflag")
		root.AddCommand(cmd, &cobra.Command{Use: "secret", Hidden: true, Run: func(*cobra.Command, []string) {}})
		return root
	}
	t.Cleanup(func() { newRoot = commands.NewRootCommand })
}

func TestDocsHaveEveryCommand(t *testing.T) {
	withVerb(t)
	dir := t.TempDir()
	stale := filepath.Join(dir, "docker_stateful_gone.md") // a verb removed since
	if err := os.WriteFile(stale, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeDocs(dir); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	for _, want := range []string{"docker_stateful.md", "docker_stateful_create.md", "docker_stateful_update.md", "docker_stateful_frobnicate.md"} {
		if !slices.Contains(names, want) {
			t.Errorf("%s not written: %v", want, names)
		}
	}
	for _, unwanted := range []string{"docker_stateful_gone.md", "docker_stateful_secret.md", "docker_stateful_help.md", "docker.md"} {
		if slices.Contains(names, unwanted) {
			t.Errorf("%s written or kept: %v", unwanted, names)
		}
	}
	frob, _ := os.ReadFile(filepath.Join(dir, "docker_stateful_frobnicate.md"))
	for _, want := range []string{"## docker stateful frobnicate", "docker stateful frobnicate [OPTIONS] SERVICE\n", "--frob-timeout duration", "[docker stateful](docker_stateful.md)"} {
		if !strings.Contains(string(frob), want) {
			t.Errorf("docker_stateful_frobnicate.md lacks %q:\n%s", want, frob)
		}
	}
	root, _ := os.ReadFile(filepath.Join(dir, "docker_stateful.md"))
	if !strings.Contains(string(root), "(docker_stateful_frobnicate.md)") || strings.Contains(string(root), "secret") {
		t.Errorf("docker_stateful.md does not list the verbs a user can call:\n%s", root)
	}
}

func TestHelpPagesHaveEveryCommand(t *testing.T) {
	withVerb(t)
	pages, note, err := helpPages() // checks each page against the plugin's own
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range pages {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	// Every verb a user can call has a page, the made-up one too, and no
	// hidden one does.
	for _, want := range []string{"", "completion", "create", "frobnicate", "update", "verify"} {
		if !slices.Contains(keys, want) {
			t.Errorf("pages %q lack %q", keys, want)
		}
	}
	if slices.Contains(keys, "secret") || slices.Contains(keys, "docker-cli-plugin-hooks") {
		t.Errorf("pages %q include a hidden command", keys)
	}
	if !strings.Contains(note, "-h") {
		t.Errorf("note for -h: %q", note)
	}
	frob := pages["frobnicate"]
	if len(frob.Flags) != 1 || len(frob.Flags[0]) != 1 || frob.Flags[0][0].Left != "      --frob-timeout duration" {
		t.Errorf("frobnicate's flags: %+v", frob.Flags)
	}
	if narrow := frob.Render(60); !strings.Contains(narrow, "\n                ") {
		t.Errorf("not wrapped at 60 columns:\n%s", narrow)
	}
}

// TestFlagLinesArePflags: the front lays out and wraps flags as pflag does,
// also for flags the commands do not have today.
func TestFlagLinesArePflags(t *testing.T) {
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	fs.BoolP("detach", "d", false, "Exit immediately")
	fs.String("format", "", "Pretty-print using a Go `template`, a usage long enough to wrap several times on an ordinary terminal of eighty columns")
	fs.String("mode", "replicated", "Service mode")
	fs.Int("replicas", 0, "Number of tasks")
	fs.StringSlice("label", []string{"a=b"}, "Service labels\nsecond line of the usage,\n  indented")
	fs.Duration("wait", 30*time.Second, "How long to wait")
	fs.String("color", "auto", "When to color")
	fs.Lookup("color").NoOptDefVal = "always"
	fs.Bool("old", false, "An old flag")
	_ = fs.MarkDeprecated("old", "use --new")
	fs.StringP("quiet", "q", "", "Shorthand deprecated")
	_ = fs.MarkShorthandDeprecated("quiet", "use --quiet")
	fs.Bool("secret", false, "Hidden")
	_ = fs.MarkHidden("secret")
	fs.String("averyveryveryveryverylongflagname", "", "Pushes the usage column to the right")

	lines, err := flagLines(fs)
	if err != nil {
		t.Fatal(err)
	}
	for cols := -1; cols <= 300; cols++ {
		if got, want := helptext.FlagUsages(lines, cols), fs.FlagUsagesWrapped(cols); got != want {
			t.Fatalf("%d columns:\n%s\npflag:\n%s", cols, got, want)
		}
	}
}
