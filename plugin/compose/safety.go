package compose

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"gopkg.in/yaml.v3"
)

// The checks below keep --fix from writing a file that means something other
// than the original plus its own additions: a key it adds next to a merge key
// (<<: *defaults) replaces the merged one, an edit inside an anchored node
// lands in every alias of it too, and a second YAML document would get the
// top-level volumes of the first. Each refusal names the line to change.

// singleDocument refuses a file with more than one YAML document.
func singleDocument(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	n := 0
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		n++
		if n > 1 {
			return fmt.Errorf("the file holds several YAML documents (the second starts at line %d): --fix edits a file of one document; split it, or make the changes by hand", doc.Line)
		}
	}
	return nil
}

// mergedKey refuses to add key top under svc when svc merges a mapping
// (<<: *anchor) that has it: a key of the service's own replaces the merged
// one whole (its bind mounts, limits, ...), silently.
func mergedKey(svc *yaml.Node, service, top string) error {
	if k, _ := get(svc, top); k != nil {
		return nil // the service has its own: it is what we edit
	}
	for i := 0; i+1 < len(svc.Content); i += 2 {
		if svc.Content[i].Value != "<<" {
			continue
		}
		for _, m := range mergedMappings(svc.Content[i+1]) {
			if k, _ := get(m, top); k != nil {
				return fmt.Errorf("service %s merges %s: from line %d (<<: at line %d): adding its own %s: would replace the merged one whole; copy the merged %s: into the service by hand, then run --fix again",
					service, top, k.Line, svc.Content[i].Line, top, top)
			}
		}
	}
	return nil
}

// mergedMappings are the mappings a merge key's value brings in (an alias, a
// mapping, or a sequence of them).
func mergedMappings(v *yaml.Node) []*yaml.Node {
	switch v.Kind {
	case yaml.AliasNode:
		return mergedMappings(v.Alias)
	case yaml.MappingNode:
		return []*yaml.Node{v}
	case yaml.SequenceNode:
		var out []*yaml.Node
		for _, c := range v.Content {
			out = append(out, mergedMappings(c)...)
		}
		return out
	}
	return nil
}

// anchoredOnPath refuses an edit of keys under svc when the service's
// mapping, or one of the existing mappings on keys, carries an anchor that
// is aliased elsewhere: the change would land in every alias too.
func anchoredOnPath(root, svc *yaml.Node, service string, keys []string) error {
	aliased := aliasedAnchors(root)
	n := svc
	for i := 0; n != nil; i++ {
		if n.Anchor != "" && aliased[n.Anchor] {
			return fmt.Errorf("service %s: line %d defines anchor &%s, which is used elsewhere (*%s): a change there would change them too; give the service its own copy, then run --fix again",
				service, n.Line, n.Anchor, n.Anchor)
		}
		if i == len(keys) {
			break
		}
		_, n = get(n, keys[i])
	}
	return nil
}

func aliasedAnchors(n *yaml.Node) map[string]bool {
	out := map[string]bool{}
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil {
			return
		}
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			out[n.Alias.Anchor] = true
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return out
}

// anonymousVolume finds an item of the service's volumes: that mounts an
// anonymous volume on target (short "- /data", or long syntax with a target
// and no source): --fix names that one instead of adding a second mount on
// the same target, which swarm refuses ("duplicate mount point").
func anonymousVolume(svc *yaml.Node, target string) *yaml.Node {
	_, vols := get(svc, "volumes")
	if vols == nil || vols.Kind != yaml.SequenceNode {
		return nil
	}
	for _, it := range vols.Content {
		switch it.Kind {
		case yaml.ScalarNode:
			if !strings.Contains(it.Value, ":") && path.Clean(it.Value) == path.Clean(target) {
				return it
			}
		case yaml.MappingNode:
			_, t := get(it, "target")
			_, src := get(it, "source")
			_, typ := get(it, "type")
			if t != nil && path.Clean(t.Value) == path.Clean(target) && (src == nil || src.Value == "") && (typ == nil || typ.Value == "volume") {
				return it
			}
		}
	}
	return nil
}

// nameAnonymous turns the anonymous volume item it (found by anonymousVolume)
// into the named volume name: "- /data" becomes "- name:/data", a long
// syntax item gets "source: name".
func (e *editor) nameAnonymous(it *yaml.Node, name string) error {
	if it.Kind == yaml.ScalarNode {
		line, col := it.Line-1, it.Column-1
		end := col + scalarLen(e.lines[line][col:], it)
		e.replaces = append(e.replaces, replace{line: line, col: col, end: end, text: name + ":" + it.Value})
		return nil
	}
	if !block(it) {
		return fmt.Errorf("the volume on line %d is a flow mapping: add source: %s to it by hand", it.Line, name)
	}
	// The item's first key shares its line with the dash: the new key goes
	// on the line after it, at that key's column.
	k0, v0 := it.Content[0], it.Content[1]
	if v0.Kind != yaml.ScalarNode || v0.Line != k0.Line {
		return fmt.Errorf("the volume on line %d: add source: %s to it by hand", it.Line, name)
	}
	e.inserts[k0.Line] = append(e.inserts[k0.Line], strings.Repeat(" ", k0.Column-1)+"source: "+name)
	return nil
}
