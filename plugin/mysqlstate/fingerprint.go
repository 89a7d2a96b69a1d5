package mysqlstate

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
)

// SystemSchemas are not fingerprinted: the server's own.
var SystemSchemas = []string{"mysql", "information_schema", "performance_schema", "sys"}

// Kinds of objects.
const (
	KindTable  = "table"
	KindView   = "view"
	KindMemory = "memory" // ENGINE=MEMORY: empty after every restart, named only
)

// Table is the fingerprint of one table (or the name of a view or MEMORY table).
type Table struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Engine string `json:"engine,omitempty"`
	Rows   int64  `json:"rows"`
	// Digest: the columns' names and types, then COUNT, BIT_XOR and SUM of
	// the row hashes (a view: a digest of its definition).
	Digest string `json:"digest"`
}

// Key is `schema`.`name`.
func (t Table) Key() string { return "`" + t.Schema + "`.`" + t.Name + "`" }

// Summary is a MariaDB snapshot's summary.json.
type Summary struct {
	Engine        string    `json:"engine"` // "mariadb"
	ID            string    `json:"id"`
	Service       string    `json:"service,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	Addr          string    `json:"addr,omitempty"`
	ServerVersion string    `json:"server_version"`
	ServerStarted time.Time `json:"server_started"`
	DurationMs    int64     `json:"duration_ms"`
	Tables        []Table   `json:"tables"`
	TableCount    int64     `json:"table_count"`
	Rows          int64     `json:"rows"`
	Cut           *CutInfo  `json:"cut,omitempty"`
}

// Fingerprint fingerprints every table of every non-system database; q
// may be the cut's session (nil: the pool).
func (c *Client) Fingerprint(ctx context.Context, q *sql.Conn) (*Summary, error) {
	start := time.Now()
	var run interface {
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	} = c.db
	if q != nil {
		run = q
	}
	si, err := c.ServerInfo(ctx)
	if err != nil {
		return nil, err
	}
	sum := &Summary{Engine: Engine, CreatedAt: time.Now().UTC(), Addr: c.Addr(), ServerVersion: si.Version, ServerStarted: si.Started}
	ph := strings.TrimSuffix(strings.Repeat("?,", len(SystemSchemas)), ",")
	args := make([]any, len(SystemSchemas))
	for i, s := range SystemSchemas {
		args[i] = s
	}
	rows, err := run.QueryContext(ctx, "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, COALESCE(ENGINE,'') FROM information_schema.TABLES WHERE TABLE_SCHEMA NOT IN ("+ph+") ORDER BY TABLE_SCHEMA, TABLE_NAME", args...)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var tables []Table
	for rows.Next() {
		var t Table
		var typ string
		if err := rows.Scan(&t.Schema, &t.Name, &typ, &t.Engine); err != nil {
			rows.Close()
			return nil, err
		}
		switch {
		case typ == "VIEW":
			t.Kind = KindView
		case strings.EqualFold(t.Engine, "MEMORY"):
			t.Kind = KindMemory
		case typ == "BASE TABLE" || typ == "SYSTEM VERSIONED":
			t.Kind = KindTable
		default:
			continue // SEQUENCE, TEMPORARY
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range tables {
		t := &tables[i]
		switch t.Kind {
		case KindView:
			var def string
			if err := run.QueryRowContext(ctx, "SELECT VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA=? AND TABLE_NAME=?", t.Schema, t.Name).Scan(&def); err != nil {
				return nil, fmt.Errorf("view %s: %w", t.Key(), err)
			}
			h := sha256.Sum256([]byte(def))
			t.Digest = hex.EncodeToString(h[:8])
		case KindMemory:
		default:
			if err := tableDigest(ctx, run, t); err != nil {
				return nil, err
			}
			sum.Rows += t.Rows
		}
	}
	sum.Tables, sum.TableCount = tables, int64(len(tables))
	sum.DurationMs = time.Since(start).Milliseconds()
	return sum, nil
}

type runner interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// RowHashSQL is the SQL of one row's 64-bit hash over cols (quoted names):
// the columns as bytes joined by '#', then a NULL marker per column.
func RowHashSQL(cols []string) string {
	parts := make([]string, 0, len(cols)+1)
	nulls := make([]string, 0, len(cols))
	for _, c := range cols {
		parts = append(parts, "CAST("+c+" AS BINARY)")
		nulls = append(nulls, "ISNULL("+c+")")
	}
	parts = append(parts, "CONCAT("+strings.Join(nulls, ",")+")")
	return "CAST(CONV(LEFT(MD5(CONCAT_WS('#'," + strings.Join(parts, ",") + ")),16),16,10) AS UNSIGNED)"
}

// tableDigest runs the table's checksum query on the server.
func tableDigest(ctx context.Context, run runner, t *Table) error {
	rows, err := run.QueryContext(ctx, "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=? AND TABLE_NAME=? ORDER BY ORDINAL_POSITION", t.Schema, t.Name)
	if err != nil {
		return fmt.Errorf("columns of %s: %w", t.Key(), err)
	}
	var cols, shape []string
	for rows.Next() {
		var n, typ string
		if err := rows.Scan(&n, &typ); err != nil {
			rows.Close()
			return err
		}
		cols = append(cols, quoteIdent(n))
		shape = append(shape, n+" "+typ)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	h := RowHashSQL(cols)
	// the hash once a row (a derived table, not merged into the outer query)
	q := "SELECT COUNT(*), COALESCE(BIT_XOR(h),0), COALESCE(SUM(h),0) FROM (SELECT " + h + " AS h FROM " + quoteIdent(t.Schema) + "." + quoteIdent(t.Name) + " LIMIT 18446744073709551615) AS r"
	var x uint64
	var s string
	if err := run.QueryRowContext(ctx, q).Scan(&t.Rows, &x, &s); err != nil {
		return fmt.Errorf("fingerprint %s: %w", t.Key(), err)
	}
	sh := sha256.Sum256([]byte(strings.Join(shape, ",")))
	t.Digest = fmt.Sprintf("%s:%d:%016x:%s", hex.EncodeToString(sh[:4]), t.Rows, x, s)
	return nil
}

// ChecksumTable is CHECKSUM TABLE of every table of sum (the bench's
// yardstick: the server's own, exact for the same row format only).
func (c *Client) ChecksumTable(ctx context.Context, sum *Summary) error {
	for _, t := range sum.Tables {
		if t.Kind != KindTable {
			continue
		}
		var name string
		var v sql.NullInt64
		if err := c.db.QueryRowContext(ctx, "CHECKSUM TABLE "+quoteIdent(t.Schema)+"."+quoteIdent(t.Name)).Scan(&name, &v); err != nil {
			return err
		}
	}
	return nil
}

// byKey indexes tables by Key.
func byKey(ts []Table) map[string]Table {
	m := make(map[string]Table, len(ts))
	for _, t := range ts {
		m[t.Key()] = t
	}
	return m
}

func sortedKeys(m map[string]Table) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
