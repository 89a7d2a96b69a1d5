// Command checklinks checks that every relative link in the given Markdown
// files (directories are walked for *.md) resolves: the file or directory
// exists, and a #anchor names a heading of the target file by its GitHub
// slug (or an HTML id/name). make lint runs it over README.md and docs/.
//
//	go run ./hack/checklinks README.md docs
package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: checklinks FILE.md|DIR ...")
		os.Exit(2)
	}
	files, err := collect(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "checklinks:", err)
		os.Exit(2)
	}
	if n := check(files, os.Stdout); n > 0 {
		fmt.Fprintf(os.Stderr, "checklinks: %d broken link(s) in %d file(s)\n", n, len(files))
		os.Exit(1)
	}
}

// collect expands directories into the *.md files under them.
func collect(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(files)
	return files, nil
}

// check prints one line per broken link to w and returns their number.
func check(files []string, w io.Writer) int {
	anchors := map[string]map[string]bool{} // file -> its anchors, read once
	anchorsOf := func(p string) (map[string]bool, error) {
		if a, ok := anchors[p]; ok {
			return a, nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		a := Anchors(string(b))
		anchors[p] = a
		return a, nil
	}
	broken := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(w, "%s: %v\n", f, err)
			broken++
			continue
		}
		for _, l := range Links(string(b)) {
			if !relative(l.Target) {
				continue
			}
			path, frag, _ := strings.Cut(l.Target, "#")
			if i := strings.IndexByte(path, '?'); i >= 0 {
				path = path[:i]
			}
			target := f
			if path != "" {
				target = filepath.Join(filepath.Dir(f), filepath.FromSlash(path))
				if _, err := os.Stat(target); err != nil {
					fmt.Fprintf(w, "%s:%d: %s: no such file %s\n", f, l.Line, l.Target, target)
					broken++
					continue
				}
			}
			if frag == "" || !strings.HasSuffix(target, ".md") {
				continue
			}
			a, err := anchorsOf(target)
			if err != nil {
				fmt.Fprintf(w, "%s:%d: %s: %v\n", f, l.Line, l.Target, err)
				broken++
				continue
			}
			if !a[strings.ToLower(frag)] {
				fmt.Fprintf(w, "%s:%d: %s: no heading #%s in %s\n", f, l.Line, l.Target, frag, target)
				broken++
			}
		}
	}
	return broken
}

var scheme = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)

// relative reports whether a link target points into the repository.
func relative(t string) bool {
	return t != "" && !scheme.MatchString(t) && !strings.HasPrefix(t, "//") && !strings.HasPrefix(t, "/")
}

// Link is one link target and the line it is on.
type Link struct {
	Line   int
	Target string
}

var (
	inlineLink = regexp.MustCompile(`\]\(\s*(<[^>]*>|[^)\s]+)(\s+"[^"]*")?\s*\)`)
	refDef     = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)`)
	codeSpan   = regexp.MustCompile("`+[^`]*`+")
)

// Links returns the link targets of a Markdown text, outside fenced code
// blocks and code spans: inline links and images, and reference definitions.
func Links(md string) []Link {
	var out []Link
	forLines(md, func(n int, line string) {
		line = codeSpan.ReplaceAllString(line, "")
		if m := refDef.FindStringSubmatch(line); m != nil {
			out = append(out, Link{n, strings.Trim(m[1], "<>")})
			return
		}
		for _, m := range inlineLink.FindAllStringSubmatch(line, -1) {
			out = append(out, Link{n, strings.Trim(m[1], "<>")})
		}
	})
	return out
}

// forLines calls fn for every line outside fenced code blocks (``` or ~~~).
func forLines(md string, fn func(n int, line string)) {
	fence := ""
	for i, line := range strings.Split(md, "\n") {
		t := strings.TrimLeft(line, " ")
		if fence != "" {
			if strings.HasPrefix(t, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			fence = t[:3]
			continue
		}
		fn(i+1, line)
	}
}

var (
	atxHeading = regexp.MustCompile(`^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$`)
	htmlID     = regexp.MustCompile(`<[a-zA-Z][^>]*\s(?:id|name)="([^"]+)"`)
	mdLink     = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
)

// Anchors returns the anchors GitHub gives a Markdown text: the slug of each
// ATX heading (a repeated slug gets -1, -2, ...) and HTML id/name attributes.
func Anchors(md string) map[string]bool {
	a := map[string]bool{}
	seen := map[string]int{}
	forLines(md, func(_ int, line string) {
		for _, m := range htmlID.FindAllStringSubmatch(line, -1) {
			a[strings.ToLower(m[1])] = true
		}
		m := atxHeading.FindStringSubmatch(line)
		if m == nil {
			return
		}
		s := Slug(m[1])
		if k := seen[s]; k > 0 {
			a[fmt.Sprintf("%s-%d", s, k)] = true
		} else {
			a[s] = true
		}
		seen[s]++
	})
	return a
}

// Slug is GitHub's anchor for a heading: the rendered text lower-cased,
// punctuation other than '-' and '_' dropped, each space a '-'.
func Slug(heading string) string {
	text := mdLink.ReplaceAllString(heading, "$1")
	text = strings.NewReplacer("`", "", "*", "").Replace(text)
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.M, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
