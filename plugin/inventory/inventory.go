// Package inventory answers `docker stateful ls`, `check` and `status`: where
// every service's data lives, what puts it at risk, and why a task does not
// run. It reads the swarm with one service list, one node list and one task
// list (plus one image look-up per distinct image), never one call per
// service, so it stays quick on a swarm of hundreds of services.
package inventory

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// API is the part of the Docker API inventory reads.
type API interface {
	ServiceList(ctx context.Context, options swarm.ServiceListOptions) ([]swarm.Service, error)
	NodeList(ctx context.Context, options swarm.NodeListOptions) ([]swarm.Node, error)
	TaskList(ctx context.Context, options swarm.TaskListOptions) ([]swarm.Task, error)
}

// ImageVolumes returns the VOLUMEs an image declares (false when the image
// cannot be inspected).
type ImageVolumes func(ctx context.Context, image string) ([]string, bool)

// SnapshotInfo is the newest snapshot docker stateful took of a service.
type SnapshotInfo struct {
	ID        string    `json:"id"`
	Keys      int64     `json:"keys"`
	CreatedAt time.Time `json:"created_at"`
}

// Swarm is what one read of the swarm found.
type Swarm struct {
	Services     []swarm.Service
	Nodes        map[string]swarm.Node
	Tasks        map[string][]swarm.Task // by service ID, newest first
	ImageVolumes map[string][]string     // by image reference, only for inspected images
	Snapshots    map[string]SnapshotInfo // by service name
	PGCuts       []PGCut                 // interrupted PostgreSQL cuts (pgreadonly.go; probe.PGReadOnlyCuts)
	// ClusterVolumes are the cluster (CSI) volumes the services mount, by
	// name, when the API can inspect volumes.
	ClusterVolumes map[string]stateful.CSIVolume
}

// Read lists the services (filtered by the daemon with serviceFilters),
// the nodes and the tasks, once each, and looks up each distinct image.
func Read(ctx context.Context, api API, imageVolumes ImageVolumes, serviceFilters filters.Args) (*Swarm, error) {
	var (
		wg               sync.WaitGroup
		services         []swarm.Service
		nodes            []swarm.Node
		tasks            []swarm.Task
		errS, errN, errT error
	)
	wg.Add(3)
	go func() {
		defer wg.Done()
		services, errS = api.ServiceList(ctx, swarm.ServiceListOptions{Filters: serviceFilters})
	}()
	go func() { defer wg.Done(); nodes, errN = api.NodeList(ctx, swarm.NodeListOptions{}) }()
	go func() { defer wg.Done(); tasks, errT = api.TaskList(ctx, swarm.TaskListOptions{}) }()
	wg.Wait()
	for _, err := range []error{errS, errN, errT} {
		if err != nil {
			return nil, err
		}
	}
	s := &Swarm{
		Services:     services,
		Nodes:        map[string]swarm.Node{},
		Tasks:        map[string][]swarm.Task{},
		ImageVolumes: map[string][]string{},
	}
	sort.Slice(s.Services, func(i, j int) bool { return s.Services[i].Spec.Name < s.Services[j].Spec.Name })
	for _, n := range nodes {
		s.Nodes[n.ID] = n
	}
	for _, t := range tasks {
		s.Tasks[t.ServiceID] = append(s.Tasks[t.ServiceID], t)
	}
	for id := range s.Tasks {
		ts := s.Tasks[id]
		sort.SliceStable(ts, func(i, j int) bool { return ts[i].Meta.CreatedAt.After(ts[j].Meta.CreatedAt) })
	}
	if imageVolumes != nil {
		s.lookUpImages(ctx, imageVolumes)
	}
	if vi, ok := api.(stateful.VolumeInspector); ok {
		specs := make([]swarm.ServiceSpec, len(s.Services))
		for i, svc := range s.Services {
			specs[i] = svc.Spec
		}
		s.ClusterVolumes = stateful.LookupClusterVolumes(ctx, vi, specs...)
	}
	return s, nil
}

// lookUpImages inspects each distinct image once, four at a time.
func (s *Swarm) lookUpImages(ctx context.Context, imageVolumes ImageVolumes) {
	images := map[string]bool{}
	for _, svc := range s.Services {
		if cs := svc.Spec.TaskTemplate.ContainerSpec; cs != nil {
			images[cs.Image] = true
		}
	}
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, 4)
	)
	for img := range images {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if vols, ok := imageVolumes(ctx, img); ok {
				mu.Lock()
				s.ImageVolumes[img] = vols
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// DataPaths returns where each of the service's data paths lives.
func (s *Swarm) DataPaths(svc swarm.Service) []DataPath {
	img := image(svc.Spec)
	vols, inspected := s.ImageVolumes[img]
	return dataPathsOf(svc.Spec, vols, inspected)
}

// runningNodes are the nodes of the service's tasks that should be running.
func (s *Swarm) runningNodes(serviceID string) []string {
	var out []string
	for _, t := range s.Tasks[serviceID] {
		if t.DesiredState == swarm.TaskStateRunning && t.Status.State == swarm.TaskStateRunning && t.NodeID != "" {
			out = append(out, t.NodeID)
		}
	}
	return out
}

// running counts the service's running tasks.
func (s *Swarm) running(serviceID string) int { return len(s.runningNodes(serviceID)) }

// nodeName is a node's hostname, or its ID when unknown.
func (s *Swarm) nodeName(id string) string {
	if n, ok := s.Nodes[id]; ok && n.Description.Hostname != "" {
		return n.Description.Hostname
	}
	return id
}

// PinnedNode is the node a service is pinned to.
type PinnedNode struct {
	ID           string `json:"id"`
	Hostname     string `json:"hostname"`
	State        string `json:"state"`        // ready, down, unknown, … ("" when no such node)
	Availability string `json:"availability"` // active, pause, drain
	Constraint   string `json:"constraint"`
}

// Usable reports whether a task can be scheduled on the node.
func (p PinnedNode) Usable() bool {
	return p.State == string(swarm.NodeStateReady) && p.Availability == string(swarm.NodeAvailabilityActive)
}

func (p PinnedNode) String() string {
	if p.State == "" {
		return p.Constraint + " (no such node)"
	}
	return p.Hostname + " (" + titleCase(p.State) + ", " + titleCase(p.Availability) + ")"
}

// Pinned returns the nodes the service's constraints pin it to.
func (s *Swarm) Pinned(svc swarm.Service) []PinnedNode {
	var out []PinnedNode
	for _, p := range pinsOf(svc.Spec) {
		pn := PinnedNode{Constraint: p.Constraint}
		for _, n := range s.Nodes {
			if (p.Key == "node.id" && n.ID == p.Value) || (p.Key == "node.hostname" && n.Description.Hostname == p.Value) {
				pn.ID, pn.Hostname = n.ID, n.Description.Hostname
				pn.State, pn.Availability = string(n.Status.State), string(n.Spec.Availability)
				break
			}
		}
		out = append(out, pn)
	}
	return out
}

func image(spec swarm.ServiceSpec) string {
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
		return cs.Image
	}
	return ""
}

// shortImage drops the digest docker pins on the image.
func shortImage(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	return ref
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
