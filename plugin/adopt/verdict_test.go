package adopt

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
	"github.com/docker-stateful/docker-stateful/plugin/verifyflow"
)

// TestAdoptVerdict: after the update is sent, adopt ends on the check of
// the new Redis without a rollback (the previous spec's anonymous volume
// would start it empty): verified is exit 0; differences clients may have
// made are "adopted, not verified" naming their writes; a loss or an
// unchecked data says where the data is and that nothing was rolled back.
func TestAdoptVerdict(t *testing.T) {
	p := &Plan{Service: "cache", Node: "node1", Moves: []Move{{Path: "/data", Volume: "abc123"}}}
	before := &redisstate.Snapshot{ID: "snap1", Summary: &redisstate.Summary{Keys: 10}}
	ok := &redisstate.Report{Verdict: "verified", DigestEqual: true}
	differs := &redisstate.Report{Verdict: "failed", Classes: map[string]*redisstate.ClassReport{}}
	for _, c := range redisstate.Classes {
		differs.Classes[c] = &redisstate.ClassReport{}
	}
	differs.Classes[redisstate.ClassChanged].Count = 1
	if !ok.OK() || differs.OK() {
		t.Fatalf("test reports: ok %v, differs %v", ok.OK(), differs.OK())
	}
	for _, c := range []struct {
		name    string
		hc      verifyflow.HeldCheck
		refused bool
		unreach bool
		say     []string
	}{
		{"verified", verifyflow.HeldCheck{Report: ok, Exact: true}, false, false, []string{"Adopted", "verified"}},
		{"clients wrote", verifyflow.HeldCheck{Report: differs, ClientWrites: 3}, true, false, []string{"clients made 3 change(s)", "nothing was rolled back", "volume abc123 on node node1"}},
		{"loss", verifyflow.HeldCheck{Report: differs, Exact: true}, true, false, []string{"failed", "not rolled back", "volume abc123 on node node1", "verify --against snap1 cache"}},
		{"load short", verifyflow.HeldCheck{Report: differs, ClientWrites: 3, LoadShort: "it loaded 1 key"}, true, false, []string{"it loaded 1 key", "not rolled back"}},
		{"unchecked", verifyflow.HeldCheck{Err: errors.New("timeout")}, false, true, []string{"could not be checked", "not rolled back", "volume abc123"}},
	} {
		var out bytes.Buffer
		err := adoptVerdict(&out, p, before, c.hc)
		var ref *Refused
		var unr *Unreachable
		if errors.As(err, &ref) != c.refused || errors.As(err, &unr) != c.unreach || (err == nil) != (!c.refused && !c.unreach) {
			t.Errorf("%s: %T %v", c.name, err, err)
			continue
		}
		all := out.String()
		if err != nil {
			all += err.Error()
		}
		for _, s := range c.say {
			if !strings.Contains(all, s) {
				t.Errorf("%s: %q not said in %q", c.name, s, all)
			}
		}
	}
}
