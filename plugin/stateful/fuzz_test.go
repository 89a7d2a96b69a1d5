package stateful

import (
	"path"
	"testing"
)

// A --data path that ValidateDataPath accepts comes back from the labels
// docker stateful records exactly as it was cleaned: alone in the data label,
// and paired with its volume in the volumes label.
func FuzzDataPathLabels(f *testing.F) {
	for _, s := range []string{"/data", "/srv/app,v2", "/a=b", "data", "/", " /x", "/x ", "/var/lib/my sql", "/x\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if ValidateDataPath(p) != nil {
			return
		}
		p = path.Clean(p)
		labels := map[string]string{LabelDataPaths: p, LabelVolumes: FormatVolumes(map[string]string{p: "v"})}
		if got := LabeledDataPaths(labels); len(got) != 1 || got[0] != p {
			t.Fatalf("%q comes back from the data label as %q", p, got)
		}
		if got := LabeledVolumes(labels); len(got) != 1 || got[p] != "v" {
			t.Fatalf("%q comes back from the volumes label as %q", p, got)
		}
	})
}

// --pin resolves to a node of the swarm or fails, whatever is typed.
func FuzzResolvePin(f *testing.F) {
	cl := Cluster{SelfNodeID: "n1aaaa", Nodes: []Node{{ID: "n1aaaa", Hostname: "node1"}, {ID: "n2bbbb", Hostname: "node2"}, {ID: "n2cccc", Hostname: "node2"}}}
	for _, s := range []string{"self", "node1", "node2", "n2", "n2b", "", "n1aaaa", "nosuch"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		n, err := cl.Resolve(ref)
		if err != nil {
			return
		}
		for _, m := range cl.Nodes {
			if m == n {
				return
			}
		}
		t.Fatalf("Resolve(%q) = %+v, not a node of the swarm", ref, n)
	})
}

// The label parsers take whatever a label holds (labels can be edited by
// hand) and what they return survives being written back.
func FuzzLabelParsers(f *testing.F) {
	for _, s := range []string{"/data=cache-data", "/a=x,/b=y-{{.Task.Slot}}", "", ",,", "=", "/a==b", " /a = b ,", "/data"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, label string) {
		vols := LabeledVolumes(map[string]string{LabelVolumes: label})
		again := LabeledVolumes(map[string]string{LabelVolumes: FormatVolumes(vols)})
		if len(again) != len(vols) {
			t.Fatalf("%q: %q written back reads %q", label, vols, again)
		}
		for k, v := range vols {
			if again[k] != v {
				t.Fatalf("%q: %q written back reads %q", label, vols, again)
			}
		}
		_ = LabeledDataPaths(map[string]string{LabelDataPaths: label})
	})
}
