package redisstate

import (
	"context"
	"errors"
	"strconv"
	"strings"
)

// WriteCalls counts the write commands clients ran on the process since it
// started (INFO commandstats, the commands of ACL category @write). Unlike
// rdb_changes_since_last_save it does not count an AOF replay at startup:
// the replay runs each command's implementation directly, not through the
// command dispatch that keeps the statistics; it does count commands of
// scripts, MULTI/EXEC and a master's stream. DEBUG is counted as a write
// (DEBUG RELOAD and friends change the data). It errs when the statistics
// were reset (CONFIG RESETSTAT) or cannot be read: then only
// rdb_changes_since_last_save can tell.
func (c *Client) WriteCalls(ctx context.Context) (int64, error) {
	names, err := c.rdb.Do(ctx, "COMMAND", "LIST", "FILTERBY", "ACLCAT", "write").StringSlice()
	if err != nil {
		return -1, c.describe(err)
	}
	stats, err := c.Info(ctx, "commandstats")
	if err != nil {
		return -1, err
	}
	if _, reset := stats["cmdstat_config|resetstat"]; reset {
		return -1, errors.New("the command statistics were reset (CONFIG RESETSTAT)")
	}
	var n int64
	for _, name := range append(names, "debug") {
		v, ok := stats["cmdstat_"+strings.ToLower(name)]
		if !ok {
			continue
		}
		calls, ok := statField(v, "calls")
		if !ok {
			return -1, errors.New("INFO commandstats: no calls= in " + v)
		}
		n += calls
	}
	return n, nil
}

// statField reads name=N from an INFO value like calls=3,usec=10,...
func statField(v, name string) (int64, bool) {
	for _, f := range strings.Split(v, ",") {
		if k, val, ok := strings.Cut(f, "="); ok && k == name {
			n, err := strconv.ParseInt(val, 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
