package front

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FullEnv names the full binary instead of the one next to the front.
const FullEnv = "DOCKER_STATEFUL_FULL"

// FullDir is the directory next to the front that holds the full binary,
// itself named docker-stateful. Not a docker-* file in the plugin directory:
// docker would list it as an invalid plugin (docker ignores directories).
const FullDir = "docker-stateful.d"

// Main is the front's main: answer what it can, else exec the full binary
// with the same argv and environment (so exit status, stdio and signals are
// the full binary's).
func Main() {
	if handled, status := Run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr); handled {
		os.Exit(status)
	}
	full, err := FullBinary()
	if err == nil {
		err = execFull(full)
	}
	fmt.Fprintln(os.Stderr, "docker-stateful:", err)
	os.Exit(1)
}

// FullBinary is the full binary's path: $DOCKER_STATEFUL_FULL, else
// docker-stateful.d/docker-stateful (.exe on Windows) in the directory of the front (after
// following symlinks to it). It must exist and not be the front itself.
func FullBinary() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	if s, err := filepath.EvalSymlinks(self); err == nil {
		self = s
	}
	full := os.Getenv(FullEnv)
	if full == "" {
		full = filepath.Join(filepath.Dir(self), FullDir, fullName)
	}
	fi, err := os.Stat(full)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("%s is missing (the plugin's commands live there): reinstall docker stateful with its install.sh, which installs both binaries", full)
	case err != nil:
		return "", err
	case fi.IsDir() || !executable(fi):
		return "", fmt.Errorf("%s is not an executable file: reinstall docker stateful with its install.sh", full)
	}
	if me, err := os.Stat(self); err == nil && os.SameFile(me, fi) {
		return "", fmt.Errorf("%s is this front binary, not the full docker-stateful: set %s to the full binary or reinstall", full, FullEnv)
	}
	return full, nil
}
