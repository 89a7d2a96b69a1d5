package redisbackup

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzVerifyFile: restore reads files from anywhere (a download, stdin). Whatever the
// bytes, VerifyFile must return (never panic, never allocate by a corrupt length) and
// every refusal must be a one-line *FileError.
func FuzzVerifyFile(f *testing.F) {
	v1, err := os.ReadFile("testdata/format-v1.dsbackup")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v1)
	f.Add(v1[:len(v1)/2])
	f.Add([]byte(Magic + "\x00\x02"))
	f.Add([]byte(Magic + "\x00\x02\x28\xb5\x2f\xfd"))
	f.Add(appendSeal([]byte(Magic+"\x00\x02"), 0))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "f.dsbackup")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := VerifyFile(p, t.TempDir())
		var fe *FileError
		if err != nil && !errors.As(err, &fe) {
			t.Fatalf("error %v (%T), want a *FileError", err, err)
		}
	})
}
