// Package specdiff shows what a service update changes: the fields of two
// ServiceSpecs that differ, in docker's own vocabulary (the --mount and
// --publish syntax, human sizes and durations), as "-" and "+" lines or JSON.
//
// The fields users change most (image, command, env, mounts, constraints,
// resources, replicas, ports, labels, update and rollback config, stop grace
// period, networks, secrets, configs) get readable names and renderings;
// every other field of the spec is still compared, by reflection, so that no
// change goes unreported.
package specdiff

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
	units "github.com/docker/go-units"
)

// Change is one field that differs. For a list (env, mounts, constraints…)
// Removed and Added hold the elements that go and come; for a single value
// Removed holds the old value and Added the new one (either is empty when
// the field is unset on that side).
type Change struct {
	Field   string   `json:"field"`
	Removed []string `json:"removed,omitempty"`
	Added   []string `json:"added,omitempty"`
}

// field is one rendered field of a spec. A set field is compared element by
// element; any other is compared as a whole.
type field struct {
	name   string
	values []string
	set    bool
}

// Diff returns the fields that differ between old and new, in a stable order:
// the well-known fields first, then the rest by path.
func Diff(old, new swarm.ServiceSpec) []Change {
	of, nf := render(old), render(new)
	byName, newByName := map[string]field{}, map[string]field{}
	var names []string
	for _, f := range of {
		byName[f.name] = f
		names = append(names, f.name)
	}
	for _, f := range nf {
		newByName[f.name] = f
		if _, ok := byName[f.name]; !ok {
			names = append(names, f.name)
		}
	}
	sort.SliceStable(names, func(i, j int) bool { return rank(names[i]) < rank(names[j]) })
	var out []Change
	for _, name := range names {
		o, n := byName[name], newByName[name]
		var c Change
		if o.set || n.set {
			c = Change{Field: name, Removed: minus(o.values, n.values), Added: minus(n.values, o.values)}
		} else if !slices.Equal(o.values, n.values) {
			c = Change{Field: name, Removed: o.values, Added: n.values}
		}
		if len(c.Removed) > 0 || len(c.Added) > 0 {
			out = append(out, c)
		}
	}
	return out
}

// order is the order of the well-known fields; the others follow, by name.
var order = []string{
	"Name", "Image", "Command", "Args", "Env", "Mounts", "Constraints",
	"Limits.CPU", "Limits.Memory", "Limits.Pids", "Reservations.CPU", "Reservations.Memory",
	"Replicas", "Ports", "Labels", "ContainerLabels", "StopGracePeriod",
	"Networks", "Secrets", "Configs",
}

func rank(name string) string {
	for i, n := range order {
		if n == name {
			return fmt.Sprintf("0%03d", i)
		}
	}
	return "1" + name
}

// Write prints changes as a block per field: the field name, then a "-" line
// per value that goes and a "+" line per value that comes.
func Write(w io.Writer, changes []Change) error {
	if len(changes) == 0 {
		_, err := fmt.Fprintln(w, "(no change to the service's spec)")
		return err
	}
	for _, c := range changes {
		if _, err := fmt.Fprintf(w, "%s:\n", c.Field); err != nil {
			return err
		}
		for _, v := range c.Removed {
			if _, err := fmt.Fprintf(w, "- %s\n", v); err != nil {
				return err
			}
		}
		for _, v := range c.Added {
			if _, err := fmt.Fprintf(w, "+ %s\n", v); err != nil {
				return err
			}
		}
	}
	return nil
}

// known maps the Go paths of the fields rendered by hand to nothing: the
// reflective walk skips them (and everything under them).
var known = map[string]bool{
	"Annotations.Name":                                true,
	"Annotations.Labels":                              true,
	"TaskTemplate.ContainerSpec.Image":                true,
	"TaskTemplate.ContainerSpec.Command":              true,
	"TaskTemplate.ContainerSpec.Args":                 true,
	"TaskTemplate.ContainerSpec.Env":                  true,
	"TaskTemplate.ContainerSpec.Labels":               true,
	"TaskTemplate.ContainerSpec.Mounts":               true,
	"TaskTemplate.ContainerSpec.StopGracePeriod":      true,
	"TaskTemplate.ContainerSpec.Secrets":              true,
	"TaskTemplate.ContainerSpec.Configs":              true,
	"TaskTemplate.Placement.Constraints":              true,
	"TaskTemplate.Resources.Limits":                   true,
	"TaskTemplate.Resources.Reservations.NanoCPUs":    true,
	"TaskTemplate.Resources.Reservations.MemoryBytes": true,
	"TaskTemplate.Networks":                           true,
	"Mode.Replicated.Replicas":                        true,
	"EndpointSpec.Ports":                              true,
	"Networks":                                        true, // deprecated top-level networks: shown with TaskTemplate.Networks
}

func render(s swarm.ServiceSpec) []field {
	var fs []field
	one := func(name, v string) {
		if v != "" {
			fs = append(fs, field{name: name, values: []string{v}})
		}
	}
	list := func(name string, vs []string) {
		if len(vs) > 0 {
			fs = append(fs, field{name: name, values: vs, set: true})
		}
	}
	one("Name", s.Name)
	cs := s.TaskTemplate.ContainerSpec
	if cs == nil {
		cs = &swarm.ContainerSpec{}
	}
	one("Image", cs.Image)
	one("Command", quoteArgs(cs.Command))
	one("Args", quoteArgs(cs.Args))
	list("Env", cs.Env)
	list("Mounts", mapSlice(cs.Mounts, MountString))
	if p := s.TaskTemplate.Placement; p != nil {
		list("Constraints", p.Constraints)
	}
	if r := s.TaskTemplate.Resources; r != nil {
		if l := r.Limits; l != nil {
			one("Limits.CPU", cpus(l.NanoCPUs))
			one("Limits.Memory", humanBytes(l.MemoryBytes))
			if l.Pids != 0 {
				one("Limits.Pids", strconv.FormatInt(l.Pids, 10))
			}
		}
		if rv := r.Reservations; rv != nil {
			one("Reservations.CPU", cpus(rv.NanoCPUs))
			one("Reservations.Memory", humanBytes(rv.MemoryBytes))
		}
	}
	if m := s.Mode.Replicated; m != nil {
		n := uint64(1)
		if m.Replicas != nil {
			n = *m.Replicas
		}
		one("Replicas", strconv.FormatUint(n, 10))
	}
	if e := s.EndpointSpec; e != nil {
		list("Ports", mapSlice(e.Ports, PortString))
	}
	list("Labels", mapStrings(s.Labels))
	list("ContainerLabels", mapStrings(cs.Labels))
	if cs.StopGracePeriod != nil {
		one("StopGracePeriod", cs.StopGracePeriod.String())
	}
	nets := append(append([]swarm.NetworkAttachmentConfig{}, s.TaskTemplate.Networks...), s.Networks...) //nolint:staticcheck // s.Networks is deprecated but may be set
	list("Networks", mapSlice(nets, networkString))
	list("Secrets", mapSlice(cs.Secrets, secretString))
	list("Configs", mapSlice(cs.Configs, configString))
	fs = append(fs, walk(reflect.ValueOf(s), "")...)
	return fs
}

// walk renders every field not in known, by reflection: structs recurse,
// maps and slices of structs become sets, durations print as durations and
// zero values are left out (they read as "unset").
func walk(v reflect.Value, path string) []field {
	if known[path] {
		return nil
	}
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Type() == reflect.TypeOf(time.Duration(0)) {
		if v.Int() == 0 {
			return nil
		}
		return []field{{name: displayName(path), values: []string{time.Duration(v.Int()).String()}}}
	}
	switch v.Kind() {
	case reflect.Struct:
		var out []field
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			p := sf.Name
			if path != "" {
				p = path + "." + sf.Name
			}
			out = append(out, walk(v.Field(i), p)...)
		}
		return out
	case reflect.Map:
		if v.Len() == 0 {
			return nil
		}
		var vals []string
		iter := v.MapRange()
		for iter.Next() {
			vals = append(vals, fmt.Sprintf("%v=%s", iter.Key().Interface(), scalar(iter.Value())))
		}
		sort.Strings(vals)
		return []field{{name: displayName(path), values: vals, set: true}}
	case reflect.Slice, reflect.Array:
		if v.Len() == 0 {
			return nil
		}
		vals := make([]string, v.Len())
		for i := range vals {
			vals[i] = scalar(v.Index(i))
		}
		elem := v.Type().Elem()
		for elem.Kind() == reflect.Pointer {
			elem = elem.Elem()
		}
		if elem.Kind() == reflect.Uint8 {
			return []field{{name: displayName(path), values: []string{fmt.Sprintf("%x", v.Bytes())}}}
		}
		return []field{{name: displayName(path), values: vals, set: elem.Kind() == reflect.Struct || elem.Kind() == reflect.Map}}
	}
	if v.IsZero() {
		return nil
	}
	return []field{{name: displayName(path), values: []string{scalar(v)}}}
}

// scalar renders one value: compact JSON for structs and maps, else %v.
func scalar(v reflect.Value) string {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return "null"
		}
		v = v.Elem()
	}
	if v.Type() == reflect.TypeOf(time.Duration(0)) {
		return time.Duration(v.Int()).String()
	}
	switch v.Kind() {
	case reflect.Struct, reflect.Map, reflect.Slice:
		b, err := json.Marshal(v.Interface())
		if err == nil {
			return string(b)
		}
	}
	return fmt.Sprintf("%v", v.Interface())
}

// displayName shortens Go paths: the task template is implied.
func displayName(path string) string {
	path = strings.TrimPrefix(path, "TaskTemplate.")
	return strings.TrimPrefix(path, "Annotations.")
}

// MountString renders a mount in the syntax of --mount.
func MountString(m mount.Mount) string {
	parts := []string{"type=" + string(m.Type)}
	if m.Source != "" {
		parts = append(parts, "source="+m.Source)
	}
	parts = append(parts, "target="+m.Target)
	if m.ReadOnly {
		parts = append(parts, "readonly")
	}
	if m.Consistency != "" {
		parts = append(parts, "consistency="+string(m.Consistency))
	}
	if o := m.BindOptions; o != nil {
		if o.Propagation != "" {
			parts = append(parts, "bind-propagation="+string(o.Propagation))
		}
		if o.NonRecursive {
			parts = append(parts, "bind-recursive=disabled")
		}
		if o.CreateMountpoint {
			parts = append(parts, "bind-create-src")
		}
	}
	if o := m.VolumeOptions; o != nil {
		if o.NoCopy {
			parts = append(parts, "volume-nocopy")
		}
		if o.Subpath != "" {
			parts = append(parts, "volume-subpath="+o.Subpath)
		}
		if d := o.DriverConfig; d != nil {
			if d.Name != "" {
				parts = append(parts, "volume-driver="+d.Name)
			}
			for _, kv := range mapStrings(d.Options) {
				parts = append(parts, "volume-opt="+kv)
			}
		}
		for _, kv := range mapStrings(o.Labels) {
			parts = append(parts, "volume-label="+kv)
		}
	}
	if o := m.TmpfsOptions; o != nil {
		if o.SizeBytes != 0 {
			parts = append(parts, "tmpfs-size="+strconv.FormatInt(o.SizeBytes, 10))
		}
		if o.Mode != 0 {
			parts = append(parts, fmt.Sprintf("tmpfs-mode=%o", o.Mode))
		}
	}
	return strings.Join(parts, ",")
}

// PortString renders a published port in the long syntax of --publish.
func PortString(p swarm.PortConfig) string {
	parts := []string{}
	if p.PublishedPort != 0 {
		parts = append(parts, fmt.Sprintf("published=%d", p.PublishedPort))
	}
	parts = append(parts, fmt.Sprintf("target=%d", p.TargetPort))
	proto := p.Protocol
	if proto == "" {
		proto = swarm.PortConfigProtocolTCP
	}
	mode := p.PublishMode
	if mode == "" {
		mode = swarm.PortConfigPublishModeIngress
	}
	parts = append(parts, "protocol="+string(proto), "mode="+string(mode))
	return strings.Join(parts, ",")
}

func networkString(n swarm.NetworkAttachmentConfig) string {
	s := n.Target
	for _, a := range n.Aliases {
		s += ",alias=" + a
	}
	for _, kv := range mapStrings(n.DriverOpts) {
		s += ",driver-opt=" + kv
	}
	return s
}

func secretString(s *swarm.SecretReference) string {
	if s == nil {
		return ""
	}
	target := ""
	if s.File != nil {
		target = s.File.Name
	}
	return "source=" + s.SecretName + ",target=" + target
}

func configString(c *swarm.ConfigReference) string {
	if c == nil {
		return ""
	}
	target := "(runtime)"
	if c.File != nil {
		target = c.File.Name
	}
	return "source=" + c.ConfigName + ",target=" + target
}

func cpus(nano int64) string {
	if nano == 0 {
		return ""
	}
	return strconv.FormatFloat(float64(nano)/1e9, 'f', -1, 64)
}

func humanBytes(n int64) string {
	if n == 0 {
		return ""
	}
	return units.BytesSize(float64(n))
}

func quoteArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$`") {
			a = strconv.Quote(a)
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

func mapStrings(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func mapSlice[T any](xs []T, f func(T) string) []string {
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		out = append(out, f(x))
	}
	return out
}

// minus returns the elements of a not in b (as many times as a has more).
func minus(a, b []string) []string {
	count := map[string]int{}
	for _, x := range b {
		count[x]++
	}
	var out []string
	for _, x := range a {
		if count[x] > 0 {
			count[x]--
			continue
		}
		out = append(out, x)
	}
	return out
}
