package rdbstream

import (
	"errors"
	"fmt"
	"io"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// Spool copies the payload as the server sends it to w, without parsing it: the
// transfer is as fast as the connection, and the payload can be parsed later (Parse,
// Manifest) while the server goes on. Only a payload the server saved first (Size known,
// Options.Diskless false) is spooled.
func (s *Sync) Spool(w io.Writer) (int64, error) {
	if s.parsed {
		return 0, errors.New("the snapshot was already read")
	}
	if s.Diskless {
		return 0, errors.New("a diskless payload cannot be spooled (request it saved: Options.Diskless false)")
	}
	s.parsed = true
	n, err := io.CopyN(w, s.br, s.Size)
	if err != nil {
		return n, fmt.Errorf("receiving the snapshot (%d of %d bytes): %w", n, s.Size, err)
	}
	return n, nil
}

// Manifest parses an RDB payload and records in b every key still live at nowMs (unix
// ms, the snapshot's time), hashed as the live fingerprint hashes it. It returns what
// the parse saw and the databases that hold keys, in order.
func Manifest(r io.Reader, nowMs int64, b *redisstate.ManifestBuilder) (*Info, []int, error) {
	var dbs []int
	info, err := Parse(r, nowMs, func(k *Key) error {
		if k.ExpireAt >= 0 && k.ExpireAt <= nowMs {
			return nil // expired at the snapshot: the server no longer serves it
		}
		if len(dbs) == 0 || dbs[len(dbs)-1] != k.DB {
			dbs = append(dbs, k.DB)
		}
		return b.Add(k.DB, string(k.Key), k.Type, k.ValueHash, k.ExpireAt)
	})
	return info, dbs, err
}
