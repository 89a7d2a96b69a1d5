package rdbstream

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// Options tunes Start.
type Options struct {
	// Diskless asks for the payload straight from the server's fork (REPLCONF capa eof):
	// nothing is written on the server's disk, but a server with repl-diskless-sync on
	// waits repl-diskless-sync-delay (default 5 s) for other replicas first. Without it a
	// server forks at once and writes the snapshot to its RDB file, as BGSAVE does.
	Diskless bool
	// Timeout bounds each wait for the server (the fork, every read); default 60 s.
	Timeout time.Duration
}

// Sync is a snapshot requested the way a replica does: the server forked (the snapshot
// is its state at that instant) and is sending the RDB payload. Parse reads it once;
// Close drops the connection (the server then forgets this replica).
type Sync struct {
	// ReplID and Offset are the server's answer to PSYNC (+FULLRESYNC): the snapshot is the
	// replication stream up to Offset of ReplID. Both empty/-1 after a plain SYNC.
	ReplID string
	Offset int64
	// ServerTimeMs is the server's TIME just before the request (unix ms; local clock
	// when TIME is refused): keys whose expire time is not after it were gone at the fork.
	ServerTimeMs int64
	// RequestedAt is when PSYNC was sent: the server forks after it, so every write
	// acknowledged before it is in the snapshot.
	RequestedAt time.Time
	// Diskless reports an EOF-marked payload (sent as the fork writes it).
	Diskless bool
	Size     int64 // payload bytes, -1 when Diskless

	nc     net.Conn
	br     *bufio.Reader
	eof    []byte // Diskless: the 40-byte end mark
	parsed bool
}

// RefusedError is a server that does not serve a replica (ACL without SYNC/PSYNC, a
// renamed or disabled command, a managed service): Reason is one line saying why.
type RefusedError struct {
	Command string
	Reply   string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("the server refused the replication protocol (%s: %s)", e.Command, e.Reply)
}

// IsRefused reports whether err is a RefusedError.
func IsRefused(err error) bool {
	var re *RefusedError
	return errors.As(err, &re)
}

type deadlineConn struct {
	nc      net.Conn
	timeout time.Duration
}

func (d deadlineConn) Read(p []byte) (int, error) {
	_ = d.nc.SetReadDeadline(time.Now().Add(d.timeout))
	return d.nc.Read(p)
}

// Start connects to c's server as c connects (TLS, user, password), then asks for a full
// synchronization: REPLCONF (listening-port 0, rdb-only, capabilities), PSYNC ? -1, or SYNC
// when PSYNC is unknown. It returns once the payload starts (the server forked).
func Start(ctx context.Context, c *redisstate.Client, opt Options) (s *Sync, err error) {
	if opt.Timeout <= 0 {
		opt.Timeout = 60 * time.Second
	}
	s = &Sync{Offset: -1, Size: -1, ServerTimeMs: time.Now().UnixMilli()}
	if t, err := c.Redis().Time(ctx).Result(); err == nil {
		s.ServerTimeMs = t.UnixMilli()
	}
	o := c.Redis().Options()
	dial := o.Dialer
	if dial == nil {
		dial = redis.NewDialer(o)
	}
	nc, err := dial(ctx, "tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to %s: %w", o.Addr, err)
	}
	defer func() {
		if err != nil {
			nc.Close()
		}
	}()
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetWriteDeadline(dl)
	}
	s.nc = nc
	s.br = bufio.NewReaderSize(deadlineConn{nc, opt.Timeout}, 64<<10)
	cmd := func(args ...string) (string, error) {
		var b bytes.Buffer
		fmt.Fprintf(&b, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
		if _, err := nc.Write(b.Bytes()); err != nil {
			return "", err
		}
		return s.line()
	}
	if o.Password != "" {
		args := []string{"AUTH", o.Password}
		if o.Username != "" {
			args = []string{"AUTH", o.Username, o.Password}
		}
		r, err := cmd(args...)
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(r, "-") {
			return nil, fmt.Errorf("AUTH: %s", r[1:])
		}
	}
	capa := []string{"REPLCONF", "capa", "psync2"}
	if opt.Diskless {
		capa = []string{"REPLCONF", "capa", "eof", "capa", "psync2"}
	}
	for _, args := range [][]string{{"REPLCONF", "listening-port", "0"}, {"REPLCONF", "rdb-only", "1"}, capa} {
		r, err := cmd(args...)
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(r, "-") && args[1] != "rdb-only" { // rdb-only is 7.0+
			return nil, &RefusedError{Command: strings.Join(args[:2], " "), Reply: r[1:]}
		}
	}
	s.RequestedAt = time.Now()
	r, err := cmd("PSYNC", "?", "-1")
	if err != nil {
		return nil, err
	}
	switch {
	case strings.HasPrefix(r, "+FULLRESYNC"):
		f := strings.Fields(r)
		if len(f) != 3 {
			return nil, fmt.Errorf("PSYNC: unexpected reply %q", r)
		}
		s.ReplID = f[1]
		if s.Offset, err = strconv.ParseInt(f[2], 10, 64); err != nil {
			return nil, fmt.Errorf("PSYNC: unexpected reply %q", r)
		}
		if r, err = s.line(); err != nil {
			return nil, err
		}
	case strings.HasPrefix(r, "-ERR unknown command"):
		s.RequestedAt = time.Now()
		if r, err = cmd("SYNC"); err != nil {
			return nil, err
		}
		if strings.HasPrefix(r, "-") {
			return nil, &RefusedError{Command: "SYNC", Reply: r[1:]}
		}
	case strings.HasPrefix(r, "-"):
		return nil, &RefusedError{Command: "PSYNC", Reply: r[1:]}
	default:
		return nil, fmt.Errorf("PSYNC: unexpected reply %q", r)
	}
	if !strings.HasPrefix(r, "$") {
		if strings.HasPrefix(r, "-") {
			return nil, fmt.Errorf("the server could not produce the snapshot: %s", r[1:])
		}
		return nil, fmt.Errorf("unexpected reply %q where the snapshot should start", r)
	}
	if mark, ok := strings.CutPrefix(r[1:], "EOF:"); ok {
		if len(mark) != 40 {
			return nil, fmt.Errorf("bad end mark in %q", r)
		}
		s.Diskless, s.eof = true, []byte(mark)
		return s, nil
	}
	if s.Size, err = strconv.ParseInt(r[1:], 10, 64); err != nil || s.Size < 0 {
		return nil, fmt.Errorf("unexpected reply %q where the snapshot should start", r)
	}
	return s, nil
}

// line reads one reply line, skipping the newlines a server sends while it forks and saves.
func (s *Sync) line() (string, error) {
	for {
		l, err := s.br.ReadString('\n')
		if err != nil {
			return "", fmt.Errorf("reading from the server: %w", err)
		}
		l = strings.TrimRight(l, "\r\n")
		if l != "" {
			return l, nil
		}
	}
}

// Parse reads the payload once, calling fn for every key (see the package Parse), and
// checks its end (size, or end mark).
func (s *Sync) Parse(fn func(*Key) error) (*Info, error) {
	if s.parsed {
		return nil, errors.New("the snapshot was already read")
	}
	s.parsed = true
	var src io.Reader = s.br
	if !s.Diskless {
		src = io.LimitReader(s.br, s.Size)
	}
	rd := newReader(src, 256<<10)
	info, err := parseWith(rd, s.ServerTimeMs, fn)
	if err != nil {
		return info, err
	}
	if s.Diskless {
		m, err := rd.next(len(s.eof))
		if err != nil || !bytes.Equal(m, s.eof) {
			return info, errors.New("the snapshot did not end with its end mark")
		}
	} else if rd.n != s.Size {
		return info, fmt.Errorf("the snapshot has %d bytes after its end", s.Size-rd.n)
	}
	return info, nil
}

// Close drops the replica connection.
func (s *Sync) Close() error { return s.nc.Close() }
