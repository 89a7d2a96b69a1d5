package pgstate

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker-stateful/docker-stateful/plugin/snapstore"
)

// The cut's read-only setting lives in postgresql.auto.conf: it has to, for the next
// server on the data directory to start read-only during an update. If the process that
// cut dies (SIGKILL, OOM, a closed terminal), nothing would ever turn writes back on. So
// Cut starts a watchdog: a copy of this program, in its own session, that holds the read
// end of a pipe from it. A successful Resume or Release disarms it; when the pipe closes
// without that (the process that cut is gone, however it ended), the watchdog waits for a
// server on the cut's address (up to WatchdogDeadline: an update may be under way) and
// resumes writes, as an interrupted update's own clean-up does. The password travels
// through the pipe, never in argv or the environment.
//
// TakeSnapshot of a cut also leaves a marker in the state directory (pg-readonly/): it is
// removed when writes are resumed, by this process or by the watchdog. A marker whose
// process is gone is a database that may still be read-only: PendingCuts lists them, with
// the command that ends it, for ls, check and status.

// watchdogEnv makes this program a watchdog (see init).
const watchdogEnv = "DOCKER_STATEFUL_PG_WATCHDOG"

// WatchdogDeadline bounds the watchdog's wait for a server to resume.
var WatchdogDeadline = 15 * time.Minute

func init() {
	if os.Getenv(watchdogEnv) == "1" {
		os.Exit(runWatchdog(os.Stdin))
	}
}

// watchMsg is one line on the watchdog's pipe.
type watchMsg struct {
	Op       string  `json:"op"` // "arm", "marker", "disarm"
	Options  Options `json:"options,omitempty"`
	Password string  `json:"password,omitempty"` // Options.Password encodes as ***
	Path     string  `json:"path,omitempty"`
	// Deadline is WatchdogDeadline of the process that cut.
	Deadline time.Duration `json:"deadline,omitempty"`
}

// runWatchdog is the watchdog's main: it reads the pipe until "disarm" (exit 0) or its end
// (the process that cut is gone: resume writes).
func runWatchdog(in io.Reader) int {
	var opt *Options
	var markers []string
	deadline := WatchdogDeadline
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		var m watchMsg
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		switch m.Op {
		case "arm":
			o := m.Options
			o.Password = Secret(m.Password)
			opt = &o
			if m.Deadline > 0 {
				deadline = m.Deadline
			}
		case "marker":
			markers = append(markers, m.Path)
		case "disarm":
			return 0
		}
	}
	if opt == nil {
		return 0
	}
	c, err := NewClient(*opt)
	if err != nil {
		return 1
	}
	if _, err := ResumeWhenReady(context.Background(), c, deadline); err != nil {
		return 1
	}
	for _, p := range markers {
		os.Remove(p)
	}
	return 0
}

// watchdog is the parent's end of one watchdog.
type watchdog struct {
	w   io.WriteCloser
	cmd *exec.Cmd
}

var (
	watchMu   sync.Mutex
	watchdogs []*watchdog
	markers   []string // this process's markers, removed when writes are resumed
)

func (w *watchdog) send(m watchMsg) error {
	b, _ := json.Marshal(m)
	_, err := w.w.Write(append(b, '\n'))
	return err
}

// startWatchdog starts a watchdog for the server c reaches; nil when it cannot (the cut
// still works, without the guard against this process dying).
func startWatchdog(c *Client) *watchdog {
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), watchdogEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // not killed with our terminal or process group
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil
	}
	if err := cmd.Start(); err != nil {
		return nil
	}
	go cmd.Wait() //nolint:errcheck // reap it whenever it ends
	wd := &watchdog{w: w, cmd: cmd}
	if wd.send(watchMsg{Op: "arm", Options: c.opt, Password: c.opt.Password.Reveal(), Deadline: WatchdogDeadline}) != nil {
		w.Close()
		return nil
	}
	watchMu.Lock()
	watchdogs = append(watchdogs, wd)
	for _, p := range markers {
		_ = wd.send(watchMsg{Op: "marker", Path: p})
	}
	watchMu.Unlock()
	return wd
}

// disarmWatchdogs: writes were resumed; the watchdogs end and the markers go.
func disarmWatchdogs() {
	watchMu.Lock()
	defer watchMu.Unlock()
	for _, wd := range watchdogs {
		_ = wd.send(watchMsg{Op: "disarm"})
		wd.w.Close()
	}
	watchdogs = nil
	for _, p := range markers {
		os.Remove(p)
	}
	markers = nil
}

// PendingCut is a cut whose writes may still be off: its marker is in the state directory
// and the process that took it is gone.
type PendingCut struct {
	Service     string    `json:"service"`
	Addr        string    `json:"addr"`
	URL         string    `json:"url"` // postgres://user@addr/db, no password
	Since       time.Time `json:"since"`
	PID         int       `json:"pid"`          // the process that cut
	WatchdogPID int       `json:"watchdog_pid"` // its watchdog (0: none)
	Host        string    `json:"host"`
	Path        string    `json:"-"`
	// Healing: the watchdog is still running, waiting for the server to resume it.
	Healing bool `json:"healing"`
}

// ResumeCommand is the one command that turns writes back on.
func (p PendingCut) ResumeCommand() string {
	return fmt.Sprintf(`psql '%s' -c 'ALTER SYSTEM RESET default_transaction_read_only' -c 'SELECT pg_reload_conf()'`, p.URL)
}

const markerDirName = "pg-readonly"

// writeMarker records, in the store's state directory, that writes of the server c
// reaches are off for service's cut.
func writeMarker(stateDir, service string, c *Client, cut *CutInfo) {
	dir := filepath.Join(stateDir, markerDirName)
	if os.MkdirAll(dir, 0o700) != nil {
		return
	}
	u := url.URL{Scheme: "postgres", User: url.User(c.opt.User), Host: c.Addr(), Path: "/" + c.opt.Database}
	host, _ := os.Hostname()
	m := PendingCut{Service: service, Addr: c.Addr(), URL: u.String(), Since: cut.ReadOnlyAt, PID: os.Getpid(), Host: host}
	watchMu.Lock()
	defer watchMu.Unlock()
	if n := len(watchdogs); n > 0 && watchdogs[n-1].cmd.Process != nil {
		m.WatchdogPID = watchdogs[n-1].cmd.Process.Pid
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	p := filepath.Join(dir, fmt.Sprintf("%s-%d-%d.json", safeName(service), os.Getpid(), time.Now().UnixNano()))
	if snapstore.WriteFileSync(p, b) != nil {
		return
	}
	markers = append(markers, p)
	for _, wd := range watchdogs {
		_ = wd.send(watchMsg{Op: "marker", Path: p})
	}
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator || r == '.' {
			return '_'
		}
		return r
	}, s)
}

// PendingCuts lists the cuts of the state directory (stateDir "" = the default) whose
// process ended without resuming writes: their database may still be read-only. Markers
// of another host (a shared state directory) are listed too: their process cannot be
// looked up from here.
func PendingCuts(stateDir string) ([]PendingCut, error) {
	if stateDir == "" {
		d, err := snapstore.DefaultStateDir()
		if err != nil {
			return nil, err
		}
		stateDir = d
	}
	files, err := filepath.Glob(filepath.Join(stateDir, markerDirName, "*.json"))
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	var out []PendingCut
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var p PendingCut
		if json.Unmarshal(b, &p) != nil {
			continue
		}
		p.Path = f
		if p.Host == host && alive(p.PID) {
			continue // its run is still going
		}
		p.Healing = p.Host == host && p.WatchdogPID > 0 && alive(p.WatchdogPID)
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	return out, nil
}

// alive reports whether a process with this PID exists.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
