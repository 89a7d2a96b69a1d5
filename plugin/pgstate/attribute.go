package pgstate

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// AttributeWrites looks, on the server c reaches now, for evidence that the differences of
// rep are writes made after the cut rather than a loss. default_transaction_read_only is a
// default: a session that ran SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE,
// connected with options=-c default_transaction_read_only=off or began READ WRITE keeps
// writing after the cut, on the old server and on the new one.
//
// Every row version such a write leaves carries its transaction id (xmin), at or after the
// horizon of the cut's snapshot of its database: for each table of the cut that CHANGED,
// the rows with such an xmin are counted (Diff.WrittenAfterCut). When every failing
// difference is a changed table holding such rows, the verdict becomes "unverified": not
// a proven loss, and nothing is to be rolled back (that would drop those writes). Any other
// difference (a missing object, a changed definition, a table that changed with no row
// written after the cut: deleted rows leave no row behind) keeps the verdict "failed".
//
// The evidence counts only on the cluster of the cut (same system identifier, WAL and
// transaction counter not behind the cut's): an older copy of the data, or another
// cluster, is never attributed. VerifyAgainst calls it when the comparison failed.
func AttributeWrites(ctx context.Context, c *Client, before, after *Snapshot, rep *Report) error {
	if rep == nil || rep.OK() || len(rep.failing) == 0 {
		return nil
	}
	b, a := before.Summary, after.Summary
	if b == nil || a == nil {
		return errNoSummary
	}
	if b.SystemID != "" && a.SystemID != "" && b.SystemID != a.SystemID {
		return nil // another cluster: its transaction ids mean nothing here
	}
	if bl, ok := parseLSN(b.WALLSN); ok {
		if al, ok := parseLSN(a.WALLSN); !ok || al < bl {
			return nil // an older copy of the data
		}
	}
	horizon := map[string]uint64{}
	for _, d := range b.Databases {
		if h, err := strconv.ParseUint(d.XminHorizon, 10, 64); err == nil && d.XminHorizon != "" {
			horizon[d.Name] = h
		}
	}
	ver := 0
	byDB := map[string][]*Diff{}
	for _, d := range rep.failing {
		if d.Class == ClassChanged && (d.Kind == "table" || d.Kind == "matview") {
			if _, ok := horizon[d.Database]; ok {
				byDB[d.Database] = append(byDB[d.Database], d)
			}
		}
	}
	for db, diffs := range byDB {
		conn, err := c.Connect(ctx, db)
		if err != nil {
			return err
		}
		err = func() error {
			defer conn.Close(context.WithoutCancel(ctx))
			if ver == 0 {
				if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&ver); err != nil {
					return describeErr(c.Addr(), err)
				}
			}
			tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
			if err != nil {
				return describeErr(c.Addr(), err)
			}
			defer tx.Rollback(context.WithoutCancel(ctx))
			nextQ := `SELECT pg_snapshot_xmax(pg_current_snapshot())::text`
			if ver < 130000 {
				nextQ = `SELECT txid_snapshot_xmax(txid_current_snapshot())::text`
			}
			var nextS string
			if err := tx.QueryRow(ctx, nextQ).Scan(&nextS); err != nil {
				return describeErr(c.Addr(), err)
			}
			next, err := strconv.ParseUint(nextS, 10, 64)
			h := horizon[db]
			if err != nil || next < h || next-h >= 1<<31 {
				return nil // behind the cut (an older copy), or too far for 32-bit xids
			}
			for _, d := range diffs {
				schema, name, _ := strings.Cut(d.Object, ".")
				// age(x) is next - x: a row written at or after the horizon is at most
				// age(horizon) old; frozen rows are older than any.
				q := fmt.Sprintf(`SELECT count(*) FROM %s AS t WHERE age(t.xmin) <= age($1::text::xid)`, pgx.Identifier{schema, name}.Sanitize())
				if err := tx.QueryRow(ctx, q, strconv.FormatUint(h&0xffffffff, 10)).Scan(&d.WrittenAfterCut); err != nil {
					return fmt.Errorf("table %s: %w", d.Name(), describeErr(c.Addr(), err))
				}
			}
			return nil
		}()
		if err != nil {
			return err
		}
	}
	var written, explained int64
	for _, d := range rep.failing {
		if d.WrittenAfterCut > 0 {
			explained++
			written += d.WrittenAfterCut
		}
	}
	rep.WrittenAfterCut = written
	// the listed items are copies: carry the counts over
	for _, cr := range rep.Classes {
		for i := range cr.Items {
			for _, d := range rep.failing {
				if d.Class == cr.Items[i].Class && d.Name() == cr.Items[i].Name() && d.Kind == cr.Items[i].Kind {
					cr.Items[i].WrittenAfterCut = d.WrittenAfterCut
				}
			}
		}
	}
	if explained == int64(len(rep.failing)) {
		rep.Verdict = VerdictUnverified
		rep.Reasons = []string{fmt.Sprintf("%d table(s) of the cut differ, and each holds rows written after the cut (%d row version(s): sessions that overrode the read-only default, or writes on the new server before the check): not a proven loss",
			explained, written)}
	} else if explained > 0 {
		rep.Reasons = append(rep.Reasons, fmt.Sprintf("%d of the %d differing object(s) hold rows written after the cut; the others do not", explained, len(rep.failing)))
	}
	return nil
}

// parseLSN parses a pg_lsn's text form X/Y.
func parseLSN(s string) (uint64, bool) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, false
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return h<<32 | l, true
}
