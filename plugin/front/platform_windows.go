package front

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
)

// defaultHost is docker's default on Windows: a named pipe, which the front
// does not speak, so the full binary answers.
const defaultHost = "npipe:////./pipe/docker_engine"

// fullName is the full binary's file name in FullDir.
const fullName = "docker-stateful.exe"

// Windows has no execute bits: a regular file is enough.
func executable(fi fs.FileInfo) bool { return fi.Mode().IsRegular() }

// execFull runs the full binary as a child (Windows has no exec) with the
// same arguments, environment and console, and exits with its status. Ctrl-C
// reaches every process of the console: the front ignores it and lets the
// full binary decide.
func execFull(full string) error {
	signal.Ignore(os.Interrupt)
	cmd := exec.Command(full, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		os.Exit(ee.ExitCode())
	}
	if err != nil {
		return err
	}
	os.Exit(0)
	return nil
}
