// Package helptext is a command's --help page as docker's templates print
// it, with the flag blocks kept apart so that they are wrapped to the
// terminal's width when printed, as docker does. cmd/gendocs takes the pages
// from the plugin's cobra tree at build time; the front (plugin/front)
// prints them. Standard library only, as the front.
package helptext

import (
	"strings"
	"unicode"
)

// Page is what the plugin prints for one command's --help: docker's help
// template rendered, except the flag blocks, which docker wraps to the
// terminal's width when it prints them (cli.wrappedFlagUsages).
type Page struct {
	// Text is the page cut where the flag blocks go: Flags[i] goes
	// between Text[i] and Text[i+1].
	Text  []string
	Flags [][]FlagLine
}

// FlagLine is one flag of a block, as pflag's FlagUsagesWrapped builds it
// before aligning and wrapping: Left is "  -d, --detach" (with the value
// name), Usage the rest (usage, default, deprecation).
type FlagLine struct {
	Left, Usage string
}

// Render is the page for a terminal width columns wide (docker's
// wrappedFlagUsages: FlagUsagesWrapped(width-1), then cobra's
// trimRightSpace).
func (p Page) Render(width int) string {
	var b strings.Builder
	for i, t := range p.Text {
		b.WriteString(t)
		if i < len(p.Flags) {
			b.WriteString(strings.TrimRightFunc(FlagUsages(p.Flags[i], width-1), unicode.IsSpace))
		}
	}
	return b.String()
}

// FlagUsages is pflag's (*FlagSet).FlagUsagesWrapped(cols) for lines.
func FlagUsages(lines []FlagLine, cols int) string {
	maxlen := 0
	for _, l := range lines {
		maxlen = max(maxlen, len(l.Left)+1)
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.Left)
		b.WriteByte(' ')
		b.WriteString(strings.Repeat(" ", maxlen-len(l.Left)))
		b.WriteByte(' ')
		b.WriteString(wrap(maxlen+2, cols, l.Usage))
		b.WriteByte('\n')
	}
	return b.String()
}

// wrap and wrapN are pflag's (v1.0.9, flag.go), which the front cannot
// import; cmd/gendocs checks FlagUsages against pflag's own for every page
// at widths 0 to 300, and plugin/front's tests the pages against the plugin's.
func wrap(i, w int, s string) string {
	if w == 0 {
		return strings.ReplaceAll(s, "\n", "\n"+strings.Repeat(" ", i))
	}
	wrap := w - i
	var r string
	if wrap < 24 { // no room: the usage goes on the next line, indented 16
		i = 16
		wrap = w - i
		r += "\n" + strings.Repeat(" ", i)
	}
	if wrap < 24 { // still none: no wrapping
		return strings.ReplaceAll(s, "\n", r)
	}
	slop := 5 // lets a line run a little long rather than orphan a word
	wrap -= slop
	l, s := wrapN(wrap, slop, s)
	r += strings.ReplaceAll(l, "\n", "\n"+strings.Repeat(" ", i))
	for s != "" {
		var t string
		t, s = wrapN(wrap, slop, s)
		r += "\n" + strings.Repeat(" ", i) + strings.ReplaceAll(t, "\n", "\n"+strings.Repeat(" ", i))
	}
	return r
}

func wrapN(i, slop int, s string) (string, string) {
	if i+slop > len(s) {
		return s, ""
	}
	w := strings.LastIndexAny(s[:i], " \t\n")
	if w <= 0 {
		return s, ""
	}
	if nl := strings.LastIndex(s[:i], "\n"); nl > 0 && nl < w {
		return s[:nl], s[nl+1:]
	}
	return s[:w], s[w+1:]
}
