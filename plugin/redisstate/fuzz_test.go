package redisstate

import (
	"encoding/json"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseURL: --redis-url never panics, an accepted URL has a usable address and no
// password, prints back to the same options, and an error never echoes a password.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"redis://127.0.0.1:6379", "rediss://app@redis.example:7000/3", "redis://[::1]:6380/0?db=0",
		"redis://h:0", "redis://h:99999", "redis://u:pw@h:1", "redis://h:1/?db=2&db=3", "redis://h:1/x", "http://h",
		"redis://h:1/?protocol=3", "redis://%zz@h", "redis://h:1/-1", "redis://h:1/9999999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		o, err := ParseURL(raw)
		if err != nil {
			if u, perr := url.Parse(raw); perr == nil && u.User != nil {
				if pw, ok := u.User.Password(); ok && len(pw) >= 3 && strings.Count(raw, pw) == 1 && strings.Contains(err.Error(), pw) {
					t.Fatalf("error echoes the password: %v", err)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error of more than one line: %q", err)
			}
			return
		}
		host, port, err := net.SplitHostPort(o.Addr)
		if err != nil || host == "" {
			t.Fatalf("accepted %q with address %q: %v", raw, o.Addr, err)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			t.Fatalf("accepted %q with port %q", raw, port)
		}
		if o.Password != "" || o.DB < 0 || (o.DB != 0 && !o.OnlyDB) {
			t.Fatalf("accepted %q as %+v", raw, o)
		}
		back, err := ParseURL(o.String())
		if err != nil {
			t.Fatalf("%q → %q does not parse back: %v", raw, o.String(), err)
		}
		if !reflect.DeepEqual(back, o) { // Dialer is nil in both

			t.Fatalf("%q → %q → %+v, want %+v", raw, o.String(), back, o)
		}
	})
}

// FuzzSnapshotLoad: a snapshot with any summary.json and any content in one shard file
// never panics, and is either an error or verified only when it holds the original data.
func FuzzSnapshotLoad(f *testing.F) {
	// the original of every fuzzed copy; f.TempDir is removed when the target ends
	// (each fuzzing worker process runs it once)
	dir := f.TempDir()
	var recs []Record
	for i := 0; i < 3000; i++ {
		recs = append(recs, Record{DB: i % 3, Key: "k" + strconv.Itoa(i), Type: TypeString, ValueHash: uint64(i), ExpireAt: -1})
	}
	fs := fakeSnapshot(f, "orig", recs, TTLNone, 1)
	st := &Store{StateDir: dir}
	os.MkdirAll(st.Root(), 0o700)
	orig := &Snapshot{ID: "orig", Dir: fs.Dir}
	if err := st.Commit(orig, fs.Summary, "svc"); err != nil {
		f.Fatal(err)
	}
	sum, _ := os.ReadFile(filepath.Join(orig.Dir, "summary.json"))
	shard0, _ := os.ReadFile(shardPath(orig.Dir, 0))
	f.Add(sum, shard0, byte(0))
	f.Add(sum[:len(sum)/2], shard0, byte(0))
	f.Add(sum, shard0[:len(shard0)-1], byte(0))
	f.Add([]byte(`{"format":2}`), []byte{}, byte(1))
	f.Add(sum, []byte{0x00, 0xff, 0xff, 0xff, 0xff, 0x0f}, byte(0))
	f.Fuzz(func(t *testing.T, summary, shard []byte, which byte) {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, shardDirName), 0o700)
		os.WriteFile(filepath.Join(dir, "summary.json"), summary, 0o600)
		if !json.Valid(summary) {
			if _, err := LoadSnapshotDir(dir); err == nil {
				t.Fatal("loaded a summary.json that is not JSON")
			}
			return
		}
		for i := 0; i < NumShards; i++ {
			if i == int(which) {
				os.WriteFile(shardPath(dir, i), shard, 0o600)
			} else if err := os.Link(shardPath(orig.Dir, i), shardPath(dir, i)); err != nil {
				t.Fatal(err) // read only: the original stays as it is
			}
		}
		s, err := LoadSnapshotDir(dir)
		if err != nil {
			return
		}
		for _, pair := range [][2]*Snapshot{{s, orig}, {orig, s}} {
			rep, err := Compare(pair[0], pair[1], CompareOptions{})
			if err != nil {
				continue
			}
			if rep.OK() && (s.Summary.Digest != orig.Summary.Digest || s.Summary.Keys != orig.Summary.Keys) {
				t.Fatalf("verified a snapshot that holds other data: %+v", s.Summary)
			}
		}
		for _, i := range []int{0, int(which)} {
			_ = ReadShard(s, i, func(Record) error { return nil })
		}
	})
}

// FuzzReadShard: the record parser never panics nor allocates more than the file holds,
// whatever the bytes (no checksum to stop it first).
func FuzzReadShard(f *testing.F) {
	var w []byte
	for _, r := range []Record{{DB: 0, Key: "a", Type: TypeString, ValueHash: 1, ExpireAt: -1}, {DB: 7, Key: "\xff\x00", Type: TypeHash, ExpireAt: 1 << 40}} {
		w = appendRecord(w, r)
	}
	f.Add(w)
	f.Add(w[:len(w)-2])
	f.Add([]byte{0x00, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, shardDirName), 0o700)
		os.WriteFile(shardPath(dir, 3), data, 0o600)
		var n int
		err := readShard(dir, 3, nil, func(r Record) error {
			n++
			if len(r.Key) > len(data) {
				t.Fatalf("key of %d bytes from a %d-byte file", len(r.Key), len(data))
			}
			return nil
		})
		if err == nil && n == 0 && len(data) > 0 {
			t.Fatalf("%d bytes, no record and no error", len(data))
		}
	})
}
