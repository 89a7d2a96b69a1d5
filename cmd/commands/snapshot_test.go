package commands

import (
	"bytes"
	"strings"
	"testing"

	"github.com/docker/cli/cli/command"
	cliflags "github.com/docker/cli/cli/flags"
)

// TestSnapshotVerifyBadInput: a --format template that cannot be parsed, a
// --timeout that is not positive or a bad Redis flag is refused before the
// service is looked up or Redis reached (snapshot would otherwise pause
// writes and save, and only then fail to print its ID).
func TestSnapshotVerifyBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"snapshot", "--format", "{{.ID", "cache"},
		{"verify", "--format", "{{.Verdict", "cache"},
		{"snapshot", "--timeout", "0s", "cache"},
		{"verify", "--timeout", "-1s", "cache"},
		{"snapshot", "--redis-port", "0", "cache"},
	} {
		api := &updateFakeAPI{svc: updatePinnedRedis()}
		var out, errOut bytes.Buffer
		dcli, err := command.NewDockerCli(command.WithAPIClient(api), command.WithOutputStream(&out), command.WithErrorStream(&errOut))
		if err != nil {
			t.Fatal(err)
		}
		if err := dcli.Initialize(cliflags.NewClientOptions()); err != nil {
			t.Fatal(err)
		}
		root := NewRootCommand(dcli)
		// never the user's own state directory
		root.SetArgs(append([]string{args[0], "--state-dir", t.TempDir()}, args[1:]...))
		root.SetOut(&out)
		root.SetErr(&errOut)
		err = root.Execute()
		if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), args[1]) {
			t.Errorf("%v: error %v, want one line naming %s", args, err, args[1])
		}
		if out.Len() != 0 || errOut.Len() != 0 {
			t.Errorf("%v: printed %q %q before refusing", args, out.String(), errOut.String())
		}
	}
}
