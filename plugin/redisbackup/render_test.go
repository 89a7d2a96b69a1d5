package redisbackup

import (
	"bytes"
	"strings"
	"testing"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// TestRenderVerificationOneVerdict: a file of two databases gets one
// report per database and one verdict for both (not "Verdict: verified"
// twice); a failed database is named in it.
func TestRenderVerificationOneVerdict(t *testing.T) {
	report := func(ok bool) *redisstate.Report {
		r := &redisstate.Report{Verdict: "verified", DigestEqual: true, Classes: map[string]*redisstate.ClassReport{}}
		for _, c := range redisstate.Classes {
			r.Classes[c] = &redisstate.ClassReport{}
		}
		if !ok {
			r.Verdict, r.DigestEqual, r.Reasons = "failed", false, []string{"1 key(s) MISSING"}
			r.Classes[redisstate.ClassMissing].Count = 1
		}
		return r
	}
	var buf bytes.Buffer
	v := &Verification{Verdict: "verified", Databases: []DatabaseReport{{DB: 0, Report: report(true)}, {DB: 3, Report: report(true)}}}
	if err := RenderVerification(&buf, v); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); strings.Count(out, "Verdict:") != 1 || !strings.Contains(out, "Verdict: verified (2 database(s))") || !strings.Contains(out, "Database 3: ") {
		t.Errorf("two verified databases:\n%s", out)
	}
	buf.Reset()
	v = &Verification{Verdict: "failed", Databases: []DatabaseReport{{DB: 0, Report: report(true)}, {DB: 3, Report: report(false)}}}
	if err := RenderVerification(&buf, v); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); strings.Count(out, "Verdict:") != 1 || !strings.Contains(out, "Verdict: FAILED: database 3: 1 key(s) MISSING") {
		t.Errorf("one failed database:\n%s", out)
	}
}
