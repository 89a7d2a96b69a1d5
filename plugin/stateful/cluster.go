package stateful

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/volume"
)

// CSIVolume is what the rules need to know about a cluster (CSI) volume
// (Docker >= 23): how many tasks may write it and where its data is.
type CSIVolume struct {
	Name   string
	Driver string
	// Scope is "single" (one node at a time) or "multi"; Sharing is "none",
	// "readonly", "onewriter" or "all" (docker volume create --scope/--sharing).
	Scope, Sharing string
	// Block is set for --type block: a raw device, not a directory.
	Block bool
	// Topology is where the volume is accessible: the driver's answer once it
	// is created, else what --topology-required asked for.
	Topology []map[string]string
}

// CSIVolumeFrom reads a volume as the API returns it (false when it is not
// a cluster volume).
func CSIVolumeFrom(v volume.Volume) (CSIVolume, bool) {
	cv := v.ClusterVolume
	if cv == nil {
		return CSIVolume{}, false
	}
	out := CSIVolume{
		Name:    v.Name,
		Driver:  v.Driver,
		Scope:   string(cv.Spec.AccessMode.Scope),
		Sharing: string(cv.Spec.AccessMode.Sharing),
		Block:   cv.Spec.AccessMode.BlockVolume != nil,
	}
	var tops []volume.Topology
	if cv.Info != nil && len(cv.Info.AccessibleTopology) > 0 {
		tops = cv.Info.AccessibleTopology
	} else if ar := cv.Spec.AccessibilityRequirements; ar != nil {
		tops = ar.Requisite
	}
	for _, t := range tops {
		if len(t.Segments) > 0 {
			out.Topology = append(out.Topology, t.Segments)
		}
	}
	return out, true
}

// Refusal says why the volume cannot hold a database's data directory: a
// block device, read-only sharing, or sharing "all", which lets every task
// that mounts it write at once ("" when it can).
func (v CSIVolume) Refusal() string {
	switch {
	case v.Block:
		return fmt.Sprintf("cluster volume %s is a block volume (--type block): it cannot hold a data directory; create it with --type mount", v.Name)
	case v.Sharing == "readonly":
		return fmt.Sprintf("cluster volume %s is read-only (--sharing readonly): the service could not write its data; create it with --sharing none or onewriter", v.Name)
	case v.Sharing == "all":
		return fmt.Sprintf("cluster volume %s has --sharing all: two tasks (an update's new task while the old one still runs, a second replica) could write one data directory at once and corrupt it; create it with --sharing none or onewriter", v.Name)
	}
	return ""
}

// Warning says why the volume may still see two writers although one task
// writes at a time ("" when it may not): with scope multi, swarm can publish
// it on a new node while the old node, unreachable, still runs the old task.
func (v CSIVolume) Warning() string {
	if v.Scope == "multi" && v.Refusal() == "" {
		return fmt.Sprintf("cluster volume %s has --scope multi: when a node stops answering, swarm may start the task on another node while the old container still writes the data; --scope single keeps it on one node at a time", v.Name)
	}
	return ""
}

// HomeNode returns the one node the volume's topology names (a segment
// whose value is a node's hostname or ID, as node-local CSI drivers write
// it): the volume's data is there, and the task must run there. False when
// the topology names no node, or several (storage many nodes reach).
//
// Swarm itself does not place tasks by a volume's topology: up to Docker 28
// the nodes do not report their CSI topology (swarmkit's NodeGetInfo keeps
// only the node ID), so every node passes the scheduler's topology filter.
func (v CSIVolume) HomeNode(cl Cluster) (Node, bool) {
	var found []Node
	for _, seg := range v.Topology {
		for _, val := range seg {
			for _, n := range cl.Nodes {
				if (val == n.Hostname || val == n.ID) && !containsNode(found, n) {
					found = append(found, n)
				}
			}
		}
	}
	if len(found) == 1 && len(v.Topology) == 1 {
		return found[0], true
	}
	return Node{}, false
}

// TopologyString is the volume's topology for messages ("node=n2").
func (v CSIVolume) TopologyString() string {
	var parts []string
	for _, seg := range v.Topology {
		keys := make([]string, 0, len(seg))
		for k := range seg {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var kv []string
		for _, k := range keys {
			kv = append(kv, k+"="+seg[k])
		}
		parts = append(parts, strings.Join(kv, ","))
	}
	return strings.Join(parts, " or ")
}

func containsNode(ns []Node, n Node) bool {
	for _, x := range ns {
		if x.ID == n.ID {
			return true
		}
	}
	return false
}

// ClusterMounts returns the cluster volume mounts of specs.
func ClusterMounts(specs ...swarm.ServiceSpec) []mount.Mount {
	var out []mount.Mount
	for _, s := range specs {
		for _, m := range Mounts(s) {
			if m.Type == mount.TypeCluster && m.Source != "" {
				out = append(out, m)
			}
		}
	}
	return out
}

// VolumeInspector is the part of the API client that reads a volume.
type VolumeInspector interface {
	VolumeInspect(ctx context.Context, volumeID string) (volume.Volume, error)
}

// LookupClusterVolumes reads the cluster volumes that specs mount, by name
// (a manager answers for cluster volumes). Volumes it cannot read (a group:
// source, not there yet, a daemon older than 23) are left out: the rules then
// know only the mount.
func LookupClusterVolumes(ctx context.Context, api VolumeInspector, specs ...swarm.ServiceSpec) map[string]CSIVolume {
	out := map[string]CSIVolume{}
	for _, m := range ClusterMounts(specs...) {
		if _, done := out[m.Source]; done || strings.HasPrefix(m.Source, "group:") {
			continue
		}
		v, err := api.VolumeInspect(ctx, m.Source)
		if err != nil {
			continue
		}
		if cv, ok := CSIVolumeFrom(v); ok {
			out[m.Source] = cv
		}
	}
	return out
}
