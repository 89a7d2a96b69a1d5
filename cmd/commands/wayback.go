package commands

import (
	"bytes"
	"encoding/json"

	"github.com/docker-stateful/docker-stateful/plugin/engine"
)

// wayBackDoc is an update --verify document with the guard's note that going
// back from the verified upgrade needs a conversion ("way_back"), after the
// engine's own fields.
type wayBackDoc struct {
	engine.Outcome
	wayBack string
}

// withWayBack adds wayBack to doc when the update was verified (a refused or
// rolled-back update left the old server: nothing to go back from).
func withWayBack(doc engine.Outcome, wayBack string) any {
	if doc == nil || wayBack == "" || doc.Summary().Verdict != "verified" {
		return doc
	}
	return wayBackDoc{doc, wayBack}
}

func (d wayBackDoc) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(d.Outcome)
	if err != nil {
		return nil, err
	}
	note, err := json.Marshal(d.wayBack)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimRight(b, " \n")
	if len(b) < 2 || b[len(b)-1] != '}' {
		return b, nil
	}
	sep := ","
	if bytes.Equal(b, []byte("{}")) {
		sep = ""
	}
	return append(append(append(b[:len(b)-1:len(b)-1], sep+`"way_back":`...), note...), '}'), nil
}
