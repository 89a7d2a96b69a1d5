package redisstate

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func codes(fs []Finding) map[string]bool {
	m := map[string]bool{}
	for _, f := range fs {
		m[f.Code] = true
	}
	return m
}

func yes() *bool { b := true; return &b }

func TestPreflightRules(t *testing.T) {
	r := startRedis(t, "--enable-protected-configs", "local")
	c := r.client(t)
	rdb := r.raw(t)
	ctx := context.Background()

	// dir on a mount, but save "" + appendonly no → warning only
	res, err := Preflight(ctx, c, PreflightInput{MountTargets: []string{r.Dir}, StopGrace: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || !codes(res.Warnings)[CodeNoPersistence] {
		t.Errorf("save '' appendonly no: refusals %v warnings %v", res.Refusals, res.Warnings)
	}
	if res.Config.Dir != r.Dir || res.Config.DBFilename != "dump.rdb" {
		t.Errorf("config %+v", res.Config)
	}

	// dir not under any mount
	res, _ = Preflight(ctx, c, PreflightInput{MountTargets: []string{"/data", r.Dir + "-other"}})
	if !codes(res.Refusals)[CodeDirNotOnVolume] {
		t.Errorf("dir not on volume not refused: %v", res.Refusals)
	}
	// parent mount covers it
	res, _ = Preflight(ctx, c, PreflightInput{MountTargets: []string{"/tmp", "/"}})
	if codes(res.Refusals)[CodeDirNotOnVolume] {
		t.Errorf("parent mount should cover %s", r.Dir)
	}

	// update turns AOF on while data is only in the RDB
	res, _ = Preflight(ctx, c, PreflightInput{MountTargets: []string{r.Dir}, NewAppendOnly: yes()})
	if !codes(res.Refusals)[CodeAOFTurnsOn] || codes(res.Warnings)[CodeNoPersistence] {
		t.Errorf("AOF on: refusals %v warnings %v", res.Refusals, res.Warnings)
	}

	// save points set → no "no persistence" warning
	rdb.ConfigSet(ctx, "save", "3600 1")
	res, _ = Preflight(ctx, c, PreflightInput{MountTargets: []string{r.Dir}})
	if codes(res.Warnings)[CodeNoPersistence] {
		t.Errorf("save points set but warned: %v", res.Warnings)
	}

	// grace > 60 s
	res, _ = Preflight(ctx, c, PreflightInput{MountTargets: []string{r.Dir}, StopGrace: 90 * time.Second})
	if !codes(res.Warnings)[CodeGraceOver60s] {
		t.Errorf("grace > 60s not warned: %v", res.Warnings)
	}

	// persistence already failing
	gone := t.TempDir() + "/gone"
	os.Mkdir(gone, 0o755)
	rdb.ConfigSet(ctx, "dir", gone)
	os.RemoveAll(gone)
	rdb.BgSave(ctx)
	for i := 0; i < 50; i++ {
		p, _ := c.Info(ctx, "persistence")
		if p["rdb_bgsave_in_progress"] == "0" && p["rdb_last_bgsave_status"] == "err" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	res, _ = Preflight(ctx, c, PreflightInput{MountTargets: []string{"/"}})
	if !codes(res.Refusals)[CodeSaveFailing] {
		t.Errorf("failing save not refused: %v", res.Refusals)
	}
	rdb.ConfigSet(ctx, "dir", r.Dir)
}

func TestPreflightSlowSave(t *testing.T) {
	r := startRedis(t, "--enable-debug-command", "local", "--rdb-key-save-delay", "100")
	c := r.client(t)
	rdb := r.raw(t)
	ctx := context.Background()
	if err := rdb.Do(ctx, "DEBUG", "POPULATE", 12000).Err(); err != nil {
		t.Skip(err)
	}
	if err := rdb.BgSave(ctx).Err(); err != nil { // ~1.2 s with 100 µs per key
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		p, _ := c.Info(ctx, "persistence")
		if p["rdb_bgsave_in_progress"] == "0" && p["rdb_last_bgsave_time_sec"] != "-1" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	res, err := Preflight(ctx, c, PreflightInput{MountTargets: []string{r.Dir}, StopGrace: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !codes(res.Warnings)[CodeSaveSlowerThanStop] {
		t.Errorf("slow save not warned (last save %s): %v", res.LastSaveDuration, res.Warnings)
	}
}

func TestPreflightConfigDisabled(t *testing.T) {
	r := startRedis(t, "--rename-command", "CONFIG", "")
	c := r.client(t)
	res, err := Preflight(context.Background(), c, PreflightInput{MountTargets: []string{"/data"}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || !codes(res.Warnings)[CodeConfigDisabled] || !res.Config.Assumed || res.Config.Dir != "/data" {
		t.Errorf("refusals %v warnings %v config %+v", res.Refusals, res.Warnings, res.Config)
	}
}

func TestParseServerArgs(t *testing.T) {
	cases := []struct {
		cmd, args []string
		aof       *bool
		save      *string
		dir       string
		found     bool
	}{
		{nil, []string{"redis-server", "--appendonly", "yes"}, yes(), nil, "", true},
		{[]string{"docker-entrypoint.sh"}, []string{"redis-server", "/etc/redis.conf", "--save", "", "--dir", "/var/lib/redis"}, nil, strp(""), "/var/lib/redis", true},
		{[]string{"redis-server", "--save", "60", "1", "300", "10", "--appendonly", "no"}, nil, nop(), strp("60 1 300 10"), "", true},
		{[]string{"sh", "-c", "exec redis-server --appendonly yes --save ''"}, nil, yes(), strp(""), "", true},
		{nil, []string{"--appendonly", "yes"}, yes(), nil, "", true}, // official image: bare options
		{[]string{"nginx"}, nil, nil, nil, "", false},
	}
	for i, tc := range cases {
		sa := ParseServerArgs(tc.cmd, tc.args)
		if sa.Found != tc.found || !eqB(sa.AppendOnly, tc.aof) || !eqS(sa.Save, tc.save) || sa.Dir != tc.dir {
			t.Errorf("case %d: %+v", i, sa)
		}
	}
}

func strp(s string) *string { return &s }
func nop() *bool            { b := false; return &b }
func eqB(a, b *bool) bool   { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }
func eqS(a, b *string) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

// A cluster-mode Redis is refused with one clear line (it failed later with CROSSSLOT).
func TestClusterModeRefused(t *testing.T) {
	r := startRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	ctx := context.Background()
	rdb := r.raw(t)
	if err := rdb.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err(); err != nil {
		t.Fatal(err)
	}
	c := r.client(t)
	pre, err := Preflight(ctx, c, PreflightInput{MountTargets: []string{r.Dir}})
	if err != nil {
		t.Fatal(err)
	}
	if pre.OK() || pre.Refusals[0].Code != CodeCluster || !strings.Contains(pre.Refusals[0].Message, "cluster mode (cluster_enabled:1)") {
		t.Fatalf("cluster mode: %+v", pre.Refusals)
	}
	st, _ := OpenStore(t.TempDir())
	if _, err := TakeSnapshot(ctx, c, st, "svc", nil, FingerprintOptions{}); !errors.Is(err, ErrCluster) {
		t.Fatalf("fingerprint of a cluster node: %v", err)
	}
}
