package commands

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/docker/cli/templates"
)

// writeFormatted prints v the way docker's --format does: the human text when
// format is empty, indented JSON for "json", else a Go template over v. It is
// for docker's own objects (create --dry-run's spec); docker-stateful's
// reports use writeReport.
func writeFormatted(w io.Writer, format string, v any, text func(io.Writer) error) error {
	return write(w, format, v, v, text)
}

// writeReport prints one of docker-stateful's own reports (snake_case JSON):
// like writeFormatted, but a template sees the JSON's names
// ({{.verdict}}, {{.report.before_keys}}), so that a template and a
// script reading the JSON use the same words.
func writeReport(w io.Writer, format string, v any, text func(io.Writer) error) error {
	if format == "" || format == "json" {
		return write(w, format, v, nil, text)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var m any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // 64-bit counts and IDs print as they are
	if err := dec.Decode(&m); err != nil {
		return err
	}
	return write(w, format, v, m, text)
}

// write prints v as text or JSON, or data (v's template view) through the
// template format.
func write(w io.Writer, format string, v, data any, text func(io.Writer) error) error {
	switch format {
	case "":
		return text(w)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tmpl, err := templates.Parse(format)
	if err != nil {
		return err
	}
	if err := tmpl.Execute(w, data); err != nil {
		return err
	}
	_, err = io.WriteString(w, "\n")
	return err
}

// checkFormat refuses a --format that writeFormatted could not use, so that
// a typo in a template stops a command before it does anything (pauses
// writes, sends an update), not after.
func checkFormat(format string) error {
	if format == "" || format == "json" {
		return nil
	}
	if _, err := templates.Parse(format); err != nil {
		return fmt.Errorf("--format %q: %v", format, err)
	}
	return nil
}
