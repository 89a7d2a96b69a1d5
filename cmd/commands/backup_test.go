package commands

import (
	"strings"
	"testing"
)

// TestBackupRestoreBadInput: flags that cannot work are refused in one line
// before the service is looked up or Redis reached (backup would otherwise
// pause writes first).
func TestBackupRestoreBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"backup", "-o", "-", "--format", "json", "cache"}, "--format"},
		{[]string{"backup", "--format", "{{.Records", "cache"}, "--format"},
		{[]string{"backup", "--timeout", "0s", "cache"}, "--timeout"},
		{[]string{"restore", "--redis-port", "0", "cache", "f.dsbackup"}, "--redis-port"},
		{[]string{"restore", "--format", "{{.Verdict", "cache", "f.dsbackup"}, "--format"},
	} {
		api := &updateFakeAPI{svc: updatePinnedRedis()}
		full := append([]string{tc.args[0], "--state-dir", t.TempDir()}, tc.args[1:]...)
		stdout, stderr, err := runOnAPI(t, api, NewRootCommand, full...)
		if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one line naming %s", tc.args, err, tc.want)
		}
		if stdout != "" || stderr != "" {
			t.Errorf("%v: printed %q %q before refusing", tc.args, stdout, stderr)
		}
	}
}
