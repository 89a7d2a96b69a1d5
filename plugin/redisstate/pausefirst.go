package redisstate

import (
	"bufio"
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// PauseFirst holds writes (CLIENT PAUSE d WRITE) on whatever process
// answers at the client's address, as the very first thing on a new
// connection: the password, the pause and INFO server + persistence go out
// in one write, before any reply. A process that has just started reads
// them together (while loading, in its first pass of events, or when its
// event loop starts), so a client that connected as early as this one but
// must first wait for its handshake's reply cannot write before the hold;
// go-redis would take one round trip (HELLO) before the pause, and INFO
// before it one more. It returns the INFO fields of both sections, read
// with writes held (the caller unpauses a process it did not mean to hold).
func (c *Client) PauseFirst(ctx context.Context, d time.Duration) (map[string]string, error) {
	o := c.rdb.Options()
	dial := o.Dialer
	if dial == nil {
		dial = redis.NewDialer(o)
	}
	nc, err := dial(ctx, "tcp", o.Addr)
	if err != nil {
		return nil, c.describe(err)
	}
	timeout := o.ReadTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	rc := &respConn{nc: nc, r: bufio.NewReaderSize(nc, 4096), w: bufio.NewWriterSize(nc, 4096), timeout: timeout}
	defer rc.close()
	auth := o.Password != ""
	if auth {
		if o.Username != "" {
			rc.write("AUTH", o.Username, o.Password)
		} else {
			rc.write("AUTH", o.Password)
		}
	}
	rc.write("CLIENT", "PAUSE", strconv.FormatInt(d.Milliseconds(), 10), "WRITE")
	rc.write("INFO", "server")
	rc.write("INFO", "persistence")
	if err := rc.flush(); err != nil {
		return nil, c.describe(err)
	}
	if auth {
		if err := rc.readOK(); err != nil {
			return nil, c.describe(err)
		}
	}
	if err := rc.readOK(); err != nil {
		return nil, c.describe(err)
	}
	m := map[string]string{}
	for range 2 {
		s, null, err := rc.readBulkSmall(1 << 20)
		if err != nil {
			return nil, c.describe(err)
		}
		if null {
			return nil, errors.New("INFO: null reply")
		}
		for k, v := range parseInfo(s) {
			m[k] = v
		}
	}
	return m, nil
}
