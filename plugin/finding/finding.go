// Package finding is the one shape of a problem or a risk that docker
// stateful reports: the guard's problems and warnings, the Redis
// preflight's refusals and warnings. It is what --format json prints for
// each of them.
package finding

// Finding is one problem or risk.
type Finding struct {
	Code    string `json:"code"`           // stable identifier, e.g. "ephemeral-data", "dir-not-on-volume"
	Path    string `json:"path,omitempty"` // the data path it is about, if one
	Message string `json:"message"`        // one line for the user
	Fix     string `json:"fix,omitempty"`  // what to do about it, when the message does not say
}

// String is the message, with the fix when there is one.
func (f Finding) String() string {
	if f.Fix != "" {
		return f.Message + " (" + f.Fix + ")"
	}
	return f.Message
}
