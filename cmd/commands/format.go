package commands

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/docker/cli/templates"
)

// writeFormatted prints v the way docker's --format does: the human text when
// format is empty, indented JSON for "json", else a Go template over v.
func writeFormatted(w io.Writer, format string, v any, text func(io.Writer) error) error {
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
	if err := tmpl.Execute(w, v); err != nil {
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
