// Package candidates builds the completion lines docker stateful offers for
// services and nodes. It uses the standard library only: both the front
// (plugin/front, which answers TAB without docker/cli) and the full plugin's
// cobra completions (cmd/commands/complete.go) print its lines, so the two
// answer byte for byte alike.
package candidates

import (
	"slices"
	"strings"
)

// Item is one thing to offer: a service or a node.
type Item struct {
	Name  string
	ID    string
	Desc  string // shown after the name
	First bool   // offered before the others (stateful services, usable nodes)
}

// Lines returns one "NAME\tDESC" line per item, First ones first, then by
// name, each followed by an "ID\tNAME" line when IDs are offered: always
// with showIDs, else only when no name starts with toComplete (what is typed
// so far can only be an ID), and then the IDs that start with it.
func Lines(items []Item, toComplete string, showIDs bool) []string {
	items = slices.Clone(items)
	slices.SortStableFunc(items, func(a, b Item) int {
		if a.First != b.First {
			if a.First {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	ids := showIDs || !slices.ContainsFunc(items, func(it Item) bool { return strings.HasPrefix(it.Name, toComplete) })
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, it.Name+"\t"+it.Desc)
		if ids && (showIDs || toComplete != "" && strings.HasPrefix(it.ID, toComplete)) {
			out = append(out, it.ID+"\t"+it.Name)
		}
	}
	return out
}
