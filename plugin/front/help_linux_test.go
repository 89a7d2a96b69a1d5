package front

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestHelpSameAsFullBinary: the front prints every command's help itself
// (the full binary it would exec does not exist), byte for byte as the full
// binary does, with stdin not a terminal (80 columns) and on terminals of
// several widths, where docker wraps the flags to the width.
func TestHelpSameAsFullBinary(t *testing.T) {
	needBins(t)
	if len(helpPages) < 2 {
		t.Fatalf("help_gen.go has %d pages: run make docs", len(helpPages))
	}
	fullEnv := testEnv(t)
	frontEnv := append(testEnv(t), FullEnv+"=/nonexistent/docker-stateful")
	run := func(t *testing.T, bin string, env []string, stdin *os.File, args []string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env, cmd.Stdin = env, stdin
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil || errb.Len() > 0 {
			t.Fatalf("%s %q: %v\n%s", bin, args, err, errb.String())
		}
		return out.String()
	}
	for path := range helpPages {
		verb := strings.Fields(path)
		forms := [][]string{
			append(append([]string{"stateful"}, verb...), "--help"),
			append(append([]string{"stateful"}, verb...), "-h"),
			append([]string{"help", "stateful"}, verb...),
		}
		for _, width := range []int{0, 40, 57, 80, 100, 132, 250} {
			name := fmt.Sprintf("%s/%d", path, width)
			t.Run(name, func(t *testing.T) {
				stdin := (*os.File)(nil) // /dev/null: not a terminal
				if width > 0 {
					stdin = terminal(t, width)
				}
				for i, args := range forms {
					if i > 0 && width != 0 && width != 57 {
						continue // the other forms only differ by their first bytes
					}
					want := run(t, bins.full, fullEnv, stdin, args)
					if got := run(t, bins.front, frontEnv, stdin, args); got != want || !strings.Contains(got, "Usage:") {
						t.Errorf("front %q:\n%s\nfull binary:\n%s", args, got, want)
					}
				}
			})
		}
	}
}

// terminal is the slave side of a new pseudo-terminal of the given width.
func terminal(t *testing.T, cols int) *os.File {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { _ = ptmx.Close() })
	fd := int(ptmx.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tty.Close() })
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: uint16(cols)}); err != nil {
		t.Fatal(err)
	}
	return tty
}
