package inventory

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types/swarm"
)

// Volume is a data volume a removed service leaves on a node.
type Volume struct {
	Name     string `json:"name"`
	Path     string `json:"path"`
	NodeID   string `json:"node_id"`
	Hostname string `json:"hostname"`
}

// Removal is what rm does for one service: the volumes it keeps (or
// removes) and the create that brings the service back on them.
type Removal struct {
	Service swarm.Service
	Volumes []Volume
	Create  string
	Warning string // why the create may not bring every volume back
	// Prune says which kept volumes a plain docker volume prune -f deletes.
	Prune []string
}

var slotTemplate = regexp.MustCompile(`\{\{\s*\.Task\.Slot\s*\}\}`)

// PlanRemoval finds the named local volumes holding svc's data, the node of
// each (the task's node, else the pinned node), and the create command.
func (s *Swarm) PlanRemoval(svc swarm.Service) Removal {
	r := Removal{Service: svc}
	slotNode := map[int]string{}
	for _, t := range s.Tasks[svc.ID] { // newest first: keep the newest per slot
		if _, ok := slotNode[t.Slot]; !ok && t.NodeID != "" {
			slotNode[t.Slot] = t.NodeID
		}
	}
	pinned := ""
	for _, p := range s.Pinned(svc) {
		if p.ID != "" {
			pinned = p.ID
		}
	}
	n, _ := replicasOf(svc.Spec)
	var kept []DataPath
	for _, d := range s.DataPaths(svc) {
		if d.Kind != KindNamedVolume && d.Kind != KindPerSlot {
			continue
		}
		kept = append(kept, d)
		if d.Kind == KindNamedVolume {
			node := pinned
			if node == "" {
				for _, id := range slotNode {
					node = id
				}
			}
			r.Volumes = append(r.Volumes, Volume{Name: d.Source, Path: d.Path, NodeID: node, Hostname: s.nodeName(node)})
			continue
		}
		for slot := 1; slot <= int(max(n, 1)); slot++ {
			node := slotNode[slot]
			if node == "" {
				node = pinned
			}
			name := slotTemplate.ReplaceAllString(d.Source, fmt.Sprint(slot))
			r.Volumes = append(r.Volumes, Volume{Name: name, Path: d.Path, NodeID: node, Hostname: s.nodeName(node)})
		}
	}
	pin := pinned
	nodes := map[string]bool{}
	for _, v := range r.Volumes {
		if v.NodeID != "" {
			nodes[v.NodeID] = true
		}
	}
	if pin == "" && len(nodes) == 1 {
		for id := range nodes {
			pin = id
		}
	}
	if pin == "" && len(nodes) > 1 {
		pin = "--no-pin"
		r.Warning = "its volumes are on several nodes: no pin keeps each replica on its own volume's node, so a replica may start on another node with an empty volume"
	}
	r.Create = createCommand(svc.Spec, kept, pin)
	r.Prune = r.PruneWarnings(s.EngineVersion)
	return r
}

// createCommand is the docker stateful create that brings the service back
// on its volumes: name, pin, replicas, the data volumes (--volume-name for
// one volume named as create names it, else --mount), published ports, image
// and arguments. Other settings (env, secrets, networks, limits) are not
// repeated.
func createCommand(spec swarm.ServiceSpec, kept []DataPath, pin string) string {
	args := []string{"docker stateful create", "--name", spec.Name}
	switch pin {
	case "":
	case "--no-pin":
		args = append(args, pin)
	default:
		args = append(args, "--pin", pin)
	}
	if n, ok := replicasOf(spec); ok && n != 1 {
		args = append(args, "--replicas", fmt.Sprint(n))
	}
	n, _ := replicasOf(spec)
	if base, ok := strings.CutSuffix(slotTemplate.ReplaceAllString(firstSource(kept), "{{.Task.Slot}}"), "-{{.Task.Slot}}"); len(kept) == 1 && ok && n > 1 {
		args = append(args, "--volume-name", base)
	} else if len(kept) == 1 && kept[0].Kind == KindNamedVolume && n <= 1 {
		args = append(args, "--volume-name", kept[0].Source)
	} else {
		var mounts []string
		for _, d := range kept {
			mounts = append(mounts, fmt.Sprintf("type=volume,source=%s,target=%s", d.Source, d.Path))
		}
		sort.Strings(mounts)
		for _, m := range mounts {
			args = append(args, "--mount", m)
		}
	}
	if ep := spec.EndpointSpec; ep != nil {
		for _, p := range ep.Ports {
			pub := fmt.Sprintf("published=%d,target=%d", p.PublishedPort, p.TargetPort)
			if p.PublishMode != "" {
				pub += ",mode=" + string(p.PublishMode)
			}
			if p.Protocol != "" && p.Protocol != swarm.PortConfigProtocolTCP {
				pub += ",protocol=" + string(p.Protocol)
			}
			args = append(args, "-p", pub)
		}
	}
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
		args = append(args, shortImage(cs.Image))
		args = append(args, cs.Args...)
	}
	for i, a := range args[1:] {
		if strings.ContainsAny(a, " {}'\"$") {
			args[i+1] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(args, " ")
}

// RemoveAPI is what rm uses of the manager's Docker API.
type RemoveAPI interface {
	ServiceRemove(ctx context.Context, serviceID string) error
}

// VolumeRemover is a node's engine, which removes that node's volumes.
type VolumeRemover interface {
	VolumeRemove(ctx context.Context, volumeID string, force bool) error
}

// Remove removes the services, then (withVolumes) their volumes on the nodes
// whose engines it has (by node ID), waiting up to wait for the tasks'
// containers to let go of them. It reports on out what it kept or removed,
// and on which node, and which volumes remain where; it returns the first
// error.
func Remove(ctx context.Context, api RemoveAPI, engines map[string]VolumeRemover, plans []Removal, withVolumes bool, wait time.Duration, out io.Writer) error {
	var firstErr error
	for _, r := range plans {
		if err := api.ServiceRemove(ctx, r.Service.ID); err != nil {
			fmt.Fprintf(out, "%s: not removed: %v\n", r.Service.Spec.Name, err)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		fmt.Fprintf(out, "%s: removed\n", r.Service.Spec.Name)
		if !withVolumes {
			for _, v := range r.Volumes {
				fmt.Fprintf(out, "  kept volume %s (%s) on node %s\n", v.Name, v.Path, v.Hostname)
			}
			if len(r.Volumes) > 0 {
				fmt.Fprintf(out, "  bring it back on its data: %s\n", r.Create)
			}
			if r.Warning != "" {
				fmt.Fprintf(out, "  warning: %s\n", r.Warning)
			}
			for _, w := range r.Prune {
				fmt.Fprintf(out, "  warning: %s\n", w)
			}
		}
	}
	if !withVolumes {
		return firstErr
	}
	for _, r := range plans {
		for _, v := range r.Volumes {
			eng, ok := engines[v.NodeID]
			if !ok {
				fmt.Fprintf(out, "  volume %s remains on node %s: the CLI reaches no engine there (--node-host with that node's docker host, or docker -H <node %s> volume rm %s)\n", v.Name, v.Hostname, v.Hostname, v.Name)
				continue
			}
			if err := removeVolume(ctx, eng, v.Name, wait); err != nil {
				fmt.Fprintf(out, "  volume %s on node %s not removed: %v\n", v.Name, v.Hostname, err)
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			fmt.Fprintf(out, "  removed volume %s on node %s\n", v.Name, v.Hostname)
		}
	}
	return firstErr
}

// removeVolume retries while the removed task's container still holds the
// volume (swarm removes containers after the service, asynchronously).
func removeVolume(ctx context.Context, api VolumeRemover, name string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := api.VolumeRemove(ctx, name, false)
		if err == nil || !strings.Contains(err.Error(), "in use") || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func firstSource(ds []DataPath) string {
	if len(ds) == 0 {
		return ""
	}
	return ds[0].Source
}
