// Command archive packs a release directory for `make release`, the same on
// every machine (no tar/zip/sha256sum flavours): files sorted, owner root,
// modification time from SOURCE_DATE_EPOCH (else the epoch), so the same
// binaries give the same archive bytes.
//
//	archive OUT.tar.gz|OUT.zip DIR   DIR's files under DIR's base name
//	archive -sums DIST               DIST/SHA256SUMS of DIST's archives
package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	var err error
	switch {
	case len(os.Args) == 3 && os.Args[1] == "-sums":
		err = sums(os.Args[2])
	case len(os.Args) == 3:
		err = pack(os.Args[1], os.Args[2])
	default:
		err = fmt.Errorf("usage: archive OUT.tar.gz|OUT.zip DIR | archive -sums DIST")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "archive:", err)
		os.Exit(1)
	}
}

type entry struct {
	name string // slash-separated, under the top directory
	path string
	info fs.FileInfo
}

func walk(dir string) ([]entry, error) {
	top := filepath.Base(dir)
	var out []entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		name := top
		if rel != "." {
			name = top + "/" + filepath.ToSlash(rel)
		}
		if d.IsDir() {
			name += "/"
		}
		out = append(out, entry{name, p, info})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, err
}

// mode: directories and executables 0755, other files 0644.
func mode(info fs.FileInfo) int64 {
	if info.IsDir() || info.Mode().Perm()&0o111 != 0 || strings.HasSuffix(info.Name(), ".exe") {
		return 0o755
	}
	return 0o644
}

func mtime() time.Time {
	if s, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64); err == nil {
		return time.Unix(s, 0).UTC()
	}
	return time.Unix(0, 0).UTC()
}

func pack(out, dir string) error {
	entries, err := walk(dir)
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	switch {
	case strings.HasSuffix(out, ".tar.gz"):
		err = packTar(f, entries)
	case strings.HasSuffix(out, ".zip"):
		err = packZip(f, entries)
	default:
		err = fmt.Errorf("%s: name must end in .tar.gz or .zip", out)
	}
	if err != nil {
		return err
	}
	return f.Close()
}

func packTar(w io.Writer, entries []entry) error {
	gz, _ := gzip.NewWriterLevel(w, gzip.BestCompression)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: mode(e.info), ModTime: mtime(), Uname: "root", Gname: "root", Format: tar.FormatPAX}
		if e.info.IsDir() {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, e.info.Size()
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !e.info.IsDir() {
			if err := copyFile(tw, e.path); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func packZip(w io.Writer, entries []entry) error {
	zw := zip.NewWriter(w)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: mtime()}
		h.SetMode(fs.FileMode(mode(e.info)) | e.info.Mode().Type())
		if e.info.IsDir() {
			h.Method = zip.Store
		}
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if !e.info.IsDir() {
			if err := copyFile(fw, e.path); err != nil {
				return err
			}
		}
	}
	return zw.Close()
}

func copyFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// sums writes SHA256SUMS in sha256sum's format ("HEX  NAME"), which
// `sha256sum -c` and `shasum -a 256 -c` read.
func sums(dist string) error {
	var names []string
	for _, pat := range []string{"*.tar.gz", "*.zip"} {
		m, err := filepath.Glob(filepath.Join(dist, pat))
		if err != nil {
			return err
		}
		names = append(names, m...)
	}
	if len(names) == 0 {
		return fmt.Errorf("no archives in %s", dist)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		h := sha256.New()
		if err := copyFile(h, n); err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), filepath.Base(n))
	}
	return os.WriteFile(filepath.Join(dist, "SHA256SUMS"), []byte(b.String()), 0o644)
}
