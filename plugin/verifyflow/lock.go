package verifyflow

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// lockName is the client name of the connection that holds a cut: one cut
// per Redis at a time, whoever takes it (update --verify, snapshot), from
// whichever machine. A second cut's UNPAUSE would lift the first one's
// pause; a second update would replace the task under the first one's check.
const lockName = "docker-stateful-cut"

// Busy is returned when another docker stateful run holds a cut on the
// server (Server: the engine's name, "" = Redis).
type Busy struct{ Holder, Server string }

func (b *Busy) Error() string {
	server := b.Server
	if server == "" {
		server = "Redis"
	}
	return fmt.Sprintf("another docker stateful run holds a cut on this %s (%s): wait until it is done", server, b.Holder)
}

// cutLock is the connection that names the cut's holder; closing it (or this
// process dying, or Redis exiting) frees the lock.
type cutLock struct{ rdb *redis.Client }

// lockCut names a connection of its own lockName and looks for another
// connection with that name that connected earlier (a lower client id): two
// runs that start together both see each other, and only the older one
// goes on.
func lockCut(ctx context.Context, c *redisstate.Client) (*cutLock, error) {
	// a client of its own with one connection: closing it closes the
	// connection (a pooled one would keep its name)
	o := *c.Redis().Options()
	o.PoolSize, o.MinIdleConns, o.MaxRetries = 1, 0, -1
	o.ClientName = lockName // CLIENT SETNAME on connect
	conn := redis.NewClient(&o)
	fail := func(err error) (*cutLock, error) {
		_ = conn.Close()
		return nil, err
	}
	id, err := conn.ClientID(ctx).Result()
	if err != nil {
		return fail(clientErr(c, err))
	}
	list, err := conn.ClientList(ctx).Result()
	if err != nil {
		return fail(clientErr(c, err))
	}
	if h := olderHolder(list, id); h != "" {
		return fail(&Busy{Holder: h})
	}
	return &cutLock{rdb: conn}, nil
}

// clientErr says what a refused CLIENT command means: the cut needs them.
func clientErr(c *redisstate.Client, err error) error {
	if strings.Contains(err.Error(), "NOPERM") {
		return fmt.Errorf("the Redis user may not run CLIENT commands (%v): --verify and snapshot need CLIENT PAUSE, UNPAUSE, SETNAME, ID and LIST, and SAVE (ACL SETUSER <user> +client +save)", err)
	}
	return fmt.Errorf("CLIENT: %w", err)
}

// olderHolder finds, in CLIENT LIST output, a connection named lockName
// with an id below mine, and says who it is.
func olderHolder(list string, mine int64) string {
	for _, line := range strings.Split(list, "\n") {
		f := map[string]string{}
		for _, kv := range strings.Fields(line) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				f[k] = v
			}
		}
		if f["name"] != lockName {
			continue
		}
		if id, err := strconv.ParseInt(f["id"], 10, 64); err == nil && id < mine {
			return fmt.Sprintf("client id %d from %s, for %ss", id, f["addr"], f["age"])
		}
	}
	return ""
}

func (l *cutLock) unlock() {
	if l != nil {
		_ = l.rdb.Close()
	}
}
