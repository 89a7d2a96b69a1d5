package commands

import (
	"context"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
)

// fakeAPI is the one fake Docker API of the command tests, as docker/cli's
// fakeClient: each test sets the calls it expects; any other call panics
// (the embedded nil client.APIClient), so a test sees what a command asks.
type fakeAPI struct {
	client.APIClient
	infoFunc           func() (system.Info, error)
	serviceListFunc    func() ([]swarm.Service, error)
	serviceInspectFunc func(id string) (swarm.Service, error)
	serviceCreateFunc  func(spec swarm.ServiceSpec) (swarm.ServiceCreateResponse, error)
	serviceUpdateFunc  func(id string, v swarm.Version, spec swarm.ServiceSpec, o swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error)
	taskListFunc       func(swarm.TaskListOptions) ([]swarm.Task, error)
	taskInspectFunc    func(id string) (swarm.Task, error)
	nodeListFunc       func() ([]swarm.Node, error)
	imageInspectFunc   func(ref string) (image.InspectResponse, error)
	volumeInspectFunc  func(name string) (volume.Volume, error)
}

// What docker/cli asks of every client when it starts.
func (f *fakeAPI) ClientVersion() string { return "1.41" }
func (f *fakeAPI) Ping(context.Context) (types.Ping, error) {
	return types.Ping{APIVersion: "1.41"}, nil
}
func (f *fakeAPI) NegotiateAPIVersionPing(types.Ping) {}

func (f *fakeAPI) Info(context.Context) (system.Info, error) { return f.infoFunc() }

func (f *fakeAPI) ServiceList(context.Context, swarm.ServiceListOptions) ([]swarm.Service, error) {
	return f.serviceListFunc()
}

func (f *fakeAPI) ServiceInspectWithRaw(_ context.Context, id string, _ swarm.ServiceInspectOptions) (swarm.Service, []byte, error) {
	s, err := f.serviceInspectFunc(id)
	return s, nil, err
}

func (f *fakeAPI) ServiceCreate(_ context.Context, spec swarm.ServiceSpec, _ swarm.ServiceCreateOptions) (swarm.ServiceCreateResponse, error) {
	return f.serviceCreateFunc(spec)
}

func (f *fakeAPI) ServiceUpdate(_ context.Context, id string, v swarm.Version, spec swarm.ServiceSpec, o swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error) {
	return f.serviceUpdateFunc(id, v, spec, o)
}

func (f *fakeAPI) TaskList(_ context.Context, o swarm.TaskListOptions) ([]swarm.Task, error) {
	return f.taskListFunc(o)
}

func (f *fakeAPI) TaskInspectWithRaw(_ context.Context, id string) (swarm.Task, []byte, error) {
	t, err := f.taskInspectFunc(id)
	return t, nil, err
}

func (f *fakeAPI) NodeList(context.Context, swarm.NodeListOptions) ([]swarm.Node, error) {
	return f.nodeListFunc()
}

func (f *fakeAPI) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	return f.imageInspectFunc(ref)
}

func (f *fakeAPI) VolumeInspect(_ context.Context, name string) (volume.Volume, error) {
	return f.volumeInspectFunc(name)
}
