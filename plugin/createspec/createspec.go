// Package createspec holds the rules of `docker stateful create`: given the
// spec docker computed for `docker service create`, the image's declared
// VOLUMEs, the user's options and a few facts about the swarm, it returns the
// spec made safe for state (named volumes on every data path, a pin to the
// node holding them, a stop-first update order and a stop grace period a
// database can save in, labels recording all this) and a record of what it
// added and why.
//
// Nothing here talks to a daemon: the command looks the facts up, so the
// rules are unit-tested with plain values. Where the data paths are, where
// each lives and which node is which come from package stateful, shared with
// the update guard and the hook's hint; PlanMounts and PlanPin are the rules
// of create itself.
package createspec

import (
	"fmt"
	"strings"
	"time"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
	"github.com/docker-stateful/docker-stateful/plugin/version"
)

// OrderStopFirst is the only update and rollback order docker stateful
// accepts: start-first runs the new task next to the old one, two
// processes on one data directory.
const OrderStopFirst = swarm.UpdateOrderStopFirst

// defaultUpdateConfig is swarmkit's default (api/defaults), written out so
// that the spec records the stop-first order explicitly.
func defaultUpdateConfig() *swarm.UpdateConfig {
	return &swarm.UpdateConfig{
		Parallelism:   1,
		Monitor:       5 * time.Second,
		FailureAction: swarm.UpdateFailureActionPause,
		Order:         OrderStopFirst,
	}
}

// Default is a setting docker stateful chose because the user did not.
type Default struct {
	Setting string // e.g. "--stop-grace-period 30s"
	Why     string
}

// Result is the safe spec and the record of what was added to it.
type Result struct {
	Spec swarm.ServiceSpec
	// DataPaths are the paths that hold the service's state, and why.
	DataPaths []stateful.DataPath
	// Holders give the mount holding each data path.
	Holders []Holder
	// Mounts are the mounts docker stateful added.
	Mounts []mount.Mount
	Pin    PinPlan
	// Defaults are the settings chosen because the user did not.
	Defaults []Default
	// Labels are the labels docker stateful set.
	Labels map[string]string
	// Global is true for a global service (one task, one volume per node).
	Global bool
	// PerReplica is true when every replica gets its own volume.
	PerReplica bool
	// Warnings are printed, but do not stop the create.
	Warnings []string
	// Notes are facts the caller found out worth telling (e.g. that a
	// volume already exists and its data will be used).
	Notes []string
	// Replicas is the replica count (0 for a global service).
	Replicas uint64
}

// Apply makes spec safe for state. imageVolumes are the VOLUMEs the image
// declares; opts are the user's options; cl describes the swarm. The input
// spec is not modified. An error means nothing must be created: it is one
// line naming what to fix.
func Apply(spec swarm.ServiceSpec, imageVolumes []string, opts Options, cl stateful.Cluster) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if spec.Name == "" {
		return nil, fmt.Errorf("--name is required: docker stateful names the service's data volumes after it")
	}
	cs := spec.TaskTemplate.ContainerSpec
	if cs == nil {
		return nil, fmt.Errorf("docker stateful create supports container services only")
	}
	switch {
	case spec.Mode.ReplicatedJob != nil || spec.Mode.GlobalJob != nil:
		return nil, fmt.Errorf("--mode: jobs run to completion, docker stateful create is for long-running services: use docker service create")
	}
	if u := spec.UpdateConfig; u != nil && u.Order == swarm.UpdateOrderStartFirst {
		return nil, fmt.Errorf("--update-order start-first would run the new task next to the old one on the same data: docker stateful keeps stop-first")
	}
	if r := spec.RollbackConfig; r != nil && r.Order == swarm.UpdateOrderStartFirst {
		return nil, fmt.Errorf("--rollback-order start-first would run the new task next to the old one on the same data: docker stateful keeps stop-first")
	}

	// The paths the labels, image, known-images table and --data name; a
	// volume the user mounts is left as written, not made a data path.
	res := &Result{DataPaths: stateful.Declared(stateful.DataPathsOf(spec, imageVolumes, opts.Data)), Labels: map[string]string{}}
	if len(res.DataPaths) == 0 {
		return nil, fmt.Errorf("image %s declares no VOLUME and is not a known image: name the paths that hold its data with --data PATH", cs.Image)
	}
	replicas, replicated := stateful.Replicas(spec)
	res.Global = !replicated
	res.Replicas = replicas
	res.PerReplica = replicated && replicas > 1

	out := cloneSpec(spec)
	ocs := out.TaskTemplate.ContainerSpec

	paths := stateful.Paths(res.DataPaths)
	holders, added, err := PlanMounts(spec.Name, cs.Mounts, paths, res.PerReplica, opts.VolumeName)
	if err != nil {
		return nil, err
	}
	res.Holders, res.Mounts = holders, added
	ocs.Mounts = append(ocs.Mounts, added...)

	cwarn, err := checkClusterVolumes(holders, cl)
	if err != nil {
		return nil, err
	}
	res.Warnings = append(res.Warnings, cwarn...)
	pin, err := PlanPin(stateful.Constraints(spec), holders, res.Global, opts, cl)
	if err != nil {
		return nil, err
	}
	res.Pin = pin
	if pin.Warning != "" {
		res.Warnings = append(res.Warnings, pin.Warning)
	}
	if pin.Added {
		if out.TaskTemplate.Placement == nil {
			out.TaskTemplate.Placement = &swarm.Placement{}
		}
		out.TaskTemplate.Placement.Constraints = append(out.TaskTemplate.Placement.Constraints, pin.Constraint)
	}

	if pin.Constraint != "" && res.PerReplica {
		if err := checkSharedNode(spec, replicas); err != nil {
			return nil, err
		}
	}

	if ocs.StopGracePeriod == nil {
		d := stateful.CreateStopGracePeriod
		ocs.StopGracePeriod = &d
		res.Defaults = append(res.Defaults, Default{
			Setting: "--stop-grace-period " + d.String(),
			Why:     "time to save the data on SIGTERM (docker's default is 10s)",
		})
	}
	if out.UpdateConfig == nil {
		out.UpdateConfig = defaultUpdateConfig()
		res.Defaults = append(res.Defaults, Default{
			Setting: "--update-order " + OrderStopFirst,
			Why:     "the old task stops before the new one starts on the same data",
		})
	}

	res.Labels[stateful.LabelDataPaths] = strings.Join(paths, ",")
	vols := map[string]string{}
	for _, h := range holders {
		vols[h.Path] = h.Mount.Source
	}
	res.Labels[stateful.LabelVolumes] = stateful.FormatVolumes(vols)
	res.Labels[stateful.LabelPin] = ""
	if pin.Node != nil {
		res.Labels[stateful.LabelPin] = pin.Node.ID
	}
	res.Labels[stateful.LabelVersion] = version.Version
	for k, v := range res.Labels {
		out.Labels[k] = v
	}

	res.Spec = out
	return res, nil
}

// checkSharedNode refuses what keeps the replicas of a service pinned to
// one node from all starting there: one host-mode published port, or a
// --replicas-max-per-node below the replica count.
func checkSharedNode(spec swarm.ServiceSpec, replicas uint64) error {
	if ep := spec.EndpointSpec; ep != nil {
		for _, p := range ep.Ports {
			if p.PublishMode == swarm.PortConfigPublishModeHost && p.PublishedPort != 0 {
				return fmt.Errorf("--replicas %d are pinned to one node, where only one task can publish host port %d: publish in ingress mode, or let each replica pick a port (no published=)", replicas, p.PublishedPort)
			}
		}
	}
	if pl := spec.TaskTemplate.Placement; pl != nil && pl.MaxReplicas != 0 && pl.MaxReplicas < replicas {
		return fmt.Errorf("--replicas-max-per-node %d with --replicas %d pinned to one node: only %d of them could start", pl.MaxReplicas, replicas, pl.MaxReplicas)
	}
	return nil
}

// cloneSpec copies the parts of spec that Apply changes, so that the
// caller's spec is left as it was.
func cloneSpec(spec swarm.ServiceSpec) swarm.ServiceSpec {
	out := spec
	out.Labels = make(map[string]string, len(spec.Labels)+4)
	for k, v := range spec.Labels {
		out.Labels[k] = v
	}
	cs := *spec.TaskTemplate.ContainerSpec
	cs.Mounts = append([]mount.Mount(nil), cs.Mounts...)
	out.TaskTemplate.ContainerSpec = &cs
	if p := spec.TaskTemplate.Placement; p != nil {
		pc := *p
		pc.Constraints = append([]string(nil), p.Constraints...)
		out.TaskTemplate.Placement = &pc
	}
	if u := spec.UpdateConfig; u != nil {
		uc := *u
		out.UpdateConfig = &uc
	}
	return out
}
