package createspec

import (
	"fmt"
	"regexp"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// Options are the user's choices on the command line of docker stateful create.
type Options struct {
	// Data lists extra data paths (--data), absolute.
	Data []string
	// Pin names the node to pin to (--pin), by hostname or ID ("" = the
	// node of the CLI's daemon).
	Pin string
	// NoPin opts out of pinning (--no-pin).
	NoPin bool
	// VolumeName overrides the data volume's name (--volume-name).
	VolumeName string
}

// Validate checks the options alone, before any daemon is asked anything.
func (o Options) Validate() error {
	if o.NoPin && o.Pin != "" {
		return fmt.Errorf("--no-pin conflicts with --pin %s: use one or the other", o.Pin)
	}
	for _, p := range o.Data {
		if err := stateful.ValidateDataPath(p); err != nil {
			return fmt.Errorf("--data %s: %w", p, err)
		}
	}
	if o.VolumeName != "" {
		if err := ValidateVolumeName(o.VolumeName); err != nil {
			return fmt.Errorf("--volume-name %s: %w", o.VolumeName, err)
		}
	}
	return nil
}

// volumeNameRE is what the local volume driver accepts (daemon/names).
var volumeNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// templateRE matches a swarm task template such as {{.Task.Slot}}.
var templateRE = regexp.MustCompile(`\{\{[^}]*\}\}`)

// ValidateVolumeName checks a volume source name, templates allowed.
func ValidateVolumeName(name string) error {
	expanded := templateRE.ReplaceAllString(name, "1")
	if !volumeNameRE.MatchString(expanded) {
		return fmt.Errorf("not a valid volume name: use letters, digits, '_', '.', '-' (at least 2 characters, starting with a letter or digit), and {{.Task.Slot}} templates")
	}
	return nil
}
