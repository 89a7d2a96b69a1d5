package pgstate

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Finding is one refusal or warning of Preflight.
type Finding struct {
	Code    string `json:"code"`           // stable identifier, e.g. "dir-not-on-volume"
	Path    string `json:"path,omitempty"` // the file system path or setting concerned
	Message string `json:"message"`        // one line for the user
	Fix     string `json:"fix,omitempty"`  // what to do about it
}

func (f Finding) String() string {
	if f.Fix != "" {
		return f.Message + " (" + f.Fix + ")"
	}
	return f.Message
}

// Finding codes.
const (
	CodeDirNotOnVolume   = "dir-not-on-volume"
	CodeDirUnknown       = "data-directory-unknown"
	CodeFsyncOff         = "fsync-off"
	CodeFullPageWrites   = "full-page-writes-off"
	CodeInRecovery       = "in-recovery"
	CodeNoAlterSystem    = "no-alter-system"
	CodeNoCheckpoint     = "no-checkpoint"
	CodeNoReload         = "no-reload-conf"
	CodeNoReadAll        = "no-read-all-data"
	CodeNoReadStats      = "no-read-all-stats"
	CodeReadOnlyOverride = "read-only-overridden"
	CodeAlreadyReadOnly  = "already-read-only"
	CodeOldServer        = "server-too-old"
	CodeRowSecurity      = "row-security"
	CodeTablespace       = "tablespace-not-on-volume"
	CodeWALNotOnVolume   = "wal-not-on-volume"
	CodeNoConnections    = "database-refuses-connections"
)

// PreflightInput is what the caller knows about the service.
type PreflightInput struct {
	// MountTargets are the container paths of the new spec's volume and bind mounts; nil
	// skips the mount check (the caller only wants the server's side).
	MountTargets []string
	// DataDir is PGDATA from the service's environment; "" = SHOW data_directory, or the
	// official image's /var/lib/postgresql/data when the role may not read it.
	DataDir string
	// StopGrace is the service's stop grace period (docker's default is 10 s).
	StopGrace time.Duration
	// Env is the container's environment (KEY=VALUE) of the new spec, nil when unknown:
	// POSTGRES_INITDB_WALDIR puts pg_wal outside PGDATA, and it must be on a mount too.
	Env []string
}

// DefaultDataDir is where the official image keeps the data (PGDATA).
const DefaultDataDir = "/var/lib/postgresql/data"

// PreflightResult lists refusals (the update must not go ahead) and warnings.
type PreflightResult struct {
	Server        ServerInfo `json:"server"`
	DataDirectory string     `json:"data_directory"` // the path checked against the mounts
	Fsync         bool       `json:"fsync"`
	FullPageWrite bool       `json:"full_page_writes"`
	// CheckpointAvg is the average duration of the server's past checkpoints
	// (pg_stat_bgwriter), 0 when none ran yet.
	CheckpointAvg time.Duration `json:"checkpoint_avg_ns"`
	Refusals      []Finding     `json:"refusals"`
	Warnings      []Finding     `json:"warnings"`
}

// OK reports whether there is no refusal.
func (r *PreflightResult) OK() bool { return len(r.Refusals) == 0 }

func (r *PreflightResult) refuse(code, p, msg, fix string) {
	r.Refusals = append(r.Refusals, Finding{Code: code, Path: p, Message: msg, Fix: fix})
}

func (r *PreflightResult) warn(code, p, msg, fix string) {
	r.Warnings = append(r.Warnings, Finding{Code: code, Path: p, Message: msg, Fix: fix})
}

// Preflight checks that the data can survive a replacement of the server process and that
// the role may take the cut and the fingerprint. It only reads; an error is returned only
// when the server cannot be queried at all.
func Preflight(ctx context.Context, c *Client, in PreflightInput) (*PreflightResult, error) {
	conn, err := c.Connect(ctx, "")
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	si, err := serverInfo(ctx, conn)
	if err != nil {
		return nil, err
	}
	r := &PreflightResult{Server: *si, Refusals: []Finding{}, Warnings: []Finding{}}
	if si.VersionNum < 110000 {
		r.refuse(CodeOldServer, "", fmt.Sprintf("PostgreSQL %s has no hashtextextended() for the fingerprint", si.Version), "PostgreSQL 11 or later is needed")
	}
	if si.InRecovery {
		r.refuse(CodeInRecovery, "", "the server is in recovery (a standby, or still replaying WAL)", "verify the primary")
	}

	// Data directory on a mount of the new spec.
	r.DataDirectory = in.DataDir
	if r.DataDirectory == "" {
		r.DataDirectory = si.DataDirectory
	}
	if r.DataDirectory == "" {
		r.DataDirectory = DefaultDataDir
		r.warn(CodeDirUnknown, DefaultDataDir, "the role may not read data_directory; assuming the official image's "+DefaultDataDir,
			"set PGDATA in the service or GRANT pg_read_all_settings TO "+si.User)
	}
	if in.MountTargets != nil && coveringMount(r.DataDirectory, in.MountTargets) == "" {
		fix := "mount a named volume there (e.g. --mount-add type=volume,source=NAME,target=" + r.DataDirectory + ")"
		if len(in.MountTargets) > 0 {
			fix = "mounts: " + strings.Join(in.MountTargets, ", ") + "; " + fix
		}
		r.refuse(CodeDirNotOnVolume, r.DataDirectory, "PostgreSQL keeps its data in "+r.DataDirectory+", which is not on a volume or bind mount of the service", fix)
	}

	// Data outside PGDATA: tablespaces (their own directories, linked from pg_tblspc) and a
	// pg_wal moved elsewhere (initdb --waldir, POSTGRES_INITDB_WALDIR of the official image).
	if in.MountTargets != nil {
		rows, err := conn.Query(ctx, `SELECT spcname, pg_tablespace_location(oid) FROM pg_tablespace
			WHERE pg_tablespace_location(oid) <> '' ORDER BY spcname`)
		if err != nil {
			return nil, fmt.Errorf("cannot list tablespaces: %w", describeErr(c.Addr(), err))
		}
		type tablespace struct{ name, dir string }
		tss, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (tablespace, error) {
			var t tablespace
			return t, row.Scan(&t.name, &t.dir)
		})
		if err != nil {
			return nil, fmt.Errorf("cannot list tablespaces: %w", describeErr(c.Addr(), err))
		}
		for _, t := range tss {
			if coveringMount(t.dir, in.MountTargets) == "" {
				r.refuse(CodeTablespace, t.dir, fmt.Sprintf("tablespace %s keeps its tables in %s, outside PGDATA and on no volume or bind mount of the service", t.name, t.dir),
					"mount a named volume there (e.g. --mount-add type=volume,source=NAME,target="+t.dir+")")
			}
		}
		if wal := walDirFromEnv(in.Env); wal != "" && coveringMount(wal, in.MountTargets) == "" {
			r.refuse(CodeWALNotOnVolume, wal, "PostgreSQL's WAL (pg_wal) is in "+wal+" (POSTGRES_INITDB_WALDIR), outside PGDATA and on no volume or bind mount of the service: committed transactions since the last checkpoint would be lost, and the server would not start",
				"mount a named volume there (e.g. --mount-add type=volume,source=NAME,target="+wal+")")
		}
	}
	// Databases that refuse connections cannot be fingerprinted: say so, never skip silently.
	dbs, err := listDatabases(ctx, conn)
	if err != nil {
		return nil, describeErr(c.Addr(), err)
	}
	for _, d := range dbs {
		if !d.AllowConn {
			r.warn(CodeNoConnections, d.Name, fmt.Sprintf("database %s does not accept connections (datallowconn = false): its data is not fingerprinted, so not checked", d.Name),
				"ALTER DATABASE "+ident(d.Name)+" ALLOW_CONNECTIONS true, to have it checked")
		}
	}

	// Durability settings: a checkpoint must complete within the grace period, or the
	// next start depends on WAL that fsync=off / full_page_writes=off do not protect.
	var fsync, fpw string
	var ckptMs float64
	var ckpts int64
	ckptQ := `SELECT current_setting('fsync'), current_setting('full_page_writes'),
		checkpoint_write_time + checkpoint_sync_time, checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter`
	if si.VersionNum >= 170000 { // the checkpoint columns moved to pg_stat_checkpointer
		ckptQ = `SELECT current_setting('fsync'), current_setting('full_page_writes'),
			write_time + sync_time, num_timed + num_requested FROM pg_stat_checkpointer`
	}
	err = conn.QueryRow(ctx, ckptQ).Scan(&fsync, &fpw, &ckptMs, &ckpts)
	if err != nil {
		return nil, fmt.Errorf("cannot read the server's settings: %w", describeErr(c.Addr(), err))
	}
	r.Fsync, r.FullPageWrite = fsync == "on", fpw == "on"
	if ckpts > 0 {
		r.CheckpointAvg = time.Duration(ckptMs/float64(ckpts)) * time.Millisecond
	}
	grace := in.StopGrace
	if grace <= 0 {
		grace = 10 * time.Second
	}
	for _, s := range []struct {
		on         bool
		name, code string
	}{{r.Fsync, "fsync", CodeFsyncOff}, {r.FullPageWrite, "full_page_writes", CodeFullPageWrites}} {
		if s.on {
			continue
		}
		msg := fmt.Sprintf("%s=off: data written since the last checkpoint is not crash-safe", s.name)
		fix := "turn " + s.name + " on (ALTER SYSTEM SET " + s.name + " = on; SELECT pg_reload_conf())"
		if r.CheckpointAvg >= grace {
			r.refuse(s.code, s.name, fmt.Sprintf("%s, and a checkpoint takes %s on average, longer than the stop grace period %s",
				msg, r.CheckpointAvg.Round(time.Millisecond), grace), fix+" or raise --stop-grace-period")
		} else {
			r.warn(s.code, s.name, msg+"; the cut's CHECKPOINT and the shutdown checkpoint cover a clean stop", fix)
		}
	}

	// Rights: ALTER SYSTEM, CHECKPOINT, read every table, see other sessions' transactions.
	if !si.Superuser {
		rights, err := roleRights(ctx, conn, si.VersionNum)
		if err != nil {
			return nil, err
		}
		u := si.User
		if !rights.alterSystem {
			fix := "run the check as a superuser"
			if si.VersionNum >= 150000 {
				fix = "GRANT ALTER SYSTEM ON PARAMETER default_transaction_read_only TO " + u
			}
			r.refuse(CodeNoAlterSystem, "", "role "+u+" may not run ALTER SYSTEM SET default_transaction_read_only (needed to stop writes)", fix)
		}
		if !rights.reload {
			r.refuse(CodeNoReload, "", "role "+u+" may not call pg_reload_conf() (needed to apply and undo the read-only setting)",
				"GRANT EXECUTE ON FUNCTION pg_reload_conf() TO "+u)
		}
		if !rights.checkpoint {
			fix := "run the check as a superuser"
			if si.VersionNum >= 150000 {
				fix = "GRANT pg_checkpoint TO " + u
			}
			r.refuse(CodeNoCheckpoint, "", "role "+u+" may not run CHECKPOINT", fix)
		}
		if !rights.readAll {
			fix := "run the check as a superuser"
			if si.VersionNum >= 140000 {
				fix = "GRANT pg_read_all_data TO " + u
			}
			r.refuse(CodeNoReadAll, "", "role "+u+" may not read every table (needed for the fingerprint)", fix)
		}
		if !rights.readStats {
			r.refuse(CodeNoReadStats, "", "role "+u+" cannot see other sessions' transactions (needed to wait for open writes)", "GRANT pg_read_all_stats TO "+u)
		}
	}

	// Row-level security filters what a role that does not bypass it reads, silently:
	// pg_read_all_data does not bypass it, and a table with RLS on and no policy reads as
	// empty. Such a fingerprint would prove nothing about the hidden rows.
	if !si.Superuser {
		hidden, err := rowSecurityTables(ctx, c, conn)
		if err != nil {
			return nil, err
		}
		if len(hidden) > 0 {
			r.refuse(CodeRowSecurity, "", fmt.Sprintf("row-level security hides rows of %d table(s) from role %s, which does not bypass it (pg_read_all_data does not): %s; the fingerprint would not see them",
				len(hidden), si.User, listSome(hidden, 10)), "ALTER ROLE "+ident(si.User)+" BYPASSRLS")
		}
	}

	// Per-role or per-database settings override ALTER SYSTEM: those sessions stay writable.
	rows, err := conn.Query(ctx, `SELECT coalesce(r.rolname, '*'), coalesce(d.datname, '*'), s2.cfg
		FROM pg_db_role_setting s CROSS JOIN LATERAL unnest(s.setconfig) AS s2(cfg)
		LEFT JOIN pg_roles r ON r.oid = s.setrole LEFT JOIN pg_database d ON d.oid = s.setdatabase
		WHERE s2.cfg ILIKE 'default_transaction_read_only=%' OR s2.cfg ILIKE 'transaction_read_only=%'`)
	if err != nil {
		return nil, fmt.Errorf("cannot read per-role settings: %w", err)
	}
	type override struct{ role, db, cfg string }
	ovs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (override, error) {
		var o override
		return o, row.Scan(&o.role, &o.db, &o.cfg)
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read per-role settings: %w", err)
	}
	for _, o := range ovs {
		r.refuse(CodeReadOnlyOverride, o.cfg, fmt.Sprintf("%s is set for role %s in database %s: those sessions ignore the cut and keep writing", o.cfg, o.role, o.db),
			"ALTER ROLE/DATABASE ... RESET default_transaction_read_only")
	}
	if si.ReadOnly {
		r.warn(CodeAlreadyReadOnly, "default_transaction_read_only", "default_transaction_read_only is already on (an interrupted earlier cut?); the cut's resume turns writes back on",
			"if that is not intended: ALTER SYSTEM RESET default_transaction_read_only; SELECT pg_reload_conf()")
	}
	return r, nil
}

type rights struct{ alterSystem, checkpoint, readAll, readStats, reload bool }

func roleRights(ctx context.Context, conn *pgx.Conn, ver int) (rights, error) {
	var r rights
	q := `SELECT false, false, pg_has_role('pg_read_all_stats', 'member'), false`
	switch {
	case ver >= 150000:
		q = `SELECT has_parameter_privilege('default_transaction_read_only', 'ALTER SYSTEM'),
			pg_has_role('pg_checkpoint', 'member'), pg_has_role('pg_read_all_stats', 'member'),
			pg_has_role('pg_read_all_data', 'member')`
	case ver >= 140000:
		q = `SELECT false, false, pg_has_role('pg_read_all_stats', 'member'), pg_has_role('pg_read_all_data', 'member')`
	}
	err := conn.QueryRow(ctx, strings.Replace(q, "SELECT ", "SELECT has_function_privilege('pg_reload_conf()', 'EXECUTE'), ", 1)).
		Scan(&r.reload, &r.alterSystem, &r.checkpoint, &r.readStats, &r.readAll)
	if err != nil {
		return r, fmt.Errorf("cannot check the role's rights: %w", err)
	}
	return r, nil
}

// coveringMount returns the mount target that contains dir ("" = none).
func coveringMount(dir string, targets []string) string {
	dir = path.Clean(dir)
	best := ""
	for _, t := range targets {
		t = path.Clean(t)
		if t == "" || t == "." {
			continue
		}
		if dir == t || t == "/" || strings.HasPrefix(dir, t+"/") {
			if len(t) > len(best) {
				best = t
			}
		}
	}
	return best
}

// DataDirFromEnv returns PGDATA from a container's environment (KEY=VALUE entries, the
// last one wins as in docker), or DefaultDataDir when it is not set.
func DataDirFromEnv(env []string) string {
	dir := DefaultDataDir
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PGDATA="); ok && v != "" {
			dir = path.Clean(v)
		}
	}
	return dir
}

// rowSecurityTables lists, in every database the fingerprint reads, the tables whose rows
// row-level security filters for the connected role (db.schema.table); none when the role
// bypasses RLS. A table's owner is subject to it only with FORCE ROW LEVEL SECURITY.
func rowSecurityTables(ctx context.Context, c *Client, conn *pgx.Conn) ([]string, error) {
	var bypass bool
	if err := conn.QueryRow(ctx, `SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&bypass); err != nil {
		return nil, fmt.Errorf("cannot read the role's attributes: %w", describeErr(c.Addr(), err))
	}
	if bypass {
		return nil, nil
	}
	dbs, err := listDatabases(ctx, conn)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, db := range dbs {
		if !db.AllowConn {
			continue
		}
		dc, err := c.Connect(ctx, db.Name)
		if err != nil {
			return nil, fmt.Errorf("database %s: %w", db.Name, err)
		}
		rows, err := dc.Query(ctx, `SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relkind IN ('r', 'p', 'm') AND c.relrowsecurity AND `+userRelations+`
				AND (c.relforcerowsecurity OR NOT pg_has_role(current_user, c.relowner, 'USAGE'))
			ORDER BY 1`)
		var ts []string
		if err == nil {
			ts, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		dc.Close(context.WithoutCancel(ctx))
		if err != nil {
			return nil, fmt.Errorf("database %s: cannot list tables with row-level security: %w", db.Name, describeErr(c.Addr(), err))
		}
		for _, t := range ts {
			out = append(out, db.Name+"."+t)
		}
	}
	return out, nil
}

// Database is one database of the server as pg_database lists it.
type Database struct {
	Name      string `json:"name"`
	AllowConn bool   `json:"allow_connections"`
}

// listDatabases lists the databases the fingerprint covers, templates excluded, with
// whether they accept connections (those that do not cannot be fingerprinted).
func listDatabases(ctx context.Context, conn *pgx.Conn) ([]Database, error) {
	rows, err := conn.Query(ctx, `SELECT datname, datallowconn FROM pg_database WHERE NOT datistemplate ORDER BY datname`)
	if err != nil {
		return nil, fmt.Errorf("cannot list databases: %w", err)
	}
	dbs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Database, error) {
		var d Database
		return d, r.Scan(&d.Name, &d.AllowConn)
	})
	if err != nil {
		return nil, fmt.Errorf("cannot list databases: %w", err)
	}
	return dbs, nil
}

// listSome joins the first n items and says how many more there are.
func listSome(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// ident quotes a name for SQL only when it needs quoting (as quote_ident does).
func ident(name string) string {
	plain := name != ""
	for i, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || i > 0 && (r >= '0' && r <= '9' || r == '$')) {
			plain = false
		}
	}
	if plain {
		return name
	}
	return pgx.Identifier{name}.Sanitize()
}

// walDirFromEnv returns POSTGRES_INITDB_WALDIR from a container's environment ("" = pg_wal
// is in PGDATA).
func walDirFromEnv(env []string) string {
	dir := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "POSTGRES_INITDB_WALDIR="); ok {
			dir = v
			if v != "" {
				dir = path.Clean(v)
			}
		}
	}
	return dir
}
