package cluster

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// guard is a small detached shell that runs `swarm.sh down` as soon as the
// test binary is gone, whatever the way it ended (panic in a test, -timeout,
// SIGKILL): it blocks reading a pipe whose only writer is this process.
type guard struct {
	cmd   *exec.Cmd
	w     *os.File     // kept open for our lifetime; EOF for the guard when we die
	claim net.Listener // the cluster index claim
}

func startGuard(script, root string, idx int, claim net.Listener) (*guard, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	cmd := exec.Command("/bin/sh", "-c", `cat >/dev/null; exec "$0" -i "$1" -s "$2" down`, script, strconv.Itoa(idx), root)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r, devnull, devnull
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // not killed with our process group
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	r.Close()
	return &guard{cmd: cmd, w: w, claim: claim}, nil
}

// release stops the guard (the cluster is already down) and frees the index.
func (g *guard) release() {
	if g == nil {
		return
	}
	g.cmd.Process.Kill()
	g.cmd.Wait()
	g.w.Close()
	g.claim.Close()
}
