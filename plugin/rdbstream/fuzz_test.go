package rdbstream

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

// small.rdb: a Redis 7.0.15 SAVE of a few keys of every type (strings plain, integer and
// LZF-compressed, a TTL, list, set, intset, zset, hash, stream with a group and a
// pending entry, database 2).
func smallRDB(t testing.TB) []byte {
	b, err := os.ReadFile("testdata/small.rdb")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseFile(t *testing.T) {
	b := smallRDB(t)
	var n int
	var sawExp, sawLZF bool
	info, err := Parse(bytes.NewReader(b), 0, func(k *Key) error {
		n++
		sawExp = sawExp || k.ExpireAt > 0
		sawLZF = sawLZF || string(k.Key) == "lz"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 10 || !sawExp || !sawLZF || info.Version != 10 || info.Bytes != int64(len(b)) {
		t.Errorf("%d keys, expire %v, lzf %v, info %+v", n, sawExp, sawLZF, info)
	}
	// every truncation and a flipped byte are errors, never a panic or a silent success
	for i := 0; i < len(b); i++ {
		if _, err := Parse(bytes.NewReader(b[:i]), 0, func(*Key) error { return nil }); err == nil {
			t.Fatalf("truncated at %d: no error", i)
		}
	}
	c := append([]byte(nil), b...)
	c[len(c)/2] ^= 0x40
	if _, err := Parse(bytes.NewReader(c), 0, func(*Key) error { return nil }); err == nil {
		t.Error("corrupt payload: no error")
	}
	// a callback's error ends the parse and is returned as is
	stop := errors.New("stop")
	if _, err := Parse(bytes.NewReader(b), 0, func(*Key) error { return stop }); err != stop {
		t.Errorf("callback error: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(smallRDB(f))
	f.Add([]byte("REDIS0010\xff\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Parse(bytes.NewReader(b), 0, func(k *Key) error {
			_ = k.AppendDump(nil, 10)
			return nil
		})
	})
}
