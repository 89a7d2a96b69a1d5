package inventory

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/docker/cli/cli/command/formatter"
	"github.com/docker/docker/api/types/swarm"
)

// Row is one service of `docker stateful ls`.
type Row struct {
	ID       string        `json:"id"`
	Name     string        `json:"name"`
	Image    string        `json:"image"`
	Data     []DataPath    `json:"data"`
	Pinned   []PinnedNode  `json:"pinned"`
	Replicas string        `json:"replicas"`
	Snapshot *SnapshotInfo `json:"snapshot"`
	Risk     string        `json:"risk"`
	Findings []Finding     `json:"findings"`
}

// RowFilter keeps rows by what only inventory knows (the daemon filters
// services by name, id, label and mode).
type RowFilter struct {
	Risk string // safe, at-risk, stuck ("" = any)
	Node string // pinned to, or running on, this node (hostname or ID; "" = any)
}

// Rows returns a row for every service that has data paths and passes f,
// by name.
func (s *Swarm) Rows(f RowFilter) []Row {
	var out []Row
	for _, svc := range s.Services {
		data := s.DataPaths(svc)
		if len(data) == 0 {
			continue
		}
		fs := s.Check(svc)
		r := Row{
			ID: svc.ID, Name: svc.Spec.Name, Image: shortImage(image(svc.Spec)),
			Data: data, Pinned: s.Pinned(svc), Replicas: s.replicas(svc),
			Risk: Risk(fs), Findings: fs,
		}
		if r.Pinned == nil {
			r.Pinned = []PinnedNode{}
		}
		if r.Findings == nil {
			r.Findings = []Finding{}
		}
		if snap, ok := s.Snapshots[svc.Spec.Name]; ok {
			r.Snapshot = &snap
		}
		if (f.Risk == "" || f.Risk == r.Risk) && (f.Node == "" || s.onNode(svc, f.Node)) {
			out = append(out, r)
		}
	}
	return out
}

// replicas is "running/desired" ("running/N (global)" for global services).
func (s *Swarm) replicas(svc swarm.Service) string {
	running := s.running(svc.ID)
	if n, ok := replicasOf(svc.Spec); ok {
		return fmt.Sprintf("%d/%d", running, n)
	}
	return fmt.Sprintf("%d (global)", running)
}

// DefaultLsFormat is ls's table.
const DefaultLsFormat = "table {{.Name}}\t{{.Image}}\t{{.Data}}\t{{.Node}}\t{{.Replicas}}\t{{.Snapshot}}\t{{.Risk}}"

// LsFormat turns ls's --format and --quiet into the formatter's format.
func LsFormat(source string, quiet bool) formatter.Format {
	switch {
	case quiet:
		return formatter.DefaultQuietFormat
	case source == "" || source == formatter.TableFormatKey:
		return DefaultLsFormat
	}
	return formatter.Format(source)
}

// WriteLs prints rows through docker's formatter, as docker service ls does:
// a table, one JSON object per line (snake_case keys), or a template over
// the row's fields (.ID, .Name, .Image, .Data, .Node, .Replicas, .Snapshot,
// .Risk, .Findings).
func WriteLs(ctx formatter.Context, rows []Row) error {
	render := func(format func(subContext formatter.SubContext) error) error {
		for _, r := range rows {
			if err := format(&lsContext{row: r}); err != nil {
				return err
			}
		}
		return nil
	}
	lc := lsContext{}
	lc.Header = formatter.SubHeaderContext{
		"ID": "ID", "Name": "NAME", "Image": "IMAGE", "Data": "DATA", "Node": "NODE",
		"Replicas": "REPLICAS", "Snapshot": "SNAPSHOT", "Risk": "RISK", "Findings": "FINDINGS",
	}
	return ctx.Write(&lc, render)
}

type lsContext struct {
	formatter.HeaderContext
	row Row
}

// MarshalJSON is what --format json prints: the row, snake_case.
func (c *lsContext) MarshalJSON() ([]byte, error) { return json.Marshal(c.row) }

func (c *lsContext) ID() string    { return c.row.ID }
func (c *lsContext) Name() string  { return c.row.Name }
func (c *lsContext) Image() string { return c.row.Image }
func (c *lsContext) Risk() string  { return c.row.Risk }

func (c *lsContext) Replicas() string { return c.row.Replicas }

// Data is each data path and where it lives; anonymous data is marked.
func (c *lsContext) Data() string {
	parts := make([]string, len(c.row.Data))
	for i, d := range c.row.Data {
		where := string(d.Kind)
		if d.Source != "" {
			where += " " + d.Source
		}
		if !d.Persistent() {
			where += " — at risk"
		}
		parts[i] = d.Path + ": " + where
	}
	return strings.Join(parts, ", ")
}

// Node is the pinned node with its state, "-" when not pinned.
func (c *lsContext) Node() string {
	if len(c.row.Pinned) == 0 {
		return "-"
	}
	parts := make([]string, len(c.row.Pinned))
	for i, p := range c.row.Pinned {
		parts[i] = p.String()
	}
	return strings.Join(parts, ", ")
}

// Snapshot is the newest snapshot's ID and key count, "-" when none.
func (c *lsContext) Snapshot() string {
	if c.row.Snapshot == nil {
		return "-"
	}
	return fmt.Sprintf("%s (%d keys)", c.row.Snapshot.ID, c.row.Snapshot.Keys)
}

// Findings are the codes of the row's findings.
func (c *lsContext) Findings() string {
	codes := make([]string, len(c.row.Findings))
	for i, f := range c.row.Findings {
		codes[i] = f.Code
	}
	return strings.Join(codes, ",")
}

// onNode reports whether svc is pinned to, or runs a task on, node.
func (s *Swarm) onNode(svc swarm.Service, node string) bool {
	for _, p := range s.Pinned(svc) {
		if p.ID == node || p.Hostname == node {
			return true
		}
	}
	for _, id := range s.runningNodes(svc.ID) {
		if id == node || s.nodeName(id) == node {
			return true
		}
	}
	return false
}
