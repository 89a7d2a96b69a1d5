package redisbackup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/plugin/rdbstream"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// Conversion says that the keys were written by type (SET, RPUSH, SADD, ZADD, HSET, XADD
// ...) because the target cannot load the backup's payloads: it reads an older RDB
// version than the one that wrote them.
type Conversion struct {
	FromRDB int              `json:"from_rdb"`
	ToRDB   int              `json:"to_rdb,omitempty"` // 0: not known (the target refused the payloads' version)
	Target  string           `json:"target"`           // "Redis 7.0.15"
	Keys    int64            `json:"keys"`
	Types   map[string]int64 `json:"types"` // keys written per type
}

// Describe is the one line the restore prints.
func (cv *Conversion) Describe() string {
	to := "the RDB version " + cv.Target + " reads"
	if cv.ToRDB > 0 {
		to = fmt.Sprintf("RDB %d (%s)", cv.ToRDB, cv.Target)
	}
	types := make([]string, 0, len(cv.Types))
	for t := range cv.Types {
		types = append(types, t)
	}
	sort.Strings(types)
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = fmt.Sprintf("%s %d", t, cv.Types[t])
	}
	s := fmt.Sprintf("Converted %d keys from RDB %d to %s by type, keeping their expire times", cv.Keys, cv.FromRDB, to)
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

// restorePlan is decided before anything is written: RESTORE the payloads as they are, or
// convert every key by type.
type restorePlan struct {
	convert bool
	toRDB   int // target's RDB version, 0 unknown
	target  string
}

// kindSample is the smallest payload of one kind of value in the file (RDB type byte, and
// module type id for module values), to probe the target with.
type kindSample struct {
	payload []byte
	db      int
	key     string
}

// kindOf is the kind of a payload: its RDB type byte, with the module id for module values.
func kindOf(p []byte) string {
	if len(p) == 0 {
		return ""
	}
	if p[0] == 7 && len(p) >= 10 { // RDB_TYPE_MODULE_2, then the 64-bit module id
		return string(p[:10])
	}
	return string(p[:1])
}

// describeKind names a kind of value for a message: "hash", "module type ReJSON-RL".
func describeKind(p []byte) string {
	if len(p) > 0 && p[0] == 7 {
		if v, err := rdbstream.DecodeDump(p, 0); err == nil && v.Module != "" {
			return "module type " + v.Module
		}
		return "a module type"
	}
	if v, err := rdbstream.DecodeDump(p, 0); err == nil {
		return v.Type.String()
	}
	return fmt.Sprintf("RDB type %d", p[0])
}

// planRestore decides, writing nothing that stays, whether the target can load the file's
// payloads: one payload of every kind in the file is RESTOREd into a throwaway key and
// deleted in the same MULTI. A target that refuses the payloads' RDB version gets every
// key converted by type, if every key can be (checked here, before anything is written);
// any other refusal (a module type it lacks) refuses the restore, naming the kind.
func planRestore(ctx context.Context, c *redisstate.Client, si *redisstate.ServerInfo, v *Verified) (*restorePlan, error) {
	h := v.Header
	pl := &restorePlan{toRDB: RDBVersionOf(si.Version), target: si.Describe()}
	kinds := map[string]*kindSample{}
	var order []string
	err := readRecords(v.Path, v.Name, func(r Record) error {
		k := kindOf(r.Payload)
		s := kinds[k]
		if s == nil {
			s = &kindSample{}
			kinds[k] = s
			order = append(order, k)
		}
		if s.payload == nil || len(r.Payload) < len(s.payload) {
			s.payload, s.db, s.key = append(s.payload[:0], r.Payload...), r.DB, r.Key
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	newer := pl.toRDB > 0 && h.RDBVersion > pl.toRDB
	if !newer {
		for _, k := range order {
			s := kinds[k]
			err := probeRestore(ctx, c, s.payload)
			if err == nil {
				continue
			}
			if strings.Contains(err.Error(), "payload version or checksum") {
				newer = true
				break
			}
			return nil, &RefusedError{fmt.Sprintf("%s at %s cannot load keys of %s (key %s of database %d): %v; restore into a server that can (nothing was written)",
				si.Describe(), c.Addr(), describeKind(s.payload), redisstate.QuoteKey(s.key), s.db, err)}
		}
	}
	if !newer {
		return pl, nil
	}
	if err := checkConvertible(v, si, c.Addr(), pl.toRDB); err != nil {
		return nil, err
	}
	pl.convert = true
	return pl, nil
}

// probeRestore RESTOREs payload into a throwaway key and deletes it in one MULTI: nothing
// stays, no client sees the key.
func probeRestore(ctx context.Context, c *redisstate.Client, payload []byte) error {
	var b [8]byte
	_, _ = rand.Read(b[:])
	key := "docker-stateful:restore-probe:" + hex.EncodeToString(b[:])
	pipe := c.Redis().TxPipeline()
	r := pipe.Do(ctx, "RESTORE", key, 0, payload, "REPLACE")
	pipe.Do(ctx, "DEL", key)
	if _, err := pipe.Exec(ctx); err != nil && !isRedisError(err) {
		return err
	}
	return r.Err()
}

// checkConvertible decodes every payload of the file and refuses, before anything is
// written, when one cannot be written by type.
func checkConvertible(v *Verified, si *redisstate.ServerInfo, addr string, toRDB int) error {
	h := v.Header
	reads := "reads an older RDB version"
	if toRDB > 0 {
		reads = fmt.Sprintf("reads RDB %d and older", toRDB)
	}
	refuse := func(why string) error {
		return &RefusedError{fmt.Sprintf("the backup holds RDB %d payloads from %s; %s at %s %s, and %s: restore into %s or newer (nothing was written)",
			h.RDBVersion, h.Cut.Describe(), si.Describe(), addr, reads, why, h.Cut.Describe())}
	}
	if h.RDBVersion > rdbstream.MaxVersion {
		return refuse(fmt.Sprintf("this docker-stateful converts payloads of RDB %d and older", rdbstream.MaxVersion))
	}
	return readRecords(v.Path, v.Name, func(r Record) error {
		val, err := rdbstream.DecodeDump(r.Payload, 0)
		if err != nil {
			return refuse(fmt.Sprintf("key %s of database %d cannot be decoded to be converted (%v)", redisstate.QuoteKey(r.Key), r.DB, err))
		}
		if why := unconvertible(val, toRDB); why != "" {
			return refuse(fmt.Sprintf("key %s of database %d %s", redisstate.QuoteKey(r.Key), r.DB, why))
		}
		return nil
	})
}

// unconvertible says why a value cannot be written by type into a server of RDB version
// toRDB (0 unknown), "" when it can.
func unconvertible(val *rdbstream.Value, toRDB int) string {
	switch val.Type {
	case redisstate.TypeString, redisstate.TypeList, redisstate.TypeSet, redisstate.TypeZSet:
		return ""
	case redisstate.TypeHash:
		if val.FieldTTLs > 0 {
			return fmt.Sprintf("is a hash with %d field(s) that have their own expire time (HEXPIRE), which the older server cannot keep", val.FieldTTLs)
		}
		return ""
	case redisstate.TypeStream:
		s := val.Stream
		if s.V2 && toRDB > 0 && toRDB < 10 {
			return "is a stream with Redis 7 state (entries-added, max-deleted-entry-id) that a server older than Redis 7.0 cannot set"
		}
		live := make(map[string]bool, len(s.Entries))
		for _, e := range s.Entries {
			live[e.ID] = true
		}
		for _, g := range s.Groups {
			for _, p := range g.Pending {
				if !live[p.ID] {
					return fmt.Sprintf("is a stream whose group %s has entry %s pending although it was deleted: XCLAIM cannot recreate that", redisstate.QuoteKey(string(g.Name)), p.ID)
				}
			}
		}
		return ""
	case redisstate.TypeOther:
		if val.Module != "" {
			return "is of module type " + val.Module + ", which cannot be written by type"
		}
		return "is of a module type, which cannot be written by type"
	}
	return fmt.Sprintf("is of type %s, which cannot be written by type", val.Type.String())
}

// chunk is how many elements one write command carries.
const chunk = 512

// appendWrites queues the commands that write val into key: the value by type, nothing
// else (the expire time is the caller's).
func appendWrites(ctx context.Context, pipe redis.Pipeliner, cmds []*redis.Cmd, key string, val *rdbstream.Value, toRDB int) []*redis.Cmd {
	do := func(args ...any) { cmds = append(cmds, pipe.Do(ctx, args...)) }
	many := func(cmd string, elems func(i int) []any, n int) {
		for i := 0; i < n; {
			args := []any{cmd, key}
			for j := 0; j < chunk && i < n; j, i = j+1, i+1 {
				args = append(args, elems(i)...)
			}
			do(args...)
		}
	}
	switch val.Type {
	case redisstate.TypeString:
		do("SET", key, val.String)
	case redisstate.TypeList:
		many("RPUSH", func(i int) []any { return []any{val.Elems[i]} }, len(val.Elems))
	case redisstate.TypeSet:
		many("SADD", func(i int) []any { return []any{val.Elems[i]} }, len(val.Elems))
	case redisstate.TypeZSet:
		many("ZADD", func(i int) []any { return []any{rdbstream.FormatScore(val.Scores[i]), val.Elems[i]} }, len(val.Elems))
	case redisstate.TypeHash:
		many("HSET", func(i int) []any { return []any{val.Fields[2*i], val.Fields[2*i+1]} }, len(val.Fields)/2)
	case redisstate.TypeStream:
		s := val.Stream
		for _, e := range s.Entries {
			args := []any{"XADD", key, e.ID}
			for _, f := range e.Fields {
				args = append(args, f)
			}
			do(args...)
		}
		groups := s.Groups
		if len(s.Entries) == 0 { // XADD made no stream: a group's MKSTREAM does
			if len(groups) > 0 {
				do(groupCreate(key, groups[0], toRDB, true)...)
				groups = groups[1:]
			} else {
				do("XGROUP", "CREATE", key, "docker-stateful-restore", "0", "MKSTREAM")
				do("XGROUP", "DESTROY", key, "docker-stateful-restore")
			}
		}
		setid := []any{"XSETID", key, s.LastID}
		if s.V2 && (toRDB == 0 || toRDB >= 10) {
			setid = append(setid, "ENTRIESADDED", s.EntriesAdded, "MAXDELETEDID", s.MaxDeletedID)
		}
		do(setid...)
		for _, g := range groups {
			do(groupCreate(key, g, toRDB, false)...)
		}
		for _, g := range s.Groups {
			for _, cn := range g.Consumers {
				do("XGROUP", "CREATECONSUMER", key, g.Name, cn)
			}
			for _, p := range g.Pending {
				do("XCLAIM", key, g.Name, p.Consumer, 0, p.ID, "TIME", p.DeliveryMs, "RETRYCOUNT", p.Count, "FORCE", "JUSTID")
			}
		}
	}
	return cmds
}

func groupCreate(key string, g rdbstream.StreamGroup, toRDB int, mkstream bool) []any {
	args := []any{"XGROUP", "CREATE", key, g.Name, g.LastDelivered}
	if mkstream {
		args = append(args, "MKSTREAM")
	}
	if g.EntriesRead >= 0 && (toRDB == 0 || toRDB >= 10) {
		args = append(args, "ENTRIESREAD", g.EntriesRead)
	}
	return args
}

// convertOne writes one batch by type: [DEL (REPLACE)], the value, PEXPIREAT.
func convertOne(ctx context.Context, pipe redis.Pipeliner, b *restoreBatch, replace bool, toRDB int, types map[string]int64, cmds []*redis.Cmd) ([]*redis.Cmd, error) {
	ctx = context.WithoutCancel(ctx)
	cmds = cmds[:0]
	for i, k := range b.keys {
		end := len(b.arena)
		if i+1 < len(b.offs) {
			end = b.offs[i+1]
		}
		val, err := rdbstream.DecodeDump(b.arena[b.offs[i]:end], 0)
		if err != nil {
			return cmds, fmt.Errorf("cannot decode key %s of database %d: %w", redisstate.QuoteKey(k), b.db, err)
		}
		if replace {
			cmds = append(cmds, pipe.Do(ctx, "DEL", k))
		}
		cmds = appendWrites(ctx, pipe, cmds, k, val, toRDB)
		if b.exps[i] > 0 {
			cmds = append(cmds, pipe.Do(ctx, "PEXPIREAT", k, b.exps[i]))
		}
		types[val.Type.String()]++
	}
	if _, err := pipe.Exec(ctx); err != nil && !isRedisError(err) {
		return cmds, fmt.Errorf("writing into database %d: %w", b.db, err)
	}
	for _, cmd := range cmds {
		if err := cmd.Err(); err != nil {
			args := cmd.Args()
			name, key := fmt.Sprint(args[0]), ""
			if len(args) > 1 {
				key = fmt.Sprint(args[1])
			}
			if name == "XGROUP" && len(args) > 2 {
				name, key = "XGROUP "+fmt.Sprint(args[1]), fmt.Sprint(args[2])
			}
			return cmds, fmt.Errorf("%s %s into database %d: %w", name, redisstate.QuoteKey(key), b.db, err)
		}
	}
	return cmds, nil
}
