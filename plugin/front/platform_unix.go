//go:build !windows

package front

import (
	"io/fs"
	"os"
	"syscall"
)

// defaultHost is docker's default daemon address on this platform.
const defaultHost = "unix:///var/run/docker.sock"

// fullName is the full binary's file name in FullDir.
const fullName = "docker-stateful"

func executable(fi fs.FileInfo) bool { return fi.Mode().Perm()&0o111 != 0 }

// execFull replaces the front with the full binary: same pid, argv,
// environment, stdio and signals.
func execFull(full string) error { return syscall.Exec(full, os.Args, os.Environ()) }
