package stateful

import (
	"context"
	"sort"
	"strings"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/docker-stateful/docker-stateful/plugin/engine"
)

// KnownDataPaths returns the built-in data paths for an image reference such
// as "redis", "redis:7", "docker.io/library/redis@sha256:…" (nil if unknown),
// from the engine registry's well-known images.
func KnownDataPaths(image string) []string { return engine.KnownDataPaths(image) }

// RepositoryName reduces an image reference to its repository path, without
// tag, digest, or the docker.io/library/ prefix ("redis:7" → "redis").
func RepositoryName(image string) string { return engine.RepositoryName(image) }

// ImageInspector is the part of the Docker API that looks an image up.
type ImageInspector interface {
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
}

// LookupImageVolumes returns the VOLUMEs ref declares, sorted (empty, not
// nil, when it declares none), as found on the daemon of api. A reference
// with a digest is looked up without it first (by its tag, as the user named
// it: a digest pinned by the manager is often not in the local store), then
// as written. On failure the error is that of the first look-up.
func LookupImageVolumes(ctx context.Context, api ImageInspector, ref string) ([]string, error) {
	var firstErr error
	for _, r := range lookupRefs(ref) {
		img, err := api.ImageInspect(ctx, r)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		vols := []string{}
		if img.Config != nil {
			for p := range img.Config.Volumes {
				vols = append(vols, p)
			}
		}
		sort.Strings(vols)
		return vols, nil
	}
	return nil, firstErr
}

// lookupRefs is ref without its digest (keeping its tag), then ref; just ref
// when it has no digest.
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
