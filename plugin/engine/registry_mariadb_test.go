package engine

import (
	"slices"
	"testing"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
)

func TestMariaDBImages(t *testing.T) {
	for _, tc := range []struct {
		ref  string
		data []string
	}{
		{"mariadb", []string{"/var/lib/mysql"}},
		{"mariadb:11.4", []string{"/var/lib/mysql"}},
		{"docker.io/library/mariadb:10.11@sha256:" + sha, []string{"/var/lib/mysql"}},
		{"localhost:5000/mariadb:lts", []string{"/var/lib/mysql"}},
		{"mysql", []string{"/var/lib/mysql"}},
		{"mysql:8.4", []string{"/var/lib/mysql"}},
		{"container-registry.oracle.com/mysql/mysql-server:8.0", []string{"/var/lib/mysql"}},
		{"bitnami/mariadb:11.4", []string{"/bitnami/mariadb"}},
		{"docker.io/bitnami/mariadb", []string{"/bitnami/mariadb"}},
		{"bitnami/mysql:8.4", []string{"/bitnami/mysql"}},
		{"localhost:5000/bitnami/mysql", []string{"/bitnami/mysql"}},
		{"myteam/mariadb:patched", nil},
	} {
		k := ForImage(tc.ref)
		if k == nil || k.Name != NameMariaDB {
			t.Errorf("ForImage(%q) = %v, want mariadb", tc.ref, k)
		}
		if dp := KnownDataPaths(tc.ref); !slices.Equal(dp, tc.data) {
			t.Errorf("KnownDataPaths(%q) = %v, want %v", tc.ref, dp, tc.data)
		}
	}
	for _, look := range []string{"phpmyadmin", "adminer", "prom/mysqld-exporter"} {
		if k := ForImage(look); k != nil {
			t.Errorf("ForImage(%q) = %s, want none", look, k.Name)
		}
	}
	if k := ForCommand([]string{"sh", "-c", "exec mariadbd --user=mysql"}, nil); k == nil || k.Name != NameMariaDB {
		t.Errorf("ForCommand(mariadbd) = %v", k)
	}
	k := ByName(NameMariaDB)
	if k.Port != 3306 || k.StopGrace < 60e9 || k.PasswordEnv != "MYSQL_PWD" {
		t.Errorf("mariadb entry %+v", k)
	}
}

func TestParseMariaDBArgs(t *testing.T) {
	for i, tc := range []struct {
		cmd, args []string
		found     bool
		dir, fast string
	}{
		{nil, []string{"--datadir=/srv/db"}, true, "/srv/db", ""},
		{nil, []string{"mariadbd", "--datadir", "/srv/db", "--innodb_fast_shutdown=2"}, true, "/srv/db", "2"},
		{[]string{"docker-entrypoint.sh"}, []string{"mysqld", "--innodb-fast-shutdown", "2"}, true, "", "2"},
		{[]string{"sh", "-c", "exec mysqld --datadir='/x'"}, nil, true, "/x", ""},
		{[]string{"nginx"}, nil, false, "", ""},
	} {
		ma := ParseMariaDBArgs(tc.cmd, tc.args)
		if ma.Found != tc.found || ma.DataDir != tc.dir || ma.FastShutdown != tc.fast {
			t.Errorf("case %d: %+v", i, ma)
		}
	}
}

func TestMariaDBArgRules(t *testing.T) {
	named := mount.Mount{Type: mount.TypeVolume, Source: "db", Target: "/var/lib/mysql"}
	anon := mount.Mount{Type: mount.TypeVolume, Target: "/var/lib/mysql"}
	tmpfs := mount.Mount{Type: mount.TypeTmpfs, Target: "/var/lib/mysql"}
	s := func(image string, m []mount.Mount, args ...string) swarm.ServiceSpec {
		sp := spec(image, nil, args).Spec
		sp.TaskTemplate.ContainerSpec.Mounts = m
		return sp
	}
	k := ByName(NameMariaDB)
	for _, tc := range []struct {
		name      string
		cur, next swarm.ServiceSpec
		refusals  int
	}{
		{"datadir moved", s("mariadb:11", []mount.Mount{named}), s("mariadb:11", []mount.Mount{named}, "--datadir=/tmp/db"), 1},
		{"datadir same", s("mariadb:11", []mount.Mount{named}), s("mariadb:11", []mount.Mount{named}, "--datadir=/var/lib/mysql/"), 0},
		{"tmpfs on data", s("mysql:8", []mount.Mount{named}), s("mysql:8", []mount.Mount{tmpfs}), 1},
		{"fast shutdown 2, anonymous", s("mariadb", []mount.Mount{anon}), s("mariadb", []mount.Mount{anon}, "--innodb-fast-shutdown=2"), 1},
		{"fast shutdown 2, no mount", s("mariadb", nil), s("mariadb", nil, "--innodb-fast-shutdown=2"), 1},
		{"fast shutdown 2, named volume", s("mariadb", []mount.Mount{named}), s("mariadb", []mount.Mount{named}, "--innodb-fast-shutdown=2"), 0},
		{"bitnami path", s("bitnami/mariadb", nil), s("bitnami/mariadb", nil, "mysqld", "--datadir=/bitnami/mariadb"), 0},
		{"nothing changes", s("mariadb", []mount.Mount{named}), s("mariadb", []mount.Mount{named}), 0},
	} {
		if got := k.ServerArgRules(tc.cur, tc.next); len(got) != tc.refusals {
			t.Errorf("%s: %d refusals %q, want %d", tc.name, len(got), got, tc.refusals)
		}
	}
}
