// Package serverversion gathers the facts of the guard's version rule
// (guard.Versions): which server a service runs now, asked of the server
// itself (INFO for Redis and Valkey, server_version for PostgreSQL), and
// which one a new image would run, from its configuration or tag. The guard
// is a rule package that talks to no server; this is the layer that does,
// best effort: whatever cannot be reached is read from the image instead.
package serverversion

import (
	"context"
	"net"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/engine"
	"github.com/docker-stateful/docker-stateful/plugin/guard"
	"github.com/docker-stateful/docker-stateful/plugin/locate"
	"github.com/docker-stateful/docker-stateful/plugin/pgstate"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// API is the part of the Docker API the gathering uses: where the service's
// server answers, and the images' configuration.
type API interface {
	locate.API
	stateful.ImageInspector
}

// Extra is Gather as one of the guard's injected facts (guardfacts.Extra): the
// versions of the running server and of the new image, in the guard's input.
func Extra(api API, opt Options) func(ctx context.Context, current swarm.Service, target swarm.ServiceSpec, in *guard.Input) {
	return func(ctx context.Context, current swarm.Service, target swarm.ServiceSpec, in *guard.Input) {
		in.Versions = Gather(ctx, api, current, target, opt)
	}
}

// Options say how to reach the service's server.
type Options struct {
	// Getenv looks up REDISCLI_AUTH and PGPASSWORD (os.Getenv when nil).
	Getenv func(string) string
	// Dial reaches Redis (through SSH for an ssh:// docker host); nil dials
	// directly.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Timeout bounds asking the server (DefaultTimeout when 0): the guard
	// runs before every update, and an unreachable server only means that
	// the version is read from the image.
	Timeout time.Duration
}

// DefaultTimeout bounds asking the server for its version.
const DefaultTimeout = 3 * time.Second

// Gather returns the server versions before and after the update of
// current to target; zero when the update keeps the image (no other server
// can start).
func Gather(ctx context.Context, api API, current swarm.Service, target swarm.ServiceSpec, opt Options) guard.Versions {
	curRef, newRef := stateful.Image(current.Spec), stateful.Image(target)
	if curRef == newRef {
		return guard.Versions{}
	}
	v := guard.Versions{
		Current: OfImage(ctx, api, curRef),
		New:     OfImage(ctx, api, newRef),
	}
	if v.Current.Product == "" && v.New.Product == "" {
		return v // no engine the guard knows
	}
	if s, ok := OfServer(ctx, api, current, opt); ok {
		v.Current = s
	}
	return v
}

// OfImage is the server image ref runs: its configuration's version
// variables when the image is on the daemon of api, else its tag.
func OfImage(ctx context.Context, api stateful.ImageInspector, ref string) engine.ServerVersion {
	if ref == "" {
		return engine.ServerVersion{}
	}
	var env []string
	for _, r := range lookupRefs(ref) {
		if img, err := api.ImageInspect(ctx, r); err == nil {
			if img.Config != nil {
				env = img.Config.Env
			}
			break
		}
	}
	return engine.ImageVersion(ref, env)
}

// lookupRefs is ref by its tag first (a digest pinned by the manager is
// often not in the local store), then as written.
func lookupRefs(ref string) []string {
	name, _, digested := strings.Cut(ref, "@")
	if !digested {
		return []string{ref}
	}
	if named, err := reference.ParseNormalizedNamed(ref); err == nil {
		name = reference.FamiliarName(named)
		if tagged, ok := named.(reference.Tagged); ok {
			name += ":" + tagged.Tag()
		}
	}
	return []string{name, ref}
}

// OfServer asks the service's running server what it is, at the port it
// publishes (as update --verify finds it), with the password of the
// environment. ok is false when it did not answer in time.
func OfServer(ctx context.Context, api locate.API, svc swarm.Service, opt Options) (engine.ServerVersion, bool) {
	k, _ := engine.Detect(svc)
	if k == nil {
		return engine.ServerVersion{}, false
	}
	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch k.Name {
	case engine.NameRedis:
		return redisVersion(ctx, api, svc, opt, timeout)
	case engine.NamePostgres:
		return postgresVersion(ctx, api, svc, opt, timeout)
	}
	return engine.ServerVersion{}, false
}

func redisVersion(ctx context.Context, api locate.API, svc swarm.Service, opt Options, timeout time.Duration) (engine.ServerVersion, bool) {
	ep, err := locate.Redis(ctx, api, svc, locate.DefaultRedisPort)
	if err != nil {
		return engine.ServerVersion{}, false
	}
	o := redisstate.Options{Addr: ep.Addr, Dialer: opt.Dial, DialTimeout: timeout, ReadTimeout: timeout}
	if err := o.LoadPassword(opt.Getenv, ""); err != nil {
		return engine.ServerVersion{}, false
	}
	c, err := redisstate.NewClient(o)
	if err != nil {
		return engine.ServerVersion{}, false
	}
	defer c.Close()
	si, err := c.ServerInfo(ctx)
	if err != nil {
		return engine.ServerVersion{}, false
	}
	product := engine.ProductRedis
	if strings.EqualFold(si.Server, engine.ProductValkey) {
		product = engine.ProductValkey
	}
	version := si.ServerVersion
	if version == "" {
		version = si.Version
	}
	v := engine.ServerVersionOf(product, version)
	return v, v.Known()
}

func postgresVersion(ctx context.Context, api locate.API, svc swarm.Service, opt Options, timeout time.Duration) (engine.ServerVersion, bool) {
	ep, err := locate.Server(ctx, api, svc, "PostgreSQL", 5432, "--pg-url")
	if err != nil {
		return engine.ServerVersion{}, false
	}
	host, port, err := net.SplitHostPort(ep.Addr)
	if err != nil {
		return engine.ServerVersion{}, false
	}
	o := pgstate.Options{Host: host, Port: port, User: "postgres", Database: "postgres", ConnectTimeout: timeout}
	if err := o.LoadPassword(opt.Getenv, ""); err != nil {
		return engine.ServerVersion{}, false
	}
	c, err := pgstate.NewClient(o)
	if err != nil {
		return engine.ServerVersion{}, false
	}
	si, err := c.ServerInfo(ctx)
	if err != nil {
		return engine.ServerVersion{}, false
	}
	v := engine.ServerVersionOf(engine.ProductPostgres, si.Version)
	return v, v.Known()
}
