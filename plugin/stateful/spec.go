package stateful

import (
	"bytes"
	"encoding/json"

	"github.com/docker/docker/api/types/swarm"
)

// ReplacesTasks reports whether an update from cur to next makes Swarm
// replace the running tasks: any change of the task template (including
// --force's ForceUpdate counter) or of the endpoint spec (published ports).
// Service labels, replicas and update settings alone leave running tasks
// alone. Specs are compared as the daemon receives them (JSON), so a nil and
// an empty list are the same. (Swarm also keeps a task whose node still
// satisfies changed placement constraints; callers do not count on that.)
func ReplacesTasks(cur, next swarm.ServiceSpec) bool {
	return !sameJSON(cur.TaskTemplate, next.TaskTemplate) || !sameJSON(cur.EndpointSpec, next.EndpointSpec)
}

func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// Image is the image reference of spec's containers, as the spec holds it
// ("" for a non-container service).
func Image(spec swarm.ServiceSpec) string {
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
		return cs.Image
	}
	return ""
}
