package commands

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/docker/docker/api/types/swarm"
	"github.com/pmezard/go-difflib/difflib"

	"github.com/docker-stateful/docker-stateful/plugin/compose"
	"github.com/docker-stateful/docker-stateful/plugin/exitcode"
	"github.com/docker-stateful/docker-stateful/plugin/guardfacts"
	"github.com/docker-stateful/docker-stateful/plugin/inventory"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// checkComposeResult is what check -c --fix --format json prints.
type checkComposeResult struct {
	File  string           `json:"file"`
	Fixes []compose.Fix    `json:"fixes"`
	Check inventory.Report `json:"check"` // of the file as fixed
}

// runCheckCompose is check -c FILE...: the services of the compose files,
// as docker stack deploy would create them, judged with check's rules; with
// --fix, the file rewritten so that a plain docker stack deploy keeps the data.
func runCheckCompose(ctx context.Context, dockerCLI command.Cli, o *checkOptions) error {
	services, err := composeServices(dockerCLI, o.composeFiles)
	if err != nil {
		return exitcode.Undecidable(fmt.Errorf("could not read %v: %w", o.composeFiles, err))
	}
	sw := composeSwarm(ctx, dockerCLI, services)
	rep := compose.Check(sw, services)
	if !o.fix {
		if err := writeFormatted(dockerCLI.Out(), o.format, rep, rep.WriteText); err != nil {
			return exitcode.Undecidable(err)
		}
		return checkVerdict(rep)
	}

	file := o.composeFiles[0]
	data, err := os.ReadFile(file)
	if err != nil {
		return exitcode.Undecidable(err)
	}
	pin, err := composePinNode(ctx, dockerCLI, sw, o.pin)
	if err != nil {
		return err
	}
	fixes := compose.Plan(rep, services, pin)
	fixed, err := compose.Apply(data, fixes)
	if err != nil {
		return fmt.Errorf("--fix cannot edit %s: %w", file, err)
	}
	if o.dryRun {
		diff, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: difflib.SplitLines(string(data)), B: difflib.SplitLines(string(fixed)),
			FromFile: file, ToFile: file + " (fixed)", Context: 3,
		})
		if err != nil {
			return err
		}
		_, err = io.WriteString(dockerCLI.Out(), diff)
		return err
	}
	if err := writeFileAtomic(file, fixed); err != nil {
		return err
	}
	// What is left: the file as written, read again by docker's loader.
	if services, err = composeServices(dockerCLI, o.composeFiles); err != nil {
		return exitcode.Undecidable(fmt.Errorf("%s as fixed: %w", file, err))
	}
	res := checkComposeResult{File: file, Fixes: fixes, Check: compose.Check(sw, services)}
	if res.Fixes == nil {
		res.Fixes = []compose.Fix{}
	}
	err = writeFormatted(dockerCLI.Out(), o.format, res, func(w io.Writer) error {
		for _, fx := range res.Fixes {
			for _, c := range fx.Changes {
				fmt.Fprintf(w, "%s: fixed: %s\n", fx.Service, c)
			}
		}
		if len(res.Fixes) == 0 {
			fmt.Fprintf(w, "%s: nothing to fix\n", file)
		}
		return res.Check.WriteText(w)
	})
	if err != nil {
		return exitcode.Undecidable(err)
	}
	return checkVerdict(res.Check)
}

func checkVerdict(rep inventory.Report) error {
	if rep.Verdict == inventory.VerdictRisks {
		return cli.StatusError{StatusCode: exitcode.No} // the report said it
	}
	return nil
}

func composeServices(dockerCLI command.Cli, files []string) ([]compose.Service, error) {
	cfg, err := loadComposeFiles(dockerCLI, files)
	if err != nil {
		return nil, err
	}
	return compose.Services(cfg, dockerCLI.Client().ClientVersion())
}

// composeSwarm is what the daemon can tell about the swarm the file will be
// deployed on (its nodes, the images' VOLUMEs), best effort: without a
// daemon, check judges from the file and the well-known images alone.
func composeSwarm(ctx context.Context, dockerCLI command.Cli, services []compose.Service) *inventory.Swarm {
	sw := &inventory.Swarm{Nodes: map[string]swarm.Node{}, Tasks: map[string][]swarm.Task{}, ImageVolumes: map[string][]string{}}
	api := dockerCLI.Client()
	if nodes, err := api.NodeList(ctx, swarm.NodeListOptions{}); err == nil {
		for _, n := range nodes {
			sw.Nodes[n.ID] = n
		}
	}
	lookup := guardfacts.ImageVolumesOn(api)
	for _, s := range services {
		img := stateful.Image(s.Spec)
		if _, done := sw.ImageVolumes[img]; done {
			continue
		}
		if vols, ok := lookup(ctx, img); ok {
			sw.ImageVolumes[img] = vols
		}
	}
	specs := make([]swarm.ServiceSpec, len(services))
	for i, s := range services {
		specs[i] = s.Spec
	}
	sw.ClusterVolumes = stateful.LookupClusterVolumes(ctx, api, specs...)
	return sw
}

// composePinNode is the node --fix pins to: --pin (name, ID or unique
// prefix), else the node of the daemon the CLI talks to.
func composePinNode(ctx context.Context, dockerCLI command.Cli, sw *inventory.Swarm, ref string) (string, error) {
	var list []swarm.Node
	for _, n := range sw.Nodes {
		list = append(list, n)
	}
	nodes := stateful.NodesFrom(list)
	info, err := dockerCLI.Client().Info(ctx)
	self := ""
	if err == nil {
		self = info.Swarm.NodeID
	}
	if ref == "" {
		return self, nil
	}
	if len(nodes) == 0 {
		return ref, nil // no swarm to ask: taken as a node ID
	}
	n, err := stateful.Cluster{SelfNodeID: self, Nodes: nodes}.Resolve(ref)
	if err != nil {
		return "", fmt.Errorf("--pin %s: %w", ref, err)
	}
	return n.ID, nil
}

// writeFileAtomic replaces file with data (same mode), through a temporary
// file in its directory.
func writeFileAtomic(file string, data []byte) error {
	st, err := os.Stat(file)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
