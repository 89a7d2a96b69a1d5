// Package front is the thin `docker-stateful` binary docker execs: on every
// TAB docker runs the plugin twice (its metadata, then `__complete`), and the
// full plugin (docker/cli, swarmkit, protobuf, otel: ~34 MB) costs ~7 ms per
// exec before it does anything. The front, built from the standard library
// only, answers those hot requests itself — the metadata, the SERVICE
// argument of update/verify/snapshot, create's --pin — by asking the Docker
// API directly, and hands everything else (every command, any completion it
// does not answer simply, TLS, ssh://, any error) to the full binary by
// exec, with the same argv and environment, so behaviour is the full
// binary's. It also prints --help for the commands, from pages cmd/gendocs
// took from the full binary's cobra tree at build time (help_gen.go).
//
// Its answers are byte for byte those of the full binary's cobra
// `__complete` (cmd/commands/complete.go: completeServiceNames,
// completeNodeNames), both ordered and formatted by plugin/candidates;
// front_test.go checks that against a fake API.
package front

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/docker-stateful/docker-stateful/plugin/candidates"
	"github.com/docker-stateful/docker-stateful/plugin/meta"
)

// Run answers args (the plugin's os.Args[1:]) when it can. handled is false
// when the full binary must answer instead: then Run has written nothing.
func Run(args []string, getenv func(string) string, stdout, stderr io.Writer) (handled bool, status int) {
	if len(args) == 1 && args[0] == "docker-cli-plugin-metadata" {
		if err := meta.Write(stdout, meta.Plugin()); err != nil {
			return true, 1
		}
		return true, 0
	}
	if page, note, ok := helpRequest(args); ok {
		if width, ok := termWidth(); ok {
			_, _ = io.WriteString(stdout, note+page.Render(width))
			return true, 0
		}
	}
	req, ok := parseComplete(args, getenv)
	if !ok {
		return false, 0
	}
	ep, ok := resolveEndpoint(getenv)
	if !ok {
		return false, 0
	}
	var comps []string
	switch req.kind {
	case services:
		comps, ok = completeServices(ep, req.toComplete, getenv("DOCKER_COMPLETION_SHOW_SERVICE_IDS") == "yes")
	case nodes:
		comps, ok = completeNodes(ep, req.toComplete, getenv("DOCKER_COMPLETION_SHOW_NODE_IDS") == "yes")
	}
	if !ok {
		// Daemon unreachable, an error, an answer we do not read simply:
		// the full binary says what docker would.
		return false, 0
	}
	writeCompletions(stdout, stderr, comps, directiveNoFileComp|directiveKeepOrder, req.noDesc)
	return true, 0
}

type completionKind int

const (
	services completionKind = iota + 1
	nodes
)

type completeRequest struct {
	kind       completionKind
	toComplete string
	noDesc     bool
}

// serviceVerbs are the verbs whose first argument is a SERVICE completed by
// completeServiceNames.
var serviceVerbs = map[string]bool{"update": true, "verify": true, "snapshot": true, "adopt": true, "check": true, "rm": true, "status": true}

// parseComplete recognises the completion requests the front answers, in
// the exact forms docker sends them (docker-stateful __complete stateful
// <verb> <args...> <toComplete>), and only those with nothing before the word
// being completed that cobra would have to parse:
//
//	__complete stateful update|verify|snapshot|adopt|check|rm|status WORD    the SERVICE argument
//	__complete stateful create --pin WORD              --pin's node
//	__complete stateful create --pin=WORD
func parseComplete(args []string, getenv func(string) string) (completeRequest, bool) {
	var req completeRequest
	if len(args) < 4 || args[1] != "stateful" {
		return req, false
	}
	switch args[0] {
	case "__complete":
	case "__completeNoDesc":
		req.noDesc = true
	default:
		return req, false
	}
	if getenv("BASH_COMP_DEBUG_FILE") != "" {
		return req, false // cobra logs there: leave it to cobra
	}
	if !req.noDesc {
		// cobra: <ROOT>_COMPLETION_DESCRIPTIONS, else COBRA_COMPLETION_DESCRIPTIONS
		// (the root of the plugin's command tree is "docker").
		v := getenv("DOCKER_COMPLETION_DESCRIPTIONS")
		if v == "" {
			v = getenv("COBRA_COMPLETION_DESCRIPTIONS")
		}
		if b, err := strconv.ParseBool(v); err == nil {
			req.noDesc = !b
		}
	}
	verb, rest := args[2], args[3:]
	switch {
	case serviceVerbs[verb] && len(rest) == 1 && !strings.HasPrefix(rest[0], "-"):
		req.kind, req.toComplete = services, rest[0]
	case verb == "create" && len(rest) == 2 && rest[0] == "--pin" && !strings.HasPrefix(rest[1], "-"):
		req.kind, req.toComplete = nodes, rest[1]
	default:
		return req, false
	}
	return req, true
}

// cobra's ShellCompDirective values.
const (
	directiveError      = 1
	directiveNoSpace    = 2
	directiveNoFileComp = 4
	directiveKeepOrder  = 32
)

// writeCompletions prints what cobra's __complete prints: one completion a
// line (first line only, trimmed, without the description for noDesc), the
// directive, and cobra's note on stderr.
func writeCompletions(stdout, stderr io.Writer, comps []string, directive int, noDesc bool) {
	var b strings.Builder
	for _, c := range comps {
		if noDesc {
			c, _, _ = strings.Cut(c, "\t")
		}
		c, _, _ = strings.Cut(c, "\n")
		b.WriteString(strings.TrimSpace(c))
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, ":%d\n", directive)
	_, _ = io.WriteString(stdout, b.String())
	_, _ = fmt.Fprintf(stderr, "Completion ended with directive: %s\n", directiveString(directive))
}

func directiveString(d int) string {
	var names []string
	for _, n := range []struct {
		bit  int
		name string
	}{
		{directiveError, "ShellCompDirectiveError"},
		{directiveNoSpace, "ShellCompDirectiveNoSpace"},
		{directiveNoFileComp, "ShellCompDirectiveNoFileComp"},
		{8, "ShellCompDirectiveFilterFileExt"},
		{16, "ShellCompDirectiveFilterDirs"},
		{directiveKeepOrder, "ShellCompDirectiveKeepOrder"},
	} {
		if d&n.bit != 0 {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return "ShellCompDirectiveDefault"
	}
	return strings.Join(names, ", ")
}

// labelDataPaths is stateful.LabelDataPaths: a service carrying it is one
// docker stateful manages (stateful.IsManaged). front_test.go keeps them equal.
const labelDataPaths = "io.docker-stateful.data"

type apiService struct {
	ID   string
	Spec struct {
		Name         string
		Labels       map[string]string
		TaskTemplate struct {
			ContainerSpec *struct{ Image string }
		}
	}
}

// completeServices is completeServiceNames: the services docker stateful
// manages first, then the others, by name; IDs too when asked for or when
// the word can only be an ID.
func completeServices(ep endpoint, toComplete string, showIDs bool) ([]string, bool) {
	var list []apiService
	if !ep.getJSON("/services", &list) {
		return nil, false
	}
	items := make([]candidates.Item, len(list))
	for i, s := range list {
		_, managed := s.Spec.Labels[labelDataPaths]
		desc := "service"
		if cs := s.Spec.TaskTemplate.ContainerSpec; cs != nil {
			name, ok := repositoryName(cs.Image)
			if !ok {
				return nil, false
			}
			desc = name
		}
		if managed {
			desc = "stateful, " + desc
		}
		items[i] = candidates.Item{Name: s.Spec.Name, ID: s.ID, Desc: desc, First: managed}
	}
	return candidates.Lines(items, toComplete, showIDs), true
}

type apiNode struct {
	ID          string
	Description struct{ Hostname string }
	Spec        struct{ Role, Availability string }
	Status      struct{ State string }
}

// completeNodes is completeNodeNames: node hostnames, Ready and Active ones
// first; IDs too when asked for or when the word can only be an ID.
func completeNodes(ep endpoint, toComplete string, showIDs bool) ([]string, bool) {
	var list []apiNode
	if !ep.getJSON("/nodes", &list) {
		return nil, false
	}
	items := make([]candidates.Item, len(list))
	for i, n := range list {
		desc := n.Spec.Role + ", " + n.Status.State
		if n.Spec.Availability != "active" {
			desc += ", " + n.Spec.Availability
		}
		usable := n.Status.State == "ready" && n.Spec.Availability == "active"
		items[i] = candidates.Item{Name: n.Description.Hostname, ID: n.ID, Desc: desc, First: usable}
	}
	return candidates.Lines(items, toComplete, showIDs), true
}
