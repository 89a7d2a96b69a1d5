package hookconfig

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func decode(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("invalid JSON %s: %v", data, err)
	}
	return m
}

func TestHooksRoundTrip(t *testing.T) {
	cases := []struct {
		name, before string
		afterAdd     string // as decoded JSON
	}{
		{"empty file", ``,
			`{"plugins":{"stateful":{"hooks":"service update,service create,stack deploy"}},"features":{"hooks":"true"}}`},
		{"user config with other keys", `{"auths":{"r.example":{"auth":"eA=="}},"credsStore":"pass","plugins":{"debug":{"hooks":"ps"}},"features":{"buildkit":"true"},"detachKeys":"ctrl-e,e"}`,
			`{"auths":{"r.example":{"auth":"eA=="}},"credsStore":"pass","plugins":{"debug":{"hooks":"ps"},"stateful":{"hooks":"service update,service create,stack deploy"}},"features":{"buildkit":"true","hooks":"true"},"detachKeys":"ctrl-e,e"}`},
		{"hooks already enabled, one command already registered", `{"features":{"hooks":"1"},"plugins":{"stateful":{"hooks":"service update","other":"x"}}}`,
			`{"features":{"hooks":"1"},"plugins":{"stateful":{"hooks":"service update,service create,stack deploy","other":"x"}}}`},
		{"hooks disabled by the user", `{"features":{"hooks":"false"}}`,
			`{"features":{"hooks":"true"},"plugins":{"stateful":{"hooks":"service update,service create,stack deploy"}}}`},
		{"null sections", `{"plugins":null,"features":null}`,
			`{"plugins":{"stateful":{"hooks":"service update,service create,stack deploy"}},"features":{"hooks":"true"}}`},
	}
	for _, c := range cases {
		added, record, err := AddHooks([]byte(c.before))
		if err != nil {
			t.Fatalf("%s: add: %v", c.name, err)
		}
		if got, want := decode(t, added), decode(t, []byte(c.afterAdd)); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: after add\n got %s\nwant %s", c.name, added, c.afterAdd)
		}
		// Idempotent: adding again changes nothing and records nothing.
		again, rec2, err := AddHooks(added)
		if err != nil || string(again) != string(added) || len(rec2) != 0 {
			t.Errorf("%s: second add changed something: %s %v %v", c.name, again, rec2, err)
		}
		removed, err := RemoveHooks(added, record)
		if err != nil {
			t.Fatalf("%s: remove: %v", c.name, err)
		}
		if strings.TrimSpace(c.before) == "" || c.before == `{"plugins":null,"features":null}` {
			if !IsEmpty(removed) && c.before == "" {
				t.Errorf("%s: after remove got %s, want an empty object", c.name, removed)
			}
			continue
		}
		if got, want := decode(t, removed), decode(t, []byte(c.before)); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: round trip\n got %s\nwant %s", c.name, removed, c.before)
		}
	}
}

func TestAddHooksKeepsKeyOrder(t *testing.T) {
	in := `{"zeta":1,"auths":{},"alpha":{"b":1,"a":[1,2]}}`
	out, _, err := AddHooks([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if !(strings.Index(s, `"zeta"`) < strings.Index(s, `"auths"`) && strings.Index(s, `"auths"`) < strings.Index(s, `"alpha"`) &&
		strings.Index(s, `"alpha"`) < strings.Index(s, `"plugins"`) && strings.Index(s, `"b"`) < strings.Index(s, `"a"`)) {
		t.Errorf("key order not kept:\n%s", s)
	}
}

func TestRemoveKeepsWhatTheUserChanged(t *testing.T) {
	added, record, err := AddHooks([]byte(`{"features":{"hooks":"false"}}`))
	if err != nil {
		t.Fatal(err)
	}
	// Since the install, the user turned hooks off again and added a hook of their own.
	m := decode(t, added)
	m["features"].(map[string]any)["hooks"] = "0"
	m["plugins"].(map[string]any)["stateful"].(map[string]any)["hooks"] = "service update,service create,stack deploy,service ls"
	edited, _ := json.Marshal(m)
	removed, err := RemoveHooks(edited, record)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"features":{"hooks":"0"},"plugins":{"stateful":{"hooks":"service ls"}}}`
	if got := decode(t, removed); !reflect.DeepEqual(got, decode(t, []byte(want))) {
		t.Errorf("got %s, want %s", removed, want)
	}
}

func TestBadConfig(t *testing.T) {
	for _, in := range []string{`[1]`, `{"plugins":"x"}`, `{"features":{"hooks":1}}`, `{"a":1`, `{} {}`} {
		if _, _, err := AddHooks([]byte(in)); err == nil {
			t.Errorf("AddHooks(%s): want an error", in)
		}
	}
}
