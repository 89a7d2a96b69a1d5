package inventory

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/engine"
)

// ServiceReport is check's verdict on one service.
type ServiceReport struct {
	Service  string    `json:"service"`
	ID       string    `json:"id"`
	Engine   string    `json:"engine,omitempty"` // redis or postgres, when the image or port says so
	Risk     string    `json:"risk"`
	Findings []Finding `json:"findings"`
	Error    string    `json:"error,omitempty"` // why a probe could not look
}

// Report is what `docker stateful check --format json` prints.
type Report struct {
	Verdict  string          `json:"verdict"` // safe, risks, or unchecked (a probe could not look; no risk found)
	Services []ServiceReport `json:"services"`
}

// Verdicts of check besides RiskSafe.
const (
	VerdictRisks     = "risks"
	VerdictUnchecked = "unchecked"
)

// Safe reports whether no service has a finding.
func (r Report) Safe() bool { return r.Verdict == RiskSafe }

// Audit checks the services named (by name, ID or unique ID prefix; all that
// have data paths when none is named), and probes each running one when
// probe is not nil. A name that matches no service is an error: check could
// not check it.
func (s *Swarm) Audit(ctx context.Context, names []string, probe Probe) (Report, error) {
	var svcs []swarm.Service
	if len(names) == 0 {
		for _, svc := range s.Services {
			if len(s.DataPaths(svc)) > 0 {
				svcs = append(svcs, svc)
			}
		}
	}
	for _, n := range names {
		svc, err := s.Find(n)
		if err != nil {
			return Report{}, err
		}
		svcs = append(svcs, svc)
	}
	r := Report{Verdict: RiskSafe, Services: []ServiceReport{}}
	for _, svc := range svcs {
		fs := s.Check(svc)
		sr := ServiceReport{Service: svc.Spec.Name, ID: svc.ID, Engine: Engine(svc)}
		if probe != nil && s.running(svc.ID) > 0 {
			more, err := probe(ctx, svc)
			if err != nil {
				sr.Error = err.Error()
			}
			fs = append(fs, more...)
		}
		if fs == nil {
			fs = []Finding{}
		}
		sr.Risk, sr.Findings = Risk(fs), fs
		if sr.Error != "" && len(fs) == 0 {
			sr.Risk = VerdictUnchecked
		}
		switch {
		case len(fs) > 0:
			r.Verdict = VerdictRisks
		case sr.Error != "" && r.Verdict == RiskSafe:
			r.Verdict = VerdictUnchecked
		}
		r.Services = append(r.Services, sr)
	}
	return r, nil
}

// Engine is the database engine of svc that update --verify would check
// (engine.Detect: by image, server program or published port), "" when
// none says (another image).
func Engine(svc swarm.Service) string {
	if k, _ := engine.Detect(svc); k != nil {
		return k.Name
	}
	return ""
}

// Find returns the service named by name, ID or unique ID prefix.
func (s *Swarm) Find(ref string) (swarm.Service, error) {
	var match []swarm.Service
	for _, svc := range s.Services {
		if svc.Spec.Name == ref || svc.ID == ref {
			return svc, nil
		}
		if strings.HasPrefix(svc.ID, ref) {
			match = append(match, svc)
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return swarm.Service{}, fmt.Errorf("service %s not found", ref)
	}
	return swarm.Service{}, fmt.Errorf("service %s is ambiguous: %d services have an ID starting so", ref, len(match))
}

// WriteText prints the report for people: each service, its risk, and each
// finding with the command that fixes it.
func (r Report) WriteText(w io.Writer) error {
	atRisk := 0
	for _, s := range r.Services {
		fmt.Fprintf(w, "%s: %s\n", s.Service, s.Risk)
		if s.Error != "" {
			fmt.Fprintf(w, "  could not check: %s\n", s.Error)
		}
		if len(s.Findings) > 0 {
			atRisk++
		}
		for _, f := range s.Findings {
			fmt.Fprintf(w, "  %s: %s\n", f.Code, f.Message)
			if f.Fix != "" {
				fmt.Fprintf(w, "    fix: %s\n", f.Fix)
			}
		}
	}
	_, err := fmt.Fprintf(w, "%d service(s) with data checked, %d at risk\n", len(r.Services), atRisk)
	return err
}
