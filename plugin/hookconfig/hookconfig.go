// Package hookconfig registers and removes docker stateful's hint hook in a
// docker config.json, for install.sh (which cannot count on jq or python):
// it merges its entries into what is there, keeping every other key and
// their order, and records what it changed so that removing undoes exactly
// that.
package hookconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// PluginName is the plugin's name in docker's config.json "plugins" section.
const PluginName = "stateful"

// HookCommands are the docker commands after which the hint hook runs.
var HookCommands = []string{"service update", "service create", "stack deploy"}

// Record entries say what AddHooks changed, so that RemoveHooks undoes
// exactly that and nothing the user had before.
const (
	recCreated = "created:" // created:plugins, created:plugins.stateful, created:features
	recHook    = "hook:"    // hook:service update — a command added to plugins.stateful.hooks
	recFeature = "feature:" // feature:<previous value> — features.hooks set to "true" ("" = was absent)
)

// AddHooks registers the hint hook in a docker config.json document:
// "plugins": {"stateful": {"hooks": "service update,service create,stack deploy"}} and
// "features": {"hooks": "true"}, merged into what is there. Every other key
// and the order of keys are kept. It returns the new document and a record
// of what it changed (empty when it was all there already).
func AddHooks(data []byte) ([]byte, []string, error) {
	root, err := parseObject(data)
	if err != nil {
		return nil, nil, err
	}
	var record []string

	plugins, created, err := root.child("plugins")
	if err != nil {
		return nil, nil, err
	}
	if created {
		record = append(record, recCreated+"plugins")
	}
	ours, created, err := plugins.child(PluginName)
	if err != nil {
		return nil, nil, fmt.Errorf("plugins: %w", err)
	}
	if created {
		record = append(record, recCreated+"plugins."+PluginName)
	}
	hooks, _, err := ours.str("hooks")
	if err != nil {
		return nil, nil, fmt.Errorf("plugins.%s: %w", PluginName, err)
	}
	list := splitCommands(hooks)
	for _, c := range HookCommands {
		if !containsString(list, c) {
			list = append(list, c)
			record = append(record, recHook+c)
		}
	}
	ours.setString("hooks", strings.Join(list, ","))
	plugins.setObject(PluginName, ours)
	root.setObject("plugins", plugins)

	features, created, err := root.child("features")
	if err != nil {
		return nil, nil, err
	}
	prev, had, err := features.str("hooks")
	if err != nil {
		return nil, nil, fmt.Errorf("features: %w", err)
	}
	if on, perr := strconv.ParseBool(prev); !had || perr != nil || !on {
		if created {
			record = append(record, recCreated+"features")
		}
		record = append(record, recFeature+prev)
		features.setString("hooks", "true")
		root.setObject("features", features)
	}
	out, err := root.marshal()
	return out, record, err
}

// RemoveHooks undoes what AddHooks recorded, leaving anything the user set
// or changed since untouched.
func RemoveHooks(data []byte, record []string) ([]byte, error) {
	root, err := parseObject(data)
	if err != nil {
		return nil, err
	}
	has := func(r string) bool { return containsString(record, r) }

	if plugins, created, err := root.child("plugins"); err == nil && !created {
		if ours, created, err := plugins.child(PluginName); err == nil && !created {
			if hooks, had, err := ours.str("hooks"); err == nil && had {
				var keep []string
				for _, c := range splitCommands(hooks) {
					if !has(recHook + c) {
						keep = append(keep, c)
					}
				}
				if len(keep) == 0 {
					ours.del("hooks")
				} else {
					ours.setString("hooks", strings.Join(keep, ","))
				}
			}
			if len(ours.keys) == 0 && has(recCreated+"plugins."+PluginName) {
				plugins.del(PluginName)
			} else {
				plugins.setObject(PluginName, ours)
			}
		}
		if len(plugins.keys) == 0 && has(recCreated+"plugins") {
			root.del("plugins")
		} else {
			root.setObject("plugins", plugins)
		}
	}

	for _, r := range record {
		prev, ok := strings.CutPrefix(r, recFeature)
		if !ok {
			continue
		}
		features, created, err := root.child("features")
		if err != nil || created {
			break
		}
		// Restore only what we set: if the user changed it since, it is theirs.
		if cur, _, err := features.str("hooks"); err == nil && cur == "true" {
			if prev == "" {
				features.del("hooks")
			} else {
				features.setString("hooks", prev)
			}
		}
		if len(features.keys) == 0 && has(recCreated+"features") {
			root.del("features")
		} else {
			root.setObject("features", features)
		}
	}
	return root.marshal()
}

// IsEmpty reports whether a config document holds no keys.
func IsEmpty(data []byte) bool {
	o, err := parseObject(data)
	return err == nil && len(o.keys) == 0
}

func splitCommands(s string) []string {
	var out []string
	for _, c := range strings.Split(s, ",") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// object is a JSON object that keeps its keys in order, and every value it
// does not touch byte for byte (up to indentation).
type object struct {
	keys []string
	vals map[string]json.RawMessage
}

func parseObject(data []byte) (*object, error) {
	o := &object{vals: map[string]json.RawMessage{}}
	if len(bytes.TrimSpace(data)) == 0 {
		return o, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not valid JSON: %w", err)
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("not valid JSON: %w", err)
		}
		if _, dup := o.vals[key]; !dup {
			o.keys = append(o.keys, key)
		}
		o.vals[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("not valid JSON: data after the object")
	}
	return o, nil
}

// child returns the object under key, a new empty one (created=true) when
// the key is absent or null.
func (o *object) child(key string) (*object, bool, error) {
	v, ok := o.vals[key]
	if !ok || string(bytes.TrimSpace(v)) == "null" {
		return &object{vals: map[string]json.RawMessage{}}, true, nil
	}
	c, err := parseObject(v)
	if err != nil {
		return nil, false, fmt.Errorf("%q: %w", key, err)
	}
	return c, false, nil
}

func (o *object) str(key string) (string, bool, error) {
	v, ok := o.vals[key]
	if !ok {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", true, fmt.Errorf("%q is not a string", key)
	}
	return s, true, nil
}

func (o *object) set(key string, v json.RawMessage) {
	if _, ok := o.vals[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.vals[key] = v
}

func (o *object) setString(key, s string) {
	v, _ := json.Marshal(s)
	o.set(key, v)
}

func (o *object) setObject(key string, c *object) {
	v, _ := c.compact()
	o.set(key, v)
}

func (o *object) del(key string) {
	if _, ok := o.vals[key]; !ok {
		return
	}
	delete(o.vals, key)
	for i, k := range o.keys {
		if k == key {
			o.keys = append(o.keys[:i], o.keys[i+1:]...)
			break
		}
	}
}

func (o *object) compact() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(o.vals[k])
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshal renders the document as docker writes config.json: tab-indented.
func (o *object) marshal() ([]byte, error) {
	c, _ := o.compact()
	var b bytes.Buffer
	if err := json.Indent(&b, c, "", "\t"); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}
