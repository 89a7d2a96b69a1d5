package candidates

import (
	"slices"
	"testing"
)

func TestLines(t *testing.T) {
	items := []Item{
		{Name: "web", ID: "w1", Desc: "nginx"},
		{Name: "cache", ID: "c1", Desc: "stateful, redis", First: true},
		{Name: "app", ID: "a1", Desc: "app"},
		{Name: "db", ID: "abc9", Desc: "stateful, redis", First: true},
	}
	for _, tc := range []struct {
		name       string
		toComplete string
		showIDs    bool
		want       []string
	}{
		{"first ones first, then by name", "", false,
			[]string{"cache\tstateful, redis", "db\tstateful, redis", "app\tapp", "web\tnginx"}},
		{"a name prefix: no IDs", "a", false,
			[]string{"cache\tstateful, redis", "db\tstateful, redis", "app\tapp", "web\tnginx"}},
		{"only an ID can match: the matching IDs", "abc", false,
			[]string{"cache\tstateful, redis", "db\tstateful, redis", "abc9\tdb", "app\tapp", "web\tnginx"}},
		{"show IDs: every ID", "", true,
			[]string{"cache\tstateful, redis", "c1\tcache", "db\tstateful, redis", "abc9\tdb", "app\tapp", "a1\tapp", "web\tnginx", "w1\tweb"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Lines(items, tc.toComplete, tc.showIDs); !slices.Equal(got, tc.want) {
				t.Errorf("Lines(%q, %v) =\n%q\nwant\n%q", tc.toComplete, tc.showIDs, got, tc.want)
			}
		})
	}
	if items[0].Name != "web" {
		t.Error("Lines reordered its argument")
	}
}
