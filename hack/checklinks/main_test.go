package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSlug(t *testing.T) {
	for heading, want := range map[string]string{
		"The story we start from": "the-story-we-start-from",
		"Proving the data survived: `update --verify`, `snapshot`, `verify`": "proving-the-data-survived-update---verify-snapshot-verify",
		"A compose file: `docker stateful check -c compose.yml [--fix]`":     "a-compose-file-docker-stateful-check--c-composeyml---fix",
		"A remote swarm: `ssh://`":                   "a-remote-swarm-ssh",
		"install.sh":                                 "installsh",
		"What `--verify` proves (and [links](x.md))": "what---verify-proves-and-links",
		"Exit codes":                                 "exit-codes",
		"docker_stateful_stack":                      "docker_stateful_stack",
	} {
		if got := Slug(heading); got != want {
			t.Errorf("Slug(%q) = %q, want %q", heading, got, want)
		}
	}
}

func TestAnchorsDuplicatesAndFences(t *testing.T) {
	a := Anchors("# Usage\n## Usage\n```\n# not a heading\n```\n<a id=\"Custom\"></a>\n### Usage ###\n")
	for _, want := range []string{"usage", "usage-1", "usage-2", "custom"} {
		if !a[want] {
			t.Errorf("anchor %q missing from %v", want, a)
		}
	}
	if a["not-a-heading"] {
		t.Errorf("a heading inside a code fence counted: %v", a)
	}
}

func TestLinks(t *testing.T) {
	md := "see [a](a.md) and ![img](i.png \"t\") and [w](https://x.org/y)\n" +
		"`[code](nope.md)`\n```\n[fenced](nope.md)\n```\n[ref]: <docs/b.md#x>\n"
	var got []string
	for _, l := range Links(md) {
		got = append(got, l.Target)
	}
	if want := "a.md i.png https://x.org/y docs/b.md#x"; strings.Join(got, " ") != want {
		t.Errorf("Links = %q, want %q", got, want)
	}
}

// TestCheck: a tree with good links passes; each kind of broken link is reported once.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	readme := write("README.md", "# Top\n[ok](docs/a.md#exit-codes) [self](#top) [dir](docs/) [web](https://example.com/#nope)\n")
	a := write("docs/a.md", "## Exit codes\n[up](../README.md#top)\n")
	var out strings.Builder
	if n := check([]string{readme, a}, &out); n != 0 {
		t.Fatalf("good links reported broken (%d):\n%s", n, out.String())
	}

	bad := write("docs/bad.md", "[gone](missing.md)\n[anchor](a.md#exit-code)\n[self](#nowhere)\n")
	out.Reset()
	if n := check([]string{bad}, &out); n != 3 {
		t.Fatalf("want 3 broken links, got %d:\n%s", n, out.String())
	}
	for _, want := range []string{"bad.md:1: missing.md: no such file", "bad.md:2: a.md#exit-code: no heading", "bad.md:3: #nowhere: no heading"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
