package commands

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The plugin takes PGPASSWORD out of its environment when it starts, as REDISCLI_AUTH: a
// process it starts does not see it, while the flows still read it.
func TestPGPasswordNotInheritedByChildren(t *testing.T) {
	const pw = "Child-PG-Pw-31c9"
	if os.Getenv("DST_TEST_CHILD") == "1" {
		out, err := exec.Command("sh", "-c", `echo "child sees [$PGPASSWORD]"; tr '\0' '\n' < /proc/self/environ`).CombinedOutput()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("%s\nplugin reads [%s]\n", out, redisGetenv("PGPASSWORD"))
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestPGPasswordNotInheritedByChildren$", "-test.v")
	cmd.Env = append(os.Environ(), "DST_TEST_CHILD=1", "PGPASSWORD="+pw)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "child sees []") || strings.Count(s, pw) != 1 || !strings.Contains(s, "plugin reads ["+pw+"]") {
		t.Errorf("a child process of the plugin sees the password, or the plugin does not:\n%s", s)
	}
}
