package adopt

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// CopyEngine is what --volume-name needs of the task's node's engine: the
// container's files come out as a tar (the archive API, no tool in the
// image needed) and go into a created, never started, helper container that
// mounts the new volume.
type CopyEngine interface {
	Engine
	CopyFromContainer(ctx context.Context, containerID, srcPath string) (io.ReadCloser, container.PathStat, error)
	CopyToContainer(ctx context.Context, containerID, dstPath string, content io.Reader, options container.CopyToContainerOptions) error
	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig, networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, containerName string) (container.CreateResponse, error)
	ContainerRemove(ctx context.Context, containerID string, options container.RemoveOptions) error
	VolumeCreate(ctx context.Context, options volume.CreateOptions) (volume.Volume, error)
	VolumeInspect(ctx context.Context, volumeID string) (volume.Volume, error)
	VolumeRemove(ctx context.Context, volumeID string, force bool) error
}

// Copied says what a copy moved and that it reads back the same.
type Copied struct {
	Files  int    `json:"files"`
	Bytes  int64  `json:"bytes"`
	Digest string `json:"digest"`
}

// copyVolume copies dataPath of the running container src into a new
// volume name on the same node, and reads the copy back to compare.
func copyVolume(ctx context.Context, eng CopyEngine, src, img, dataPath, name string, labels map[string]string) (Copied, error) {
	if _, err := eng.VolumeCreate(ctx, volume.CreateOptions{Name: name, Driver: "local", Labels: labels}); err != nil {
		return Copied{}, fmt.Errorf("create volume %s: %w", name, err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = eng.VolumeRemove(context.WithoutCancel(ctx), name, true)
		}
	}()
	helper, err := eng.ContainerCreate(ctx, &container.Config{Image: img, Entrypoint: []string{"/nonexistent"}, Labels: labels},
		&container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: name, Target: dataPath}}}, nil, nil, "")
	if err != nil {
		return Copied{}, fmt.Errorf("create a helper container for volume %s: %w", name, err)
	}
	defer func() {
		_ = eng.ContainerRemove(context.WithoutCancel(ctx), helper.ID, container.RemoveOptions{Force: true})
	}()

	rc, _, err := eng.CopyFromContainer(ctx, src, dataPath)
	if err != nil {
		return Copied{}, fmt.Errorf("read %s of the task's container: %w", dataPath, err)
	}
	pr, pw := io.Pipe()
	sumc := make(chan result, 1)
	go func() { sumc <- digestTar(pr) }()
	err = eng.CopyToContainer(ctx, helper.ID, path.Dir(dataPath), io.TeeReader(rc, pw), container.CopyToContainerOptions{})
	rc.Close()
	pw.CloseWithError(err)
	before := <-sumc
	if err != nil {
		return Copied{}, fmt.Errorf("write volume %s: %w", name, err)
	}
	if before.err != nil {
		return Copied{}, before.err
	}
	back, _, err := eng.CopyFromContainer(ctx, helper.ID, dataPath)
	if err != nil {
		return Copied{}, fmt.Errorf("read the copy back: %w", err)
	}
	after := digestTar(back)
	back.Close()
	if after.err != nil {
		return Copied{}, after.err
	}
	if after.Digest != before.Digest || after.Files != before.Files {
		return Copied{}, fmt.Errorf("the copy in volume %s differs from the original (%d files %s, read back %d files %s)", name, before.Files, before.Digest, after.Files, after.Digest)
	}
	ok = true
	return before.Copied, nil
}

type result struct {
	Copied
	err error
}

// digestTar hashes a tar's regular files and directories by name, size and
// content, in name order, so an archive of the original and one of the copy
// compare equal when they hold the same files.
func digestTar(r io.Reader) result {
	type entry struct{ name, sum string }
	var entries []entry
	var res result
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			_, _ = io.Copy(io.Discard, r)
			res.err = fmt.Errorf("read archive: %w", err)
			return res
		}
		e := entry{name: string(rune(h.Typeflag)) + h.Name}
		if h.Typeflag == tar.TypeReg {
			hs := sha256.New()
			n, err := io.Copy(hs, tr)
			if err != nil {
				res.err = fmt.Errorf("read archive: %w", err)
				return res
			}
			e.sum = fmt.Sprintf("%d:%x", n, hs.Sum(nil))
			res.Files++
			res.Bytes += n
		}
		entries = append(entries, e)
	}
	_, _ = io.Copy(io.Discard, r)
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	h := sha256.New()
	for _, e := range entries {
		fmt.Fprintf(h, "%s\x00%s\n", e.name, e.sum)
	}
	res.Digest = hex.EncodeToString(h.Sum(nil))[:16]
	return res
}
