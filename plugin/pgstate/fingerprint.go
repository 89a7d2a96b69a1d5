package pgstate

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
	"github.com/jackc/pgx/v5"
)

// Hex64 is a uint64 shown as 16 hex digits in JSON and text.
type Hex64 = redisstate.Hex64

// Engine is the value of Summary.Engine.
const Engine = "postgres"

// FingerprintOptions tunes Fingerprint.
type FingerprintOptions struct {
	// Workers is the number of connections per database that hash tables in parallel,
	// all in one exported snapshot. Default 2.
	Workers int
	// LockTimeout bounds the wait for a table lock (a pending ALTER TABLE). Default 30 s.
	LockTimeout time.Duration
	// Progress, if set, is called after each table (one call at a time).
	Progress func(Progress)
}

// Progress reports the fingerprint's advance.
type Progress struct {
	Database   string
	Table      string
	TablesDone int
	Rows       int64
	Elapsed    time.Duration
}

// TableRecord is one table (or materialized view) of a database manifest.
type TableRecord struct {
	Schema   string `json:"schema"`
	Name     string `json:"name"`
	Kind     string `json:"kind"` // "table", "partitioned" (rows are in its partitions), "matview", "large objects"
	Unlogged bool   `json:"unlogged,omitempty"`
	HasPK    bool   `json:"has_primary_key"`
	Rows     int64  `json:"rows"` // -1 for a partitioned table
	// Digest is the sum mod 2^64 of hashtextextended(row::text, 0) over the rows: the same
	// rows in any physical order give the same sum, and duplicate rows (no primary key)
	// count as often as they occur.
	Digest       Hex64    `json:"digest"`
	Columns      []string `json:"columns"`
	Indexes      []string `json:"indexes"`
	Constraints  []string `json:"constraints"`
	SchemaDigest Hex64    `json:"schema_digest"`
}

// QualifiedName is schema.name.
func (t TableRecord) QualifiedName() string { return t.Schema + "." + t.Name }

// SequenceRecord is one sequence's state.
type SequenceRecord struct {
	Schema     string `json:"schema"`
	Name       string `json:"name"`
	LastValue  int64  `json:"last_value"`
	IsCalled   bool   `json:"is_called"`
	Increment  int64  `json:"increment"`
	Definition string `json:"definition"`
}

// Next is the value nextval() would return (ignoring the bounds).
func (s SequenceRecord) Next() int64 {
	if s.IsCalled {
		return s.LastValue + s.Increment
	}
	return s.LastValue
}

// QualifiedName is schema.name.
func (s SequenceRecord) QualifiedName() string { return s.Schema + "." + s.Name }

// ObjectRecord is another schema object (type, view) by its definition.
type ObjectRecord struct {
	Kind       string `json:"kind"` // "type", "view"
	Name       string `json:"name"` // schema.name
	Definition string `json:"definition"`
}

// DBManifest is the stored fingerprint of one database (one shard file).
type DBManifest struct {
	Database  string           `json:"database"`
	Tables    []TableRecord    `json:"tables"`
	Sequences []SequenceRecord `json:"sequences"`
	Objects   []ObjectRecord   `json:"objects"`

	horizon string // DBSum.XminHorizon
}

// DBSum is the digest of one database in the summary.
type DBSum struct {
	Name         string `json:"name"`
	Shard        string `json:"shard"` // file of the DBManifest, relative to the snapshot directory
	Tables       int    `json:"tables"`
	Sequences    int    `json:"sequences"`
	Rows         int64  `json:"rows"`
	Digest       Hex64  `json:"digest"`        // tables' rows + sequences + schema
	SchemaDigest Hex64  `json:"schema_digest"` // schema only
	// XminHorizon is the oldest transaction id (xid8) the database's snapshot may not
	// see: a row version written by a transaction at or after it can be newer than the
	// fingerprint (AttributeWrites counts them).
	XminHorizon string `json:"xmin_horizon,omitempty"`
}

// Summary is the result of a fingerprint; stored as summary.json next to the shards.
type Summary struct {
	Engine          string            `json:"engine"` // "postgres"
	ID              string            `json:"id"`
	Service         string            `json:"service,omitempty"`
	CreatedAt       time.Time         `json:"created_at"`
	Addr            string            `json:"addr,omitempty"`
	ServerVersion   string            `json:"server_version"`
	PostmasterStart time.Time         `json:"postmaster_start"`
	RunID           string            `json:"run_id"`
	DurationMs      int64             `json:"duration_ms"`
	Databases       []DBSum           `json:"databases"`
	Tables          int64             `json:"tables"`
	Sequences       int64             `json:"sequences"`
	Rows            int64             `json:"rows"`
	Digest          Hex64             `json:"digest"`
	Cut             *CutInfo          `json:"cut,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
	// SystemID is the cluster's system identifier (pg_control_system()), "" when the role
	// may not read it: writes after the cut are attributed only on the same cluster.
	SystemID string `json:"system_identifier,omitempty"`
	// WALLSN is pg_current_wal_lsn() when the fingerprint began.
	WALLSN string `json:"wal_lsn,omitempty"`
	// Skipped are the databases that refuse connections (datallowconn = false): not
	// fingerprinted, so not checked.
	Skipped []string `json:"skipped_databases,omitempty"`
}

// RowsPerSec is the fingerprint's throughput.
func (s *Summary) RowsPerSec() float64 {
	if s.DurationMs <= 0 {
		return 0
	}
	return float64(s.Rows) / (float64(s.DurationMs) / 1000)
}

// Fingerprint hashes every database (templates excluded) on the server into dir: one
// manifest file per database and the returned Summary. Rows are hashed by the server; only
// one count and one sum per table travel. Each database is read in one snapshot.
func Fingerprint(ctx context.Context, c *Client, dir string, opt FingerprintOptions) (*Summary, error) {
	if opt.Workers <= 0 {
		opt.Workers = 2
	}
	if opt.LockTimeout <= 0 {
		opt.LockTimeout = 30 * time.Second
	}
	start := time.Now()
	conn, err := c.Connect(ctx, "")
	if err != nil {
		return nil, err
	}
	si, err := serverInfo(ctx, conn)
	if err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	if si.VersionNum < 110000 {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("PostgreSQL %s has no hashtextextended() (11 or later is needed)", si.Version)
	}
	all0, err := listDatabases(ctx, conn)
	var dbs, skipped []string
	for _, d := range all0 {
		if d.AllowConn {
			dbs = append(dbs, d.Name)
		} else {
			skipped = append(skipped, d.Name)
		}
	}
	var sysID, lsn string
	if err == nil {
		sysID, lsn = clusterIdentity(ctx, conn)
	}
	conn.Close(context.WithoutCancel(ctx))
	if err != nil {
		return nil, describeErr(c.Addr(), err)
	}
	sum := &Summary{Engine: Engine, CreatedAt: start.UTC(), Addr: c.Addr(), ServerVersion: si.Version,
		PostmasterStart: si.PostmasterStart, RunID: si.RunID(), Databases: []DBSum{},
		SystemID: sysID, WALLSN: lsn, Skipped: skipped}
	fp := &fingerprinter{c: c, opt: opt, start: start, ver: si.VersionNum}
	all := xxhash.New()
	for i, db := range dbs {
		m, err := fp.database(ctx, db)
		if err != nil {
			return nil, fmt.Errorf("database %s: %w", db, err)
		}
		ds := m.sum()
		ds.Shard = shardName(i)
		ds.XminHorizon = m.horizon
		if err := writeManifest(dir, ds.Shard, m); err != nil {
			return nil, fmt.Errorf("cannot write the manifest: %w", err)
		}
		sum.Databases = append(sum.Databases, ds)
		sum.Tables += int64(ds.Tables)
		sum.Sequences += int64(ds.Sequences)
		sum.Rows += ds.Rows
		fmt.Fprintf(all, "%q %s\n", db, ds.Digest)
	}
	sum.Digest = Hex64(all.Sum64())
	sum.DurationMs = time.Since(start).Milliseconds()
	return sum, nil
}

type fingerprinter struct {
	c     *Client
	opt   FingerprintOptions
	start time.Time
	ver   int // server_version_num

	mu   sync.Mutex
	done int
	rows int64
}

// database reads the catalog and the sequences in a leader transaction, exports its
// snapshot and hashes the tables with opt.Workers connections in that same snapshot.
func (fp *fingerprinter) database(ctx context.Context, db string) (*DBManifest, error) {
	leader, err := fp.c.Connect(ctx, db)
	if err != nil {
		return nil, err
	}
	defer leader.Close(context.WithoutCancel(ctx))
	tx, err := leader.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, describeErr(fp.c.Addr(), err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", fp.opt.LockTimeout.Milliseconds())); err != nil {
		return nil, err
	}
	var snapshot string
	if err := tx.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&snapshot); err != nil {
		return nil, fmt.Errorf("pg_export_snapshot(): %w", err)
	}
	m := &DBManifest{Database: db}
	horizonQ := `SELECT pg_snapshot_xmin(pg_current_snapshot())::text`
	if fp.ver < 130000 {
		horizonQ = `SELECT txid_snapshot_xmin(txid_current_snapshot())::text`
	}
	if err := tx.QueryRow(ctx, horizonQ).Scan(&m.horizon); err != nil {
		return nil, fmt.Errorf("cannot read the snapshot's transaction horizon: %w", err)
	}
	if m.Tables, err = readTables(ctx, tx); err != nil {
		return nil, err
	}
	if m.Sequences, err = readSequences(ctx, tx); err != nil {
		return nil, err
	}
	if m.Objects, err = readObjects(ctx, tx); err != nil {
		return nil, err
	}
	if lo, err := readLargeObjects(ctx, tx); err != nil {
		return nil, err
	} else if lo != nil {
		m.Tables = append(m.Tables, *lo)
	}

	todo := make(chan int)
	errc := make(chan error, fp.opt.Workers)
	var wg sync.WaitGroup
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for w := 0; w < fp.opt.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fp.worker(wctx, db, snapshot, m.Tables, todo); err != nil {
				errc <- err
				cancel()
			}
		}()
	}
feed:
	for i, t := range m.Tables {
		if t.Kind != "table" && t.Kind != "matview" { // no rows of its own, or hashed already
			continue
		}
		select {
		case todo <- i:
		case <-wctx.Done():
			break feed
		}
	}
	close(todo)
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

func (fp *fingerprinter) worker(ctx context.Context, db, snapshot string, tables []TableRecord, todo <-chan int) error {
	conn, err := fp.c.Connect(ctx, db)
	if err != nil {
		for range todo {
		}
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err == nil {
		defer tx.Rollback(context.WithoutCancel(ctx))
		_, err = tx.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+snapshot+"'")
	}
	if err == nil {
		_, err = tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", fp.opt.LockTimeout.Milliseconds()))
	}
	if err != nil {
		for range todo {
		}
		return describeErr(fp.c.Addr(), err)
	}
	for i := range todo {
		t := &tables[i]
		if err := hashTable(ctx, tx, t); err != nil {
			for range todo {
			}
			return fmt.Errorf("table %s: %w", t.QualifiedName(), err)
		}
		fp.mu.Lock() // also serialises the callback
		fp.done++
		fp.rows += t.Rows
		if fp.opt.Progress != nil {
			fp.opt.Progress(Progress{Database: db, Table: t.QualifiedName(), TablesDone: fp.done, Rows: fp.rows, Elapsed: time.Since(fp.start)})
		}
		fp.mu.Unlock()
	}
	return nil
}

var two64 = new(big.Int).Lsh(big.NewInt(1), 64)

// hashTable sets t.Rows and t.Digest. The alias for the whole-row reference must not be a
// column name (a column would win over the row).
func hashTable(ctx context.Context, tx pgx.Tx, t *TableRecord) error {
	alias := "dst_row"
	for i := 0; hasColumn(t.Columns, alias); i++ {
		alias = fmt.Sprintf("dst_row%d", i)
	}
	q := fmt.Sprintf(`SELECT count(*), coalesce(sum(hashtextextended(%s::text, 0)), 0)::text FROM %s AS %s`,
		alias, pgx.Identifier{t.Schema, t.Name}.Sanitize(), alias)
	var n int64
	var s string
	if err := tx.QueryRow(ctx, q).Scan(&n, &s); err != nil {
		return err
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return fmt.Errorf("unexpected sum %q", s)
	}
	t.Rows = n
	t.Digest = Hex64(v.Mod(v, two64).Uint64()) // Mod is Euclidean: never negative
	return nil
}

func hasColumn(cols []string, name string) bool {
	for _, c := range cols {
		if c == name || strings.HasPrefix(c, name+" ") || strings.HasPrefix(c, `"`+name+`" `) {
			return true
		}
	}
	return false
}

const userRelations = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
	AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'`

// readTables reads every user table's definition: columns (name, type, NOT NULL, default,
// identity, generated, collation), indexes and constraints, each as its canonical text.
func readTables(ctx context.Context, tx pgx.Tx) ([]TableRecord, error) {
	rows, err := tx.Query(ctx, `SELECT n.nspname, c.relname, c.relkind::text, c.relpersistence = 'u',
		EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary),
		coalesce((SELECT array_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
				|| CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
				|| coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
				|| CASE a.attidentity WHEN 'a' THEN ' GENERATED ALWAYS AS IDENTITY' WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' ELSE '' END
				|| CASE a.attgenerated WHEN 's' THEN ' STORED' ELSE '' END
				|| CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
					THEN ' COLLATE ' || (SELECT quote_ident(collname) FROM pg_collation WHERE oid = a.attcollation) ELSE '' END
				ORDER BY a.attnum)
			FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
			LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
			WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '{}'),
		coalesce((SELECT array_agg(pg_get_indexdef(i.indexrelid) ORDER BY pg_get_indexdef(i.indexrelid))
			FROM pg_index i WHERE i.indrelid = c.oid), '{}'),
		coalesce((SELECT array_agg(quote_ident(co.conname) || ' ' || pg_get_constraintdef(co.oid)
				ORDER BY co.conname, pg_get_constraintdef(co.oid))
			FROM pg_constraint co WHERE co.conrelid = c.oid), '{}')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'm') AND c.relpersistence <> 't' AND `+userRelations+`
		ORDER BY n.nspname, c.relname`)
	if err != nil {
		return nil, fmt.Errorf("cannot read the tables: %w", err)
	}
	ts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TableRecord, error) {
		var t TableRecord
		var kind string
		err := r.Scan(&t.Schema, &t.Name, &kind, &t.Unlogged, &t.HasPK, &t.Columns, &t.Indexes, &t.Constraints)
		switch kind {
		case "p":
			t.Kind, t.Rows = "partitioned", -1
		case "m":
			t.Kind = "matview"
		default:
			t.Kind = "table"
		}
		t.SchemaDigest = linesDigest(append(append(append([]string{t.Kind, fmt.Sprint(t.Unlogged)}, t.Columns...), t.Indexes...), t.Constraints...))
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read the tables: %w", err)
	}
	return ts, nil
}

// readSequences reads each sequence's definition and its last_value / is_called.
func readSequences(ctx context.Context, tx pgx.Tx) ([]SequenceRecord, error) {
	rows, err := tx.Query(ctx, `SELECT n.nspname, c.relname,
			format('%s increment %s min %s max %s start %s cache %s%s', format_type(s.seqtypid, NULL), s.seqincrement,
				s.seqmin, s.seqmax, s.seqstart, s.seqcache, CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END), s.seqincrement
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_sequence s ON s.seqrelid = c.oid
		WHERE c.relkind = 'S' AND c.relpersistence <> 't' AND `+userRelations+`
		ORDER BY n.nspname, c.relname`)
	if err != nil {
		return nil, fmt.Errorf("cannot read the sequences: %w", err)
	}
	seqs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SequenceRecord, error) {
		var s SequenceRecord
		return s, r.Scan(&s.Schema, &s.Name, &s.Definition, &s.Increment)
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read the sequences: %w", err)
	}
	for i := range seqs {
		s := &seqs[i]
		q := "SELECT last_value, is_called FROM " + pgx.Identifier{s.Schema, s.Name}.Sanitize()
		if err := tx.QueryRow(ctx, q).Scan(&s.LastValue, &s.IsCalled); err != nil {
			return nil, fmt.Errorf("sequence %s: %w", s.QualifiedName(), err)
		}
	}
	return seqs, nil
}

// readObjects reads user-defined types (enums with their labels, domains, composites) and
// views by definition.
func readObjects(ctx context.Context, tx pgx.Tx) ([]ObjectRecord, error) {
	rows, err := tx.Query(ctx, `SELECT 'type', n.nspname || '.' || t.typname,
			CASE t.typtype
				WHEN 'e' THEN 'enum (' || coalesce((SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
					FROM pg_enum e WHERE e.enumtypid = t.oid), '') || ')'
				WHEN 'd' THEN 'domain ' || format_type(t.typbasetype, t.typtypmod) || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END
					|| coalesce((SELECT string_agg(' ' || pg_get_constraintdef(co.oid), '' ORDER BY co.conname)
						FROM pg_constraint co WHERE co.contypid = t.oid), '')
				WHEN 'c' THEN 'composite (' || coalesce((SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
					FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '') || ')'
				ELSE t.typtype::text END
		FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
		WHERE `+userRelations+` AND t.typtype IN ('e', 'd', 'c', 'r')
			AND (t.typtype <> 'c' OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
		UNION ALL
		SELECT 'view', n.nspname || '.' || c.relname, pg_get_viewdef(c.oid)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'v' AND `+userRelations+`
		ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("cannot read the schema: %w", err)
	}
	objs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ObjectRecord, error) {
		var o ObjectRecord
		return o, r.Scan(&o.Kind, &o.Name, &o.Definition)
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read the schema: %w", err)
	}
	return objs, nil
}

// readLargeObjects hashes pg_largeobject (large objects live in the catalog, outside any
// user table) as one record, pages ordered by the sum; nil when there are none or the role
// may not read them (superuser only, unless lo_compat_privileges).
func readLargeObjects(ctx context.Context, tx pgx.Tx) (*TableRecord, error) {
	var can bool
	if err := tx.QueryRow(ctx, `SELECT has_table_privilege('pg_catalog.pg_largeobject', 'SELECT')`).Scan(&can); err != nil || !can {
		return nil, err
	}
	var n int64
	var s string
	err := tx.QueryRow(ctx, `SELECT count(*), coalesce(sum(hashtextextended(loid::text || ' ' || pageno::text || ' ' || encode(data, 'hex'), 0)), 0)::text
		FROM pg_catalog.pg_largeobject`).Scan(&n, &s)
	if err != nil {
		return nil, fmt.Errorf("large objects: %w", err)
	}
	var objs int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM pg_catalog.pg_largeobject_metadata`).Scan(&objs); err != nil {
		return nil, fmt.Errorf("large objects: %w", err)
	}
	if objs == 0 && n == 0 {
		return nil, nil
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil, fmt.Errorf("large objects: unexpected sum %q", s)
	}
	t := &TableRecord{Schema: "pg_catalog", Name: "pg_largeobject", Kind: "large objects", Rows: n,
		Digest: Hex64(v.Mod(v, two64).Uint64()), Columns: []string{fmt.Sprintf("%d large objects", objs)}, Indexes: []string{}, Constraints: []string{}}
	t.SchemaDigest = linesDigest(t.Columns)
	return t, nil
}

func linesDigest(lines []string) Hex64 {
	h := xxhash.New()
	var n [8]byte
	for _, l := range lines {
		binary.LittleEndian.PutUint64(n[:], uint64(len(l)))
		h.Write(n[:])
		h.WriteString(l)
	}
	return Hex64(h.Sum64())
}

// sum computes the database's digests from its manifest.
func (m *DBManifest) sum() DBSum {
	ds := DBSum{Name: m.Database, Tables: len(m.Tables), Sequences: len(m.Sequences)}
	var data, schema []string
	for _, t := range m.Tables {
		if t.Rows > 0 {
			ds.Rows += t.Rows
		}
		data = append(data, fmt.Sprintf("table %q %d %s %s", t.QualifiedName(), t.Rows, t.Digest, t.SchemaDigest))
		schema = append(schema, fmt.Sprintf("table %q %s", t.QualifiedName(), t.SchemaDigest))
	}
	for _, s := range m.Sequences {
		data = append(data, fmt.Sprintf("sequence %q %d %t %s", s.QualifiedName(), s.LastValue, s.IsCalled, s.Definition))
		schema = append(schema, fmt.Sprintf("sequence %q %s", s.QualifiedName(), s.Definition))
	}
	for _, o := range m.Objects {
		l := fmt.Sprintf("%s %q %s", o.Kind, o.Name, o.Definition)
		data = append(data, l)
		schema = append(schema, l)
	}
	sort.Strings(data)
	sort.Strings(schema)
	ds.Digest, ds.SchemaDigest = linesDigest(data), linesDigest(schema)
	return ds
}

var errNoSummary = errors.New("snapshot without summary")

// clusterIdentity returns the cluster's system identifier ("" when the role may not call
// pg_control_system()) and the current WAL position.
func clusterIdentity(ctx context.Context, conn *pgx.Conn) (sysID, lsn string) {
	_ = conn.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn)
	// a refused call aborts nothing: this connection runs no transaction block
	_ = conn.QueryRow(ctx, `SELECT system_identifier::text FROM pg_control_system()`).Scan(&sysID)
	return sysID, lsn
}
