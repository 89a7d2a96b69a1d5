package commands

import (
	"strings"
	"testing"
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
		api := newUpdateFakeAPI(updatePinnedRedis())
		// never the user's own state directory
		full := append([]string{args[0], "--state-dir", t.TempDir()}, args[1:]...)
		stdout, stderr, err := runOnAPI(t, api, NewRootCommand, full...)
		if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), args[1]) {
			t.Errorf("%v: error %v, want one line naming %s", args, err, args[1])
		}
		if stdout != "" || stderr != "" {
			t.Errorf("%v: printed %q %q before refusing", args, stdout, stderr)
		}
	}
}
