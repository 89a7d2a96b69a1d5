// Package sshdial reaches a TCP address through the SSH host of a docker
// host URL (ssh://[user@]host[:port]), the way docker's own connection helper
// reaches the daemon there: the user's ssh client (its config, agent and
// keys), here with `ssh -W host:port` instead of `docker system dial-stdio`.
// From a laptop, a node's Redis port is often closed while its SSH port is
// open: Fallback tries the direct connection first and goes through SSH when
// that fails.
package sshdial

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/docker/cli/cli/connhelper/commandconn"
	"github.com/docker/cli/cli/connhelper/ssh"
)

// Via is an SSH host to forward connections through.
type Via struct {
	spec *ssh.Spec
}

// FromDockerHost returns the SSH host of an ssh:// docker host, false for any
// other host (unix://, tcp://, npipe://, "").
func FromDockerHost(host string) (*Via, bool) {
	if !strings.HasPrefix(host, "ssh://") {
		return nil, false
	}
	sp, err := ssh.ParseURL(host)
	if err != nil {
		return nil, false // docker itself refuses it before we get here
	}
	return &Via{spec: sp}, true
}

// String is how the ssh command names the host: "ssh root@node1 -p 2222".
func (v *Via) String() string {
	s := "ssh " + v.spec.Host
	if v.spec.User != "" {
		s = "ssh " + v.spec.User + "@" + v.spec.Host
	}
	if v.spec.Port != "" {
		s += " -p " + v.spec.Port
	}
	return s
}

// Args are ssh's arguments to forward stdin/stdout to addr: the URL's user
// and port, and the flags docker's connection helper adds (a connect timeout,
// no terminal). No remote command: -W connects from the SSH host.
func (v *Via) Args(addr string) []string {
	var args []string
	if v.spec.User != "" {
		args = append(args, "-l", v.spec.User)
	}
	if v.spec.Port != "" {
		args = append(args, "-p", v.spec.Port)
	}
	return append(args, "-o", "ConnectTimeout=30", "-T", "-W", addr, "--", v.spec.Host)
}

// Dial starts `ssh … -W addr host`; the connection is its stdin and stdout.
// ssh's failure (the host refused the key, nothing listens at addr) comes
// back from the first Read as a net.OpError that quotes ssh.
func (v *Via) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if network != "tcp" && network != "tcp4" && network != "tcp6" {
		return nil, fmt.Errorf("sshdial: cannot forward %s connections", network)
	}
	c, err := commandconn.New(ctx, "ssh", v.Args(addr)...)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "ssh", Err: fmt.Errorf("%s: %w", v, err)}
	}
	return &conn{Conn: c, via: v}, nil
}

// conn turns commandconn's errors ("command [...] has exited with exit status
// 255, make sure ... Docker 18.09 ...: stderr=...") into one line about ssh.
type conn struct {
	net.Conn
	via *Via
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	return n, c.wrap("read", err)
}

func (c *conn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	return n, c.wrap("write", err)
}

func (c *conn) wrap(op string, err error) error {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return err
	}
	msg := err.Error()
	if _, stderr, ok := strings.Cut(msg, "stderr="); ok {
		msg = strings.Join(strings.Fields(strings.Trim(stderr, "\"")), " ")
		if msg == "" {
			msg = "ssh exited"
		}
	}
	return &net.OpError{Op: op, Net: "ssh", Err: fmt.Errorf("%s: %s", c.via, msg)}
}

// Fallback dials directly and, when that fails, through Via. Per address it
// keeps what worked: once a direct connection succeeded it stays direct (a
// refused connection then means Redis is restarting, not that the port is
// closed to us); once it fell back it stays on SSH.
type Fallback struct {
	Via *Via
	// DirectTimeout bounds the direct attempt (a dropped port only times
	// out); 0 means 3 seconds.
	DirectTimeout time.Duration
	// Reached, when set, is told once per address that the first connection
	// through SSH answered, and why the direct one was not used.
	Reached func(addr string, via *Via, direct error)

	mu    sync.Mutex
	state map[string]*route
}

type route struct {
	direct   bool  // a direct connection succeeded
	ssh      bool  // the direct one failed first: use SSH
	why      error // that failure
	reported bool
}

// Dial is a dialer for go-redis (redisstate.Options.Dialer).
func (f *Fallback) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	r := f.route(addr)
	f.mu.Lock()
	useSSH := r.ssh
	f.mu.Unlock()
	if !useSSH {
		timeout := f.DirectTimeout
		if timeout <= 0 {
			timeout = 3 * time.Second
		}
		d := net.Dialer{Timeout: timeout}
		c, err := d.DialContext(ctx, network, addr)
		f.mu.Lock()
		switch {
		case err == nil:
			r.direct = true
		case !r.direct && ctx.Err() == nil:
			r.ssh, r.why = true, err
		}
		useSSH = r.ssh
		f.mu.Unlock()
		if !useSSH {
			return c, err
		}
	}
	c, err := f.Via.Dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &reportConn{Conn: c, f: f, addr: addr, r: r}, nil
}

func (f *Fallback) route(addr string) *route {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state == nil {
		f.state = map[string]*route{}
	}
	r := f.state[addr]
	if r == nil {
		r = &route{}
		f.state[addr] = r
	}
	return r
}

// UsesSSH reports whether connections to addr go through SSH, and why.
func (f *Fallback) UsesSSH(addr string) (bool, error) {
	r := f.route(addr)
	f.mu.Lock()
	defer f.mu.Unlock()
	return r.ssh, r.why
}

// reportConn tells Reached when the first bytes arrive through SSH: only
// then is the path known to work.
type reportConn struct {
	net.Conn
	f    *Fallback
	addr string
	r    *route
}

func (c *reportConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	var oe *net.OpError
	if n == 0 && errors.As(err, &oe) && oe.Net == "ssh" {
		// Neither way worked: say both.
		c.f.mu.Lock()
		why := c.r.why
		c.f.mu.Unlock()
		if why != nil {
			var de *net.OpError
			if errors.As(why, &de) {
				why = de.Err
			}
			err = &net.OpError{Op: oe.Op, Net: "ssh", Err: fmt.Errorf("direct connection failed (%v), and through %w", why, oe.Err)}
		}
	}
	if n > 0 && c.f.Reached != nil {
		c.f.mu.Lock()
		first := !c.r.reported
		c.r.reported = true
		why := c.r.why
		c.f.mu.Unlock()
		if first {
			c.f.Reached(c.addr, c.f.Via, why)
		}
	}
	return n, err
}
