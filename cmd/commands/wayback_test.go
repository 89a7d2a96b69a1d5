package commands

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/docker-stateful/docker-stateful/plugin/engine"
)

type fakeOutcome struct {
	Service string `json:"service"`
	Verdict string `json:"verdict"`
}

func (f fakeOutcome) Summary() engine.Summary {
	return engine.Summary{Service: f.Service, Verdict: f.Verdict}
}

func TestWithWayBack(t *testing.T) {
	marshal := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := marshal(withWayBack(fakeOutcome{"cache", "verified"}, `going back to Redis 7.0.15 needs a "conversion"`)); got != `{"service":"cache","verdict":"verified","way_back":"going back to Redis 7.0.15 needs a \"conversion\""}` {
		t.Errorf("verified upgrade: %s", got)
	}
	for _, c := range []struct {
		doc     fakeOutcome
		wayBack string
	}{{fakeOutcome{"cache", "failed"}, "going back"}, {fakeOutcome{"cache", "verified"}, ""}} {
		if got := marshal(withWayBack(c.doc, c.wayBack)); got != marshal(c.doc) {
			t.Errorf("%+v, %q: %s, want the document as it is", c.doc, c.wayBack, got)
		}
	}
	// through --format's template, as update --verify --format '{{.way_back}}'
	var buf bytes.Buffer
	if err := writeReport(&buf, "{{.way_back}}", withWayBack(fakeOutcome{"cache", "verified"}, "going back needs a dump"), nil); err != nil || buf.String() != "going back needs a dump\n" {
		t.Errorf("template: %q, %v", buf.String(), err)
	}
}
