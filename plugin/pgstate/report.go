package pgstate

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// RenderJSON writes the full report as indented JSON.
func RenderJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// RenderText writes a readable report:
//
//	Verified: all 5 tables (100123 rows) and 2 sequences in 2 databases of snapshot 20261125T121500-ab12cd are intact (digest equal, ...)
//
// or the counts per class, the first objects of each class and the failure reasons.
func RenderText(w io.Writer, r *Report) error {
	var b strings.Builder
	if r.DigestEqual && len(r.Reasons) == 0 {
		fmt.Fprintf(&b, "Verified: all %s (%s) and %s in %s of snapshot %s are intact (digest equal, postmaster %s → %s)\n",
			plural(r.BeforeTables, "table"), plural(r.BeforeRows, "row"), plural(r.BeforeSequences, "sequence"),
			plural(int64(r.Databases), "database"), r.Before, r.BeforeRunID, r.AfterRunID)
	} else {
		fmt.Fprintf(&b, "Compared snapshot %s (%d tables, %d rows, postmaster %s) with %s (%d tables, %d rows, postmaster %s)\n",
			r.Before, r.BeforeTables, r.BeforeRows, r.BeforeRunID, r.After, r.AfterTables, r.AfterRows, r.AfterRunID)
		if len(r.DifferingDBs) > 0 {
			fmt.Fprintf(&b, "Differing databases: %s\n", strings.Join(r.DifferingDBs, ", "))
		}
		fmt.Fprintf(&b, "  %-15s %d tables\n", "UNCHANGED", r.UnchangedTables)
		for _, c := range Classes {
			note := ""
			switch c {
			case ClassAdvanced:
				note = " (sequence ahead: fine)"
			case ClassNew:
				note = " (not in the cut: fine)"
			}
			fmt.Fprintf(&b, "  %-15s %d%s\n", c, r.Classes[c].Count, note)
		}
		for _, c := range Classes {
			cr := r.Classes[c]
			if cr.Count == 0 {
				continue
			}
			fmt.Fprintf(&b, "\n%s (%d", c, cr.Count)
			if int64(len(cr.Items)) < cr.Count {
				fmt.Fprintf(&b, ", first %d", len(cr.Items))
			}
			b.WriteString("):\n")
			for _, d := range cr.Items {
				detail := d.Detail
				if detail == "" && d.Class == ClassMissing && d.BeforeRows > 0 {
					detail = fmt.Sprintf("%d rows", d.BeforeRows)
				}
				if detail == "" && d.Class == ClassNew && d.AfterRows > 0 {
					detail = fmt.Sprintf("%d rows", d.AfterRows)
				}
				if d.WrittenAfterCut > 0 {
					detail += fmt.Sprintf(" (%d row(s) written after the cut)", d.WrittenAfterCut)
				}
				fmt.Fprintf(&b, "  %-40s %-11s %s\n", d.Name(), d.Kind, detail)
			}
		}
	}
	if len(r.Skipped) > 0 {
		fmt.Fprintf(&b, "Not checked: database(s) %s refuse connections (datallowconn = false)\n", strings.Join(r.Skipped, ", "))
	}
	if r.OK() {
		fmt.Fprintf(&b, "\nVerdict: verified (compared in %s)\n", r.Elapsed.Round(time.Microsecond))
	} else if r.Unattributed() {
		fmt.Fprintf(&b, "\nVerdict: NOT VERIFIED (no loss proven): %s\n", strings.Join(r.Reasons, "; "))
	} else {
		fmt.Fprintf(&b, "\nVerdict: FAILED: %s\n", strings.Join(r.Reasons, "; "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
