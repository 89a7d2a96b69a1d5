package redisstate

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ServerInfo identifies the Redis process that answered.
type ServerInfo struct {
	RunID           string   `json:"run_id"`
	Version         string   `json:"redis_version"`  // what the server claims: Valkey says 7.2.4
	Server          string   `json:"server"`         // "Redis", "Valkey" (server_name)
	ServerVersion   string   `json:"server_version"` // its own version: valkey_version for Valkey
	UptimeSec       int64    `json:"uptime_sec"`
	Keys            int64    `json:"keys"`      // keys in every database of Databases
	Expires         int64    `json:"expires"`   // keys with a TTL in them
	Databases       []DBKeys `json:"databases"` // databases holding keys; only Options.DB with OnlyDB
	ClusterEnabled  bool     `json:"cluster_enabled"`
	LastLoadKeys    int64    `json:"rdb_last_load_keys_loaded"`  // 7.0+, -1 if unknown
	LastLoadExpired int64    `json:"rdb_last_load_keys_expired"` // 7.0+, -1 if unknown
}

// AtLeast reports whether the server version is >= major.minor.
func (s ServerInfo) AtLeast(major, minor int) bool { return versionAtLeast(s.Version, major, minor) }

func versionAtLeast(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, _ := strconv.Atoi(parts[0])
	mi, _ := strconv.Atoi(parts[1])
	return ma > major || (ma == major && mi >= minor)
}

// WaitStatus is passed to the progress callback of WaitReady on every poll.
type WaitStatus struct {
	Waiting    string // what we wait for: "connect", "loading", "restart"
	Elapsed    time.Duration
	LoadedPerc float64       // loading_loaded_perc while loading
	ETA        time.Duration // loading_eta_seconds while loading
	Err        error         // last error while waiting to connect
}

func (w WaitStatus) String() string {
	switch w.Waiting {
	case "loading":
		return fmt.Sprintf("Redis is loading its dataset: %.1f%% (eta %s)", w.LoadedPerc, w.ETA)
	case "restart":
		return "waiting for the new Redis process (new run_id)"
	default:
		if w.Err != nil {
			return "waiting for Redis: " + w.Err.Error()
		}
		return "waiting for Redis"
	}
}

// WaitReady polls INFO persistence until Redis has finished loading (loading:0 and
// async_loading:0) and returns its identity. A loading Redis answers -LOADING even to PING,
// so INFO is used. Dial errors are retried until the deadline; a refused password fails at
// once. progress may be nil.
func (c *Client) WaitReady(ctx context.Context, deadline time.Duration, progress func(WaitStatus)) (*ServerInfo, error) {
	return c.waitReady(ctx, "", deadline, progress)
}

// WaitRestarted is WaitReady that also waits until the server's run_id differs from
// oldRunID (the new task's Redis, not the old one still shutting down).
func (c *Client) WaitRestarted(ctx context.Context, oldRunID string, deadline time.Duration, progress func(WaitStatus)) (*ServerInfo, error) {
	return c.waitReady(ctx, oldRunID, deadline, progress)
}

// pollInterval: the end of a load is seen within it; update --verify's check of the new
// process starts from that moment (INFO persistence costs the server microseconds).
var pollInterval = 50 * time.Millisecond

func (c *Client) waitReady(ctx context.Context, oldRunID string, deadline time.Duration, progress func(WaitStatus)) (*ServerInfo, error) {
	start := time.Now()
	if deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, deadline)
		defer cancel()
	}
	var lastErr error
	for {
		st := WaitStatus{Elapsed: time.Since(start)}
		info, err := c.rdb.Info(ctx, "persistence").Result()
		switch {
		case err == nil:
			m := parseInfo(info)
			if m["loading"] == "1" || m["async_loading"] == "1" {
				st.Waiting = "loading"
				st.LoadedPerc = infoFloat(m, "loading_loaded_perc")
				st.ETA = time.Duration(infoInt(m, "loading_eta_seconds")) * time.Second
				break
			}
			si, err := c.ServerInfo(ctx)
			if err != nil {
				if redis.IsLoadingError(err) {
					st.Waiting = "loading"
					break
				}
				lastErr = err
				st.Waiting, st.Err = "connect", err
				break
			}
			if oldRunID != "" && si.RunID == oldRunID {
				st.Waiting = "restart"
				break
			}
			return si, nil
		case redis.IsLoadingError(err):
			st.Waiting = "loading"
		default:
			derr := c.describe(err)
			var ce *ConnectError
			if errors.As(derr, &ce) && ce.Kind != "unreachable" {
				return nil, derr // wrong password, TLS verification, ACL: waiting will not help
			}
			if ctx.Err() != nil && !IsUnreachable(derr) {
				break // our own deadline cut the read
			}
			lastErr = derr
			st.Waiting, st.Err = "connect", derr
		}
		if progress != nil {
			progress(st)
		}
		select {
		case <-ctx.Done():
			what := "to finish loading"
			switch {
			case st.Waiting == "restart":
				what = "for a new Redis process (run_id unchanged)"
			case st.Waiting == "connect" || (st.Waiting == "" && lastErr != nil):
				if lastErr != nil {
					return nil, fmt.Errorf("%v (gave up after %s)", lastErr, time.Since(start).Round(time.Second))
				}
			}
			return nil, fmt.Errorf("Redis at %s: gave up waiting %s after %s", c.opt.Addr, what, time.Since(start).Round(time.Second))
		case <-time.After(pollInterval):
		}
	}
}

// ServerInfo reads INFO (the default sections: server, persistence, cluster, keyspace, ...).
// INFO with several section names exists only since Redis 7.0, so the whole default INFO
// is asked once instead: one round trip that works on every version.
func (c *Client) ServerInfo(ctx context.Context) (*ServerInfo, error) {
	s, err := c.rdb.Info(ctx).Result()
	if err != nil {
		return nil, c.describe(err)
	}
	m := parseInfo(s)
	si := &ServerInfo{
		RunID:           m["run_id"],
		Version:         m["redis_version"],
		UptimeSec:       infoInt(m, "uptime_in_seconds"),
		LastLoadKeys:    -1,
		LastLoadExpired: -1,
		ClusterEnabled:  m["cluster_enabled"] == "1",
	}
	si.Server, si.ServerVersion = serverOf(m)
	if _, ok := m["rdb_last_load_keys_loaded"]; ok {
		si.LastLoadKeys = infoInt(m, "rdb_last_load_keys_loaded")
		si.LastLoadExpired = infoInt(m, "rdb_last_load_keys_expired")
	}
	si.Databases = keyspace(m)
	if c.opt.OnlyDB {
		only := DBKeys{DB: c.opt.DB}
		for _, d := range si.Databases {
			if d.DB == c.opt.DB {
				only = d
			}
		}
		si.Databases = []DBKeys{only}
	}
	for _, d := range si.Databases {
		si.Keys += d.Keys
		si.Expires += d.Expires
	}
	return si, nil
}

// DBKeys is one logical database of INFO keyspace.
type DBKeys struct {
	DB      int   `json:"db"`
	Keys    int64 `json:"keys"`
	Expires int64 `json:"expires"`
}

// keyspace parses the "db3:keys=1,expires=0,avg_ttl=0" lines of INFO keyspace: every
// logical database that holds keys, ascending.
func keyspace(m map[string]string) []DBKeys {
	var out []DBKeys
	for k, v := range m {
		n, ok := strings.CutPrefix(k, "db")
		if !ok {
			continue
		}
		db, err := strconv.Atoi(n)
		if err != nil || db < 0 {
			continue
		}
		d := DBKeys{DB: db}
		for _, f := range strings.Split(v, ",") {
			name, val, _ := strings.Cut(f, "=")
			x, _ := strconv.ParseInt(val, 10, 64)
			switch name {
			case "keys":
				d.Keys = x
			case "expires":
				d.Expires = x
			}
		}
		if d.Keys > 0 {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DB < out[j].DB })
	return out
}
