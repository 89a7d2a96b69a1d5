package pgstate

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cutChild is the process that cuts, as the plugin does: it is run again from the test
// binary, cuts the server given in its environment, takes the cut's snapshot (its marker
// goes to DST_TEST_STATE), says "cut" and waits to be killed.
func TestMain(m *testing.M) {
	if os.Getenv("DST_TEST_CUT_CHILD") == "1" {
		os.Exit(cutChild())
	}
	os.Exit(m.Run())
}

func cutChild() int {
	o, err := ParseURL(os.Getenv("DST_TEST_URL"))
	if err != nil {
		fmt.Println(err)
		return 1
	}
	o.Password = Secret(os.Getenv("DST_TEST_PW"))
	if d, err := time.ParseDuration(os.Getenv("DST_TEST_WATCHDOG")); err == nil {
		WatchdogDeadline = d
	}
	c, _ := NewClient(o)
	ctx := context.Background()
	h, err := Cut(ctx, c, CutOptions{})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	st, _ := OpenStore(os.Getenv("DST_TEST_STATE"))
	if _, err := TakeSnapshot(ctx, c, st, "db", &h.Info, FingerprintOptions{}); err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Println("cut")
	time.Sleep(time.Hour)
	return 0
}

// startCutChild starts the cutting process and waits until its cut is taken.
func startCutChild(t *testing.T, p *testPG, state, watchdog string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "DST_TEST_CUT_CHILD=1", "DST_TEST_URL="+p.URL("postgres", "postgres"),
		"DST_TEST_PW="+p.Password, "DST_TEST_STATE="+state, "DST_TEST_WATCHDOG="+watchdog)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "cut" {
		t.Fatalf("the cutting process: %q", line)
	}
	return cmd
}

func readOnly(t *testing.T, p *testPG) bool {
	t.Helper()
	var ro string
	if err := p.conn("postgres").QueryRow(context.Background(), "SHOW default_transaction_read_only").Scan(&ro); err != nil {
		t.Fatal(err)
	}
	return ro == "on"
}

// The process that cut is killed (SIGKILL) while writes are off: its watchdog resumes
// them, and removes the marker, so nothing reports a read-only database.
func TestKilledDuringTheCutWritesComeBack(t *testing.T) {
	p := startPG(t)
	state := t.TempDir()
	child := startCutChild(t, p, state, "")
	if !readOnly(t, p) {
		t.Fatal("the cut did not turn writes off")
	}
	if pc, err := PendingCuts(state); err != nil || len(pc) != 0 {
		t.Fatalf("a running cut is reported as interrupted: %v %+v", err, pc)
	}
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	waitWritable(t, p)
	deadline := time.Now().Add(5 * time.Second)
	for {
		pc, err := PendingCuts(state)
		if err == nil && len(pc) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the marker of a resumed cut stays: %v %+v", err, pc)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// and across a restart too: nothing is left in postgresql.auto.conf
	p.restart()
	if readOnly(t, p) {
		t.Fatal("the next server starts read-only")
	}
}

// When the watchdog cannot reach the server either (it is down longer than the watchdog
// waits), the database is left read-only: PendingCuts reports it with the one command that
// ends it, and that command does.
func TestKilledDuringTheCutIsReportedWhenNotHealed(t *testing.T) {
	p := startPG(t)
	state := t.TempDir()
	child := startCutChild(t, p, state, "1s")
	if err := p.ctl("-m", "fast", "stop"); err != nil { // e.g. the update stopped the old task
		t.Fatal(err)
	}
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	time.Sleep(3 * time.Second) // the watchdog gives up after 1 s
	if err := p.StartAgain(); err != nil {
		t.Fatal(err)
	}
	if !readOnly(t, p) {
		t.Fatal("the new server is not read-only: nothing to report")
	}
	pc, err := PendingCuts(state)
	if err != nil || len(pc) != 1 || pc[0].Service != "db" || pc[0].Healing || pc[0].PID != child.Process.Pid {
		t.Fatalf("the interrupted cut is not reported: %v %+v", err, pc)
	}
	cmdline := pc[0].ResumeCommand()
	if !strings.HasPrefix(cmdline, "psql 'postgres://postgres@127.0.0.1:"+strconv.Itoa(p.Port)+"/postgres'") {
		t.Fatalf("command %s", cmdline)
	}
	sh := exec.Command("sh", "-c", cmdline)
	sh.Env = append(os.Environ(), "PGPASSWORD="+p.Password)
	if out, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, out)
	}
	waitWritable(t, p)
}
