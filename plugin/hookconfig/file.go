package hookconfig

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// RecordCreatedFile is the first record of AddFile when it created the
// file: RemoveFile then removes the file when nothing else is left in it.
const RecordCreatedFile = "created:file"

// AddFile registers the hint hook in the config.json at path (AddHooks),
// creating it if needed, and returns the record of what it changed.
func AddFile(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	created := errors.Is(err, os.ErrNotExist)
	if err != nil && !created {
		return nil, err
	}
	out, record, err := AddHooks(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; fix or move it, then run again", path, err)
	}
	if len(record) == 0 {
		return nil, nil
	}
	if created {
		record = append([]string{RecordCreatedFile}, record...)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
	}
	return record, writeFileAtomic(path, out)
}

// CheckFile says whether AddFile would work on the config.json at path,
// changing nothing.
func CheckFile(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, _, err := AddHooks(data); err != nil {
		return fmt.Errorf("%s: %w; fix or move it, then run again", path, err)
	}
	return nil
}

// RemoveFile undoes the changes record describes in the config.json at path.
func RemoveFile(path string, record []string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	out, err := RemoveHooks(data, record)
	if err != nil {
		return fmt.Errorf("%s: %w; remove the stateful hooks by hand", path, err)
	}
	for _, r := range record {
		if r == RecordCreatedFile && IsEmpty(out) {
			return os.Remove(path)
		}
	}
	if string(out) == string(data) {
		return nil
	}
	return writeFileAtomic(path, out)
}

// writeFileAtomic replaces path (through a symlink, keeping its mode; 0600
// for a new file, as docker writes config.json, which may hold credentials).
func writeFileAtomic(path string, data []byte) error {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	mode := os.FileMode(0o600)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
