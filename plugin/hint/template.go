package hint

import (
	"sort"
	"strconv"
	"strings"
)

// Hooked is a service with a hint, as found by the hook.
type Hooked struct {
	Name, ID string
	Text     string
}

// The docker CLI tells a hook which command ran and which flags were set,
// but not their values nor the arguments. It renders the hook's reply as a
// Go template against the command it ran, with `arg . i` and `flag . "name"`
// giving what the user typed. So the hook answers with one conditional per
// candidate service, and docker prints the hint of the service the user
// named, and nothing for any other.

// UpdateTemplate is the hook reply after `docker service update SERVICE`:
// the hint of whichever of services SERVICE names (by name, ID or ID prefix).
func UpdateTemplate(services []Hooked) string {
	var b strings.Builder
	for _, s := range services {
		if s.Text == "" {
			continue
		}
		b.WriteString(`{{if or (eq (arg . 0) ` + strconv.Quote(s.Name) + `)`)
		if s.ID != "" {
			// docker accepts any unique ID prefix; slice would fail past the end.
			id := strconv.Quote(s.ID)
			b.WriteString(` (and (lt 0 (len (arg . 0))) (le (len (arg . 0)) (len ` + id + `)) (eq (arg . 0) (slice ` + id + ` 0 (len (arg . 0)))))`)
		}
		b.WriteString(`}}` + Literal(s.Text) + `{{end}}`)
	}
	return b.String()
}

// CreateTemplate is the hook reply after `docker service create`: with
// --name, the hint of the service of that name; without, the hint of newest,
// the service the command just created (may be nil).
func CreateTemplate(services []Hooked, nameSet bool, newest *Hooked) string {
	if !nameSet {
		if newest == nil || newest.Text == "" {
			return ""
		}
		return Literal(newest.Text)
	}
	var b strings.Builder
	for _, s := range services {
		if s.Text != "" {
			b.WriteString(`{{if eq (flag . "name") ` + strconv.Quote(s.Name) + `}}` + Literal(s.Text) + `{{end}}`)
		}
	}
	return b.String()
}

// StackTemplate is the hook reply after `docker stack deploy ... STACK`:
// the hints of the services of whichever stack STACK names (stacks: the
// namespace → its services), with how to deploy the stack safely.
func StackTemplate(stacks map[string][]Hooked) string {
	names := make([]string, 0, len(stacks))
	for name := range stacks {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		var texts []string
		for _, s := range stacks[name] {
			if s.Text != "" {
				texts = append(texts, s.Text)
			}
		}
		if len(texts) == 0 {
			continue
		}
		text := strings.Join(texts, "\n    ") +
			"\n    stateful: re-deploy it with docker stateful stack deploy (keeps the data on every deploy), or fix the compose file once: docker stateful check -c COMPOSE_FILE --fix"
		b.WriteString(`{{if eq (arg . 0) ` + strconv.Quote(name) + `}}` + Literal(text) + `{{end}}`)
	}
	return b.String()
}

// Literal returns a template that prints s as is: a hint may contain "{{"
// (a {{.Task.Slot}} volume source) that docker must not execute.
func Literal(s string) string {
	if !strings.Contains(s, "{{") && !strings.Contains(s, "}}") {
		return s
	}
	return "{{" + strconv.Quote(s) + "}}"
}
