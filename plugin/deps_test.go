// Package plugin_test holds the dependency rules of docker-stateful's
// packages (issue 19), checked on the transitive import graph that
// `go list` reports: a rule broken by a new import fails here, in make lint.
package plugin_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/docker-stateful/docker-stateful/"

// dbClients are the database client libraries: only engine adapters link them.
var dbClients = []string{"github.com/redis/go-redis/", "github.com/jackc/pgx/", "github.com/go-sql-driver/mysql"}

// rulePackages judge specs and read the engine registry: they link no
// database client (nor any engine adapter).
var rulePackages = []string{
	"plugin/engine", "plugin/guard", "plugin/hint", "plugin/compose",
	"plugin/createspec", "plugin/stateful", "plugin/inventory",
	"plugin/guardfacts", "plugin/stackdeploy",
}

// adapters reach one engine each. Subpackages of plugin/engine are adapters
// too (but for the shared contract suite, enginetest).
var adapters = []string{"plugin/redisstate", "plugin/pgstate", "plugin/mysqlstate"}

// pendingAdapterEdges are adapter-to-adapter imports known today, each with
// the work that removes it; the test fails when one is gone, so that the
// list only ever shrinks.
var pendingAdapterEdges = map[[2]string]string{
	{"plugin/pgstate", "plugin/redisstate"}: "issue 19 item 1: Secret and Hex64 move to plugin/engine",
}

// graph is every package of the module with its transitive imports.
func graph(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "../...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	g := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && strings.HasPrefix(f[0], mod) {
			g[strings.TrimPrefix(f[0], mod)] = f[1:]
		}
	}
	if len(g) < 10 {
		t.Fatalf("go list found %d packages", len(g))
	}
	return g
}

func deps(t *testing.T, g map[string][]string, pkg string) []string {
	t.Helper()
	d, ok := g[pkg]
	if !ok {
		t.Fatalf("no package %s", pkg)
	}
	return d
}

func TestRulePackagesLinkNoDatabaseClient(t *testing.T) {
	g := graph(t)
	for _, p := range rulePackages {
		linked := map[string]bool{}
		for _, d := range deps(t, g, p) {
			for _, c := range dbClients {
				if strings.HasPrefix(d, c) && !linked[c] {
					linked[c] = true
					t.Errorf("%s links the database client %s (read the engine registry, plugin/engine, instead)", p, d)
				}
			}
			if isAdapter(g, strings.TrimPrefix(d, mod)) && strings.HasPrefix(d, mod) {
				t.Errorf("%s imports the engine adapter %s", p, d)
			}
		}
	}
}

func isAdapter(g map[string][]string, p string) bool {
	if slices.Contains(adapters, p) {
		return true
	}
	rest, ok := strings.CutPrefix(p, "plugin/engine/")
	return ok && rest != "" && !strings.HasPrefix(rest, "enginetest")
}

func TestAdaptersImportNoOtherAdapter(t *testing.T) {
	g := graph(t)
	seen := map[[2]string]bool{}
	for p := range g {
		if !isAdapter(g, p) {
			continue
		}
		for _, d := range g[p] {
			d, ok := strings.CutPrefix(d, mod)
			if !ok || d == p || !isAdapter(g, d) || strings.HasPrefix(p, d+"/") || strings.HasPrefix(d, p+"/") {
				continue
			}
			edge := [2]string{p, d}
			if _, pending := pendingAdapterEdges[edge]; pending {
				seen[edge] = true
				continue
			}
			t.Errorf("engine adapter %s imports the adapter %s (share through plugin/engine)", p, d)
		}
	}
	for edge, why := range pendingAdapterEdges {
		if !seen[edge] {
			t.Errorf("%s no longer imports %s (%s): remove it from pendingAdapterEdges", edge[0], edge[1], why)
		}
	}
}

// TestInventoryWithoutVerifyflow: ls and check read the swarm; what reaches
// an engine is plugin/inventory/probe.
func TestInventoryWithoutVerifyflow(t *testing.T) {
	g := graph(t)
	if slices.Contains(deps(t, g, "plugin/inventory"), mod+"plugin/verifyflow") {
		t.Error("plugin/inventory imports plugin/verifyflow (probes go in plugin/inventory/probe)")
	}
}

// cmdReadsNoSwarm are the files of cmd/commands whose policy moved to a
// plugin package (issue 19 item 3): they hold options, flags and one call,
// and read no swarm state themselves.
var cmdReadsNoSwarm = map[string]string{
	"hooks.go":  "plugin/hint.Reply",
	"stack.go":  "plugin/stackdeploy.Deploy (its judge: plugin/guardfacts.StackJudge)",
	"update.go": "plugin/guardfacts.Update",
	"create.go": "plugin/guardfacts.Create",
	"ls.go":     "plugin/inventory and plugin/guardfacts",
	"check.go":  "plugin/inventory and plugin/guardfacts",
}

// factCalls are the Docker API's list and inspect methods, and the
// look-ups built on them: gathering facts for a rule is policy.
var factCalls = []string{
	"ServiceList", "TaskList", "NodeList", "NetworkList", "ServiceInspectWithRaw",
	"ImageInspect", "ImageInspectWithRaw", "VolumeInspect", "VolumeList", "Info",
	"LookupImageVolumes", "LookupClusterVolumes",
}

// TestCmdHoldsNoPolicy: those files call none of the Docker API's list or
// inspect methods, nor the look-ups built on them (the policy that needs
// them lives behind an interface in the plugin package named).
func TestCmdHoldsNoPolicy(t *testing.T) {
	fset := token.NewFileSet()
	for file, home := range cmdReadsNoSwarm {
		f, err := parser.ParseFile(fset, filepath.Join("..", "cmd", "commands", file), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok && slices.Contains(factCalls, sel.Sel.Name) {
					t.Errorf("cmd/commands/%s calls %s at %s: that policy belongs in %s", file, sel.Sel.Name, fset.Position(call.Pos()), home)
				}
			}
			return true
		})
	}
}

// cmdNeverImports are rule packages cmd/commands reaches only through the
// package that gathers their facts: a command that imports the guard is
// about to gather the guard's input itself (issue 19: updateGuardInput was
// spread over create, update, stack, hooks and ls).
var cmdNeverImports = map[string]string{
	"plugin/guard": "plugin/guardfacts (CheckUpdate, StackJudge) or plugin/hint",
}

func TestCmdImportsNoRulePackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, "../cmd/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports := strings.Fields(string(out))
	if len(imports) < 10 {
		t.Fatalf("go list found %d imports in cmd/", len(imports))
	}
	for pkg, instead := range cmdNeverImports {
		if slices.Contains(imports, mod+pkg) {
			t.Errorf("a package of cmd/ imports %s: reach it through %s", pkg, instead)
		}
	}
}
