package stackdeploy

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/docker-stateful/docker-stateful/plugin/finding"
	"github.com/docker-stateful/docker-stateful/plugin/specdiff"
)

// Actions of a stack's service.
const (
	ActionCreate    = "create"
	ActionUpdate    = "update"
	ActionUnchanged = "unchanged" // an update that changes nothing in the spec
)

// Verdicts of a stack's service (the same words as update --dry-run).
const (
	VerdictAllowed = "allowed"
	VerdictRefused = "refused"
	VerdictForced  = "forced" // refused, overridden by --force
)

// Problem is one reason a service's deploy would lose data.
type Problem = finding.Finding

// Service is what the deploy does to one service of the stack.
type Service struct {
	Name      string            `json:"service"`
	Action    string            `json:"action"`
	Diff      []specdiff.Change `json:"diff"`
	DataPaths []string          `json:"data_paths"`
	Added     []string          `json:"added,omitempty"` // what docker stateful added (create) or kept (update)
	Verdict   string            `json:"verdict"`
	Problems  []Problem         `json:"problems"`
	Warnings  []string          `json:"warnings,omitempty"`
}

// Plan is the whole stack's deploy, as --dry-run prints it.
type Plan struct {
	Stack    string    `json:"stack"`
	Verdict  string    `json:"verdict"` // allowed when every service is allowed (or forced)
	Services []Service `json:"services"`
}

// Add records a service, replacing an earlier record of the same name (a
// second pass over the same stack).
func (p *Plan) Add(s Service) {
	if s.Diff == nil {
		s.Diff = []specdiff.Change{}
	}
	if s.DataPaths == nil {
		s.DataPaths = []string{}
	}
	if s.Problems == nil {
		s.Problems = []Problem{}
	}
	for i := range p.Services {
		if p.Services[i].Name == s.Name {
			p.Services[i] = s
			return
		}
	}
	p.Services = append(p.Services, s)
	sort.Slice(p.Services, func(i, j int) bool { return p.Services[i].Name < p.Services[j].Name })
}

// Refused returns the services whose deploy would lose data and is not forced.
func (p *Plan) Refused() []Service {
	var out []Service
	for _, s := range p.Services {
		if s.Verdict == VerdictRefused {
			out = append(out, s)
		}
	}
	return out
}

// Finish sets the stack's verdict from its services'.
func (p *Plan) Finish() {
	if p.Services == nil {
		p.Services = []Service{}
	}
	p.Verdict = VerdictAllowed
	if len(p.Refused()) > 0 {
		p.Verdict = VerdictRefused
	}
}

// WriteText prints the plan for a terminal: per service its action, its
// diff (as update --dry-run shows it) and its data verdict.
func (p *Plan) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "Dry run: deploy of stack %s; nothing is sent.\n", p.Stack)
	for _, s := range p.Services {
		fmt.Fprintf(w, "\n== %s: %s\n", s.Name, s.Action)
		if s.Action == ActionUpdate {
			fmt.Fprintf(w, "--- %s (current)\n+++ %s (after the deploy)\n", s.Name, s.Name)
			if err := specdiff.Write(w, s.Diff); err != nil {
				return err
			}
		}
		if len(s.Added) > 0 {
			what := "Kept from docker stateful's create"
			if s.Action == ActionCreate {
				what = "Added by docker stateful"
			}
			fmt.Fprintf(w, "%s: %s\n", what, strings.Join(s.Added, "; "))
		}
		if len(s.DataPaths) > 0 {
			fmt.Fprintf(w, "Data paths: %s\n", strings.Join(s.DataPaths, ", "))
		} else {
			fmt.Fprintln(w, "Data paths: none (a stateless service)")
		}
		for _, m := range s.Warnings {
			fmt.Fprintf(w, "warning: %s\n", m)
		}
		switch s.Verdict {
		case VerdictAllowed:
			fmt.Fprintln(w, "Verdict: allowed, the data is kept.")
		case VerdictRefused:
			fmt.Fprintln(w, "Verdict: refused:")
		case VerdictForced:
			fmt.Fprintln(w, "Verdict: refused, but --force would send it anyway, overriding:")
		}
		for _, pr := range s.Problems {
			fmt.Fprintf(w, "  - %s\n", pr.Message)
		}
	}
	fmt.Fprintln(w)
	if r := p.Refused(); len(r) > 0 {
		names := make([]string, len(r))
		for i, s := range r {
			names[i] = s.Name
		}
		fmt.Fprintf(w, "Stack verdict: refused (%s); nothing of the stack would be sent.\n", strings.Join(names, ", "))
	} else {
		fmt.Fprintln(w, "Stack verdict: allowed, every service keeps its data.")
	}
	return nil
}
