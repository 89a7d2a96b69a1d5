package pgstate

import (
	"context"
	"testing"
	"time"
)

func codes(fs []Finding) map[string]Finding {
	m := map[string]Finding{}
	for _, f := range fs {
		m[f.Code] = f
	}
	return m
}

func TestPreflightSettingsAndMounts(t *testing.T) {
	p := startPG(t)
	ctx := context.Background()
	c := p.client()
	r, err := Preflight(ctx, c, PreflightInput{MountTargets: []string{p.Dir}, StopGrace: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() || len(r.Warnings) != 0 || r.DataDirectory != p.Data || !r.Fsync {
		t.Fatalf("clean server: %+v", r)
	}
	p.exec(p.conn("postgres"), "ALTER SYSTEM SET fsync = off", "ALTER SYSTEM SET full_page_writes = off", "SELECT pg_reload_conf()")
	time.Sleep(300 * time.Millisecond)
	r, err = Preflight(ctx, c, PreflightInput{MountTargets: []string{"/elsewhere"}, DataDir: "/var/lib/postgresql/data/pgdata"})
	if err != nil {
		t.Fatal(err)
	}
	ref, warn := codes(r.Refusals), codes(r.Warnings)
	if f := ref[CodeDirNotOnVolume]; f.Path != "/var/lib/postgresql/data/pgdata" || f.Fix == "" {
		t.Fatalf("mount refusal: %+v", r.Refusals)
	}
	if _, ok := warn[CodeFsyncOff]; !ok {
		t.Fatalf("fsync=off not reported: %+v", r)
	}
	if _, ok := warn[CodeFullPageWrites]; !ok {
		t.Fatalf("full_page_writes=off not reported: %+v", r)
	}
	// the PGDATA below a mounted directory is covered
	r, _ = Preflight(ctx, c, PreflightInput{MountTargets: []string{"/var/lib/postgresql/data"}, DataDir: "/var/lib/postgresql/data/pgdata"})
	if _, bad := codes(r.Refusals)[CodeDirNotOnVolume]; bad {
		t.Fatalf("PGDATA under the mount refused: %+v", r.Refusals)
	}
}

func TestPreflightRoleRightsAndACutByADedicatedRole(t *testing.T) {
	p := startPG(t)
	ctx := context.Background()
	admin := p.conn("postgres")
	p.exec(admin, "CREATE ROLE checker LOGIN PASSWORD 'pw'", "CREATE TABLE t (id int)", "INSERT INTO t VALUES (1)")
	c := p.clientAs("checker", "pw")
	r, err := Preflight(ctx, c, PreflightInput{})
	if err != nil {
		t.Fatal(err)
	}
	ref := codes(r.Refusals)
	for _, code := range []string{CodeNoReload, CodeNoAlterSystem, CodeNoCheckpoint, CodeNoReadAll, CodeNoReadStats} {
		if f, ok := ref[code]; !ok || f.Fix == "" {
			t.Errorf("%s not refused: %+v", code, r.Refusals)
		}
	}
	if _, ok := codes(r.Warnings)[CodeDirUnknown]; !ok {
		t.Errorf("unreadable data_directory not reported: %+v", r.Warnings)
	}
	// the fixes the refusals name are enough for the whole check
	for _, f := range r.Refusals {
		p.exec(admin, f.Fix)
	}
	p.exec(admin, "GRANT pg_read_all_settings TO checker")
	r, err = Preflight(ctx, c, PreflightInput{})
	if err != nil || !r.OK() || r.DataDirectory != p.Data {
		t.Fatalf("after the grants: %v %+v", err, r)
	}
	h, err := Cut(ctx, c, CutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release(ctx)
	st, _ := OpenStore(t.TempDir())
	snap, err := TakeSnapshot(ctx, c, st, "", &h.Info, FingerprintOptions{})
	if err != nil || snap.Summary.Rows != 1 {
		t.Fatalf("fingerprint as checker: %v", err)
	}
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}
	waitWritable(t, p)

	// a per-role override would let that role keep writing through the cut
	p.exec(admin, "ALTER ROLE postgres SET default_transaction_read_only = off")
	r, _ = Preflight(ctx, c, PreflightInput{})
	if f, ok := codes(r.Refusals)[CodeReadOnlyOverride]; !ok || f.Fix == "" {
		t.Fatalf("role override not refused: %+v", r.Refusals)
	}
}
