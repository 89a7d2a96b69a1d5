package inventory

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// AnonymousLabel is the label Docker 23 and later put on a volume created for
// a container's VOLUME or an anonymous mount. It is never removed, and a
// plain `docker volume prune -f` deletes every unused volume that has it.
const AnonymousLabel = "com.docker.volume.anonymous"

// CodePrunable is check's code for data on a volume that a plain
// `docker volume prune -f` deletes once no container uses it.
const CodePrunable = "prunable-volume"

var anonymousName = regexp.MustCompile(`^[0-9a-f]{64}$`)

// AnonymousName reports whether a volume name is one Docker generated for an
// anonymous volume (64 hex digits): such a volume, mounted by name, is still
// the anonymous volume, with its label.
func AnonymousName(name string) bool { return anonymousName.MatchString(name) }

// IsAnonymous reports whether a volume is an anonymous one: labelled so, or
// named as Docker names them (a 20.10 engine sets no label).
func IsAnonymous(name string, labels map[string]string) bool {
	_, labelled := labels[AnonymousLabel]
	return labelled || AnonymousName(name)
}

// EngineMajor is the major version of a Docker engine ("26.1.5+dfsg1" → 26);
// 0 when the version does not say.
func EngineMajor(version string) int {
	major, _, _ := strings.Cut(strings.TrimPrefix(version, "v"), ".")
	n, err := strconv.Atoi(major)
	if err != nil {
		return 0
	}
	return n
}

// PruneAll reports whether a plain `docker volume prune -f` on an engine of
// this version deletes every unused local volume, named ones included: every
// engine before 23 does (20.10 is the last of them); 23 and later delete only
// anonymous-labelled volumes unless --all is given. An unknown version counts
// as before 23, the case that loses more.
func PruneAll(engineVersion string) bool { return EngineMajor(engineVersion) < 23 }

// PruneDeletes reports whether a plain `docker volume prune -f` on an engine
// of this version deletes the volume once no container uses it.
func PruneDeletes(engineVersion, name string, labels map[string]string) bool {
	return PruneAll(engineVersion) || IsAnonymous(name, labels)
}

// PruneWarnings are rm's lines about the kept volumes of r that a plain
// `docker volume prune -f` on their node deletes (none when every one is
// safe from it), with how to keep them; engineVersion is a node's engine
// version by node ID ("" when unknown).
func (r Removal) PruneWarnings(engineVersion func(nodeID string) string) []string {
	var out []string
	image := ""
	if cs := r.Service.Spec.TaskTemplate.ContainerSpec; cs != nil {
		image = shortImage(cs.Image)
	}
	for _, v := range r.Volumes {
		ev := engineVersion(v.NodeID)
		if !PruneDeletes(ev, v.Name, nil) {
			continue
		}
		avoid := fmt.Sprintf("do not run docker volume prune (or docker system prune --volumes) on node %s until the service runs on it again (the create above): a volume a container uses is never pruned", v.Hostname)
		if !AnonymousName(v.Name) {
			out = append(out, fmt.Sprintf("volume %s on node %s is not protected against prune: that node's Docker %s deletes every unused volume, named or not, on docker volume prune -f; %s", v.Name, v.Hostname, orUnknown(ev), avoid))
			continue
		}
		named := r.Service.Spec.Name + "-data"
		out = append(out, fmt.Sprintf("volume %s on node %s is not protected against prune: it is an anonymous volume (labelled %s on Docker 23 and later), and docker volume prune -f deletes it; %s, or copy it into a named volume, which a plain prune keeps on Docker 23 and later: docker -H <node %s> run --rm -v %s:/from:ro -v %s:/to --entrypoint cp %s -a /from/. /to/ (then create with --volume-name %s)",
			short(v.Name), v.Hostname, AnonymousLabel, avoid, v.Hostname, v.Name, named, image, named))
	}
	return out
}

func orUnknown(version string) string {
	if version == "" {
		return "engine (version unknown, taken as before 23)"
	}
	return version
}

// prunable is check's finding for a data path whose volume a plain prune
// deletes on every engine: an anonymous volume mounted by its name (as
// adopt did before it copied into a named volume).
func (s *Swarm) prunable(name string, d DataPath) (Finding, bool) {
	if !d.Prunable {
		return Finding{}, false
	}
	return Finding{Code: CodePrunable, Path: d.Path,
		Message: fmt.Sprintf("%s is on anonymous volume %s (mounted by its name): docker volume prune -f on its node deletes it and the data whenever no container uses it (between two tasks, or after rm), on every Docker version", d.Path, short(d.Source)),
		Fix:     fmt.Sprintf("docker stateful adopt %s (copies the data into a named volume, which a plain prune keeps on Docker 23 and later)", name)}, true
}

// EngineVersion is the Docker engine version node nodeID reports ("" when
// the node is unknown).
func (s *Swarm) EngineVersion(nodeID string) string {
	return s.Nodes[nodeID].Description.Engine.EngineVersion
}
