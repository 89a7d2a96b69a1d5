package commands

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The plugin takes REDISCLI_AUTH out of its environment when it starts: a process it
// starts (docker's ssh helper for DOCKER_HOST=ssh://..., which inherited the password
// before) does not see it, while update --verify, snapshot and verify still read it.
// The test binary is run again with the variable set, as the plugin would be.
func TestRedisPasswordNotInheritedByChildren(t *testing.T) {
	const pw = "Child-Pw-7e1d"
	if os.Getenv("DST_TEST_CHILD") == "1" {
		out, err := exec.Command("sh", "-c", `echo "child sees [$REDISCLI_AUTH]"; tr '\0' '\n' < /proc/self/environ`).CombinedOutput()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("%s\nplugin reads [%s]\n", out, redisGetenv("REDISCLI_AUTH"))
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRedisPasswordNotInheritedByChildren$", "-test.v")
	cmd.Env = append(os.Environ(), "DST_TEST_CHILD=1", "REDISCLI_AUTH="+pw)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "child sees []") || strings.Count(s, pw) != 1 || !strings.Contains(s, "plugin reads ["+pw+"]") {
		t.Errorf("a child process of the plugin sees the password, or the plugin does not:\n%s", s)
	}
}
