package createspec

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// WriteMarkedSpec writes after as indented JSON (the spec as it is sent,
// field for field), marking with "+" the lines that before does not have:
// what docker stateful added to docker's own spec.
func WriteMarkedSpec(w io.Writer, before, after swarm.ServiceSpec) error {
	b, err := json.MarshalIndent(before, "", "  ")
	if err != nil {
		return err
	}
	a, err := json.MarshalIndent(after, "", "  ")
	if err != nil {
		return err
	}
	for _, l := range MarkAdded(strings.Split(string(b), "\n"), strings.Split(string(a), "\n")) {
		if _, err := io.WriteString(w, l+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// MarkAdded returns the lines of after, each prefixed "+ " when it is not in
// the longest common subsequence with before, else "  ". Trailing commas are
// ignored when matching, so that appending to a JSON object or list marks
// only the new entries.
func MarkAdded(before, after []string) []string {
	key := func(s string) string { return strings.TrimSuffix(s, ",") }
	n, m := len(before), len(after)
	// lcs[i][j] = LCS length of before[i:] and after[j:].
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if key(before[i]) == key(after[j]) {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	out := make([]string, 0, m)
	i, j := 0, 0
	for j < m {
		switch {
		case i < n && key(before[i]) == key(after[j]):
			out = append(out, "  "+after[j])
			i++
			j++
		case i < n && lcs[i+1][j] >= lcs[i][j+1]:
			i++
		default:
			out = append(out, "+ "+after[j])
			j++
		}
	}
	return out
}

// Describe returns one line per thing docker stateful decided, for the
// dry run and the summary after create.
func Describe(res *Result) []string {
	var out []string
	for _, h := range res.Holders {
		how := "your --mount, left as written"
		if h.Added {
			how = "added"
		}
		out = append(out, fmt.Sprintf("data     %s (%s) on %s: %s", h.Path, strings.Join(originsOf(res, h.Path), ", "), stateful.LocateMount(h.Path, h.Mount), how))
	}
	switch p := res.Pin; {
	case res.Global:
		out = append(out, "pin      none: a global service runs one task per node, each on its node's own volume")
	case p.Constraint != "":
		node := "an unknown node"
		if p.Node != nil {
			node = p.Node.String()
		}
		how := "added"
		if !p.Added {
			how = "your --constraint, left as written"
		}
		out = append(out, fmt.Sprintf("pin      %s: %s, %s: %s", p.Constraint, node, p.By, how))
	case p.Needed:
		out = append(out, "pin      none (--no-pin): the task may move away from its data")
	default:
		out = append(out, "pin      none: no data path is on node-local storage")
	}
	if res.PerReplica {
		out = append(out, "replicas every replica gets its own volume ("+SlotTemplate+" is its slot number)")
	}
	for _, d := range res.Defaults {
		out = append(out, fmt.Sprintf("default  %s: %s", d.Setting, d.Why))
	}
	return out
}

func originsOf(res *Result, p string) []string {
	for _, dp := range res.DataPaths {
		if dp.Path == p {
			return dp.Origins
		}
	}
	return nil
}

// Summary is the short report printed after a successful create: where the
// data is, where the service is pinned, the defaults chosen, and how to
// update it safely.
func Summary(res *Result) []string {
	name := res.Spec.Name
	var where []string
	for _, h := range res.Holders {
		s := fmt.Sprintf("%s on %s", h.Path, stateful.LocateMount(h.Path, h.Mount))
		if !h.Added {
			s = fmt.Sprintf("%s on your %s", h.Path, stateful.LocateMount(h.Path, h.Mount))
		}
		where = append(where, s)
	}
	line := fmt.Sprintf("%s keeps %s", name, strings.Join(where, ", "))
	switch p := res.Pin; {
	case res.Global:
		line += ", on every node (one volume per node)"
	case p.Constraint != "" && p.Node != nil:
		line += fmt.Sprintf(", pinned to %s by %s", p.Node.Hostname, p.Constraint)
	case p.Constraint != "":
		line += ", pinned by " + p.Constraint
	case p.Needed:
		line += ", not pinned (--no-pin)"
	}
	out := []string{line}
	if len(res.Defaults) > 0 {
		settings := make([]string, len(res.Defaults))
		for i, d := range res.Defaults {
			settings[i] = d.Setting
		}
		out = append(out, "defaults for a database: "+strings.Join(settings, ", "))
	}
	out = append(out, fmt.Sprintf("update it with: docker stateful update [OPTIONS] %s (--dry-run previews, --verify proves the data survived)", name))
	return out
}
