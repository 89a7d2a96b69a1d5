package compose

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// editor changes a compose file as text, guided by yaml.v3's node positions:
// every line it does not touch stays byte for byte (comments, blank lines,
// quoting, key order), which re-encoding the parsed document would not keep.
type editor struct {
	lines []string // the file, one line each, without their "\n"
	root  *yaml.Node
	// inserts: lines to put before line i (0-based; len(lines) appends).
	inserts map[int][]string
	// replaces: a scalar's text on line i from column c (0-based) to the end
	// of the scalar.
	replaces []replace
}

type replace struct {
	line, col, end int
	text           string
}

func newEditor(data []byte) (*editor, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("not a compose file: the document is not a mapping")
	}
	text := strings.TrimSuffix(string(data), "\n")
	return &editor{lines: strings.Split(text, "\n"), root: doc.Content[0], inserts: map[int][]string{}}, nil
}

// bytes returns the edited file.
func (e *editor) bytes() []byte {
	var b bytes.Buffer
	reps := map[int][]replace{}
	for _, r := range e.replaces {
		reps[r.line] = append(reps[r.line], r)
	}
	for i := 0; i <= len(e.lines); i++ {
		for _, l := range e.inserts[i] {
			b.WriteString(l + "\n")
		}
		if i == len(e.lines) {
			break
		}
		line := e.lines[i]
		rs := reps[i]
		sort.Slice(rs, func(a, b int) bool { return rs[a].col > rs[b].col })
		for _, r := range rs {
			line = line[:r.col] + r.text + line[r.end:]
		}
		b.WriteString(line + "\n")
	}
	return b.Bytes()
}

// get returns the value of key in mapping m.
func get(m *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// indentOf is the indentation of mapping m's keys, or of sequence s's dashes.
func (e *editor) indentOf(n *yaml.Node) (string, error) {
	if len(n.Content) == 0 {
		return "", errors.New("empty")
	}
	first := n.Content[0]
	line := e.lines[first.Line-1]
	switch n.Kind {
	case yaml.MappingNode:
		return line[:first.Column-1], nil
	case yaml.SequenceNode:
		dash := strings.LastIndex(line[:first.Column-1], "-")
		if dash < 0 {
			return "", errors.New("no dash")
		}
		return line[:dash], nil
	}
	return "", errors.New("not a collection")
}

// block reports whether collection n is written in block style (the only
// style the editor inserts into).
func block(n *yaml.Node) bool {
	return n != nil && n.Style&yaml.FlowStyle == 0
}

// ensureMapping returns the mapping at path under m, creating the missing
// keys (as block mappings, first in their parent) with lines that go before
// the parent's first key. created reports whether it had to: then the
// returned indent is where the new mapping's keys go, and at is the line its
// content must be inserted at.
func (e *editor) setKey(m *yaml.Node, path []string, value string) error {
	key, val := get(m, path[0])
	if key == nil {
		indent, err := e.indentOf(m)
		if err != nil {
			return fmt.Errorf("cannot add %s: %w", path[0], err)
		}
		at := m.Content[0].Line - 1
		e.inserts[at] = append(e.inserts[at], nest(indent, path, value)...)
		return nil
	}
	if len(path) == 1 {
		if val.Kind != yaml.ScalarNode {
			return fmt.Errorf("%s is not a plain value", path[0])
		}
		line := val.Line - 1
		col := val.Column - 1
		end := col + scalarLen(e.lines[line][col:], val)
		e.replaces = append(e.replaces, replace{line: line, col: col, end: end, text: value})
		return nil
	}
	if val.Kind == yaml.ScalarNode && val.Tag == "!!null" { // "deploy:" with nothing under it
		indent := leading(e.lines[key.Line-1]) + "  "
		e.inserts[key.Line] = append(e.inserts[key.Line], nest(indent, path[1:], value)...)
		return nil
	}
	if val.Kind != yaml.MappingNode || !block(val) {
		return fmt.Errorf("%s is not a block mapping: edit it by hand", path[0])
	}
	return e.setKey(val, path[1:], value)
}

// appendItem adds value to the sequence at path under m (created when
// missing), before its first item.
func (e *editor) appendItem(m *yaml.Node, path []string, value string) error {
	key, val := get(m, path[0])
	if key == nil {
		indent, err := e.indentOf(m)
		if err != nil {
			return fmt.Errorf("cannot add %s: %w", path[0], err)
		}
		at := m.Content[0].Line - 1
		e.inserts[at] = append(e.inserts[at], nestSeq(indent, path, value)...)
		return nil
	}
	if len(path) > 1 {
		if val.Kind == yaml.ScalarNode && val.Tag == "!!null" {
			indent := leading(e.lines[key.Line-1]) + "  "
			e.inserts[key.Line] = append(e.inserts[key.Line], nestSeq(indent, path[1:], value)...)
			return nil
		}
		if val.Kind != yaml.MappingNode || !block(val) {
			return fmt.Errorf("%s is not a block mapping: edit it by hand", path[0])
		}
		return e.appendItem(val, path[1:], value)
	}
	switch {
	case val.Kind == yaml.ScalarNode && val.Tag == "!!null":
		indent := leading(e.lines[key.Line-1]) + "  "
		e.inserts[key.Line] = append(e.inserts[key.Line], indent+"- "+value)
		return nil
	case val.Kind != yaml.SequenceNode || !block(val) || len(val.Content) == 0:
		return fmt.Errorf("%s is not a block list: edit it by hand", path[0])
	}
	indent, err := e.indentOf(val)
	if err != nil {
		return err
	}
	at := val.Content[0].Line - 1
	e.inserts[at] = append(e.inserts[at], indent+"- "+value)
	return nil
}

// nest writes "a:\n  b:\n    c: value" at indent.
func nest(indent string, path []string, value string) []string {
	var out []string
	for i, k := range path {
		if i == len(path)-1 {
			out = append(out, indent+k+": "+value)
			break
		}
		out = append(out, indent+k+":")
		indent += "  "
	}
	return out
}

// nestSeq writes "a:\n  b:\n    - value" at indent.
func nestSeq(indent string, path []string, value string) []string {
	var out []string
	for _, k := range path {
		out = append(out, indent+k+":")
		indent += "  "
	}
	return append(out, indent+"- "+value)
}

func leading(line string) string {
	return line[:len(line)-len(strings.TrimLeft(line, " "))]
}

// scalarLen is the length of the scalar's text at the start of s: its quoted
// or plain form (up to a comment).
func scalarLen(s string, n *yaml.Node) int {
	switch n.Style {
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		q := s[0]
		for i := 1; i < len(s); i++ {
			if s[i] == q && (q != '"' || s[i-1] != '\\') {
				return i + 1
			}
		}
		return len(s)
	}
	if i := strings.Index(s, " #"); i >= 0 {
		return len(strings.TrimRight(s[:i], " "))
	}
	return len(strings.TrimRight(s, " "))
}
