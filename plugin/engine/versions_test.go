package engine

import "testing"

func TestRDBRange(t *testing.T) {
	for _, c := range []struct {
		product, version string
		lo, hi           int
		ok               bool
	}{
		{ProductRedis, "6.2.14", 9, 9, true},
		{ProductRedis, "7.0.15", 10, 10, true},
		{ProductRedis, "7.2.4", 11, 11, true},
		{ProductRedis, "7.4.1", 12, 12, true},
		{ProductRedis, "8.0.2", 12, 12, true},
		{ProductRedis, "8.2.1", 12, 0, true}, // newer than the table: 12 or newer
		{ProductRedis, "7", 10, 12, true},    // redis:7 is any of 7.0, 7.2, 7.4
		{ProductRedis, "8", 12, 0, true},
		{ProductRedis, "2.4", 6, 6, true}, // older than the table: its first entry
		{ProductValkey, "7.2.5", 11, 11, true},
		{ProductValkey, "8.0.1", 11, 11, true},
		{ProductValkey, "8.1.1", 11, 11, true},
		{ProductValkey, "8", 11, 11, true},
		{ProductValkey, "9.0.0", 80, 80, true},
		{ProductValkey, "9.2.0", 81, 81, true},
		{ProductValkey, "9", 80, 0, true},
		{ProductValkey, "10.0", 81, 0, true},
		{ProductRedis, "", 0, 0, false},
		{ProductRedis, "latest", 0, 0, false},
		{ProductPostgres, "17", 0, 0, false},
	} {
		lo, hi, ok := RDBRange(ServerVersion{Product: c.product, Version: c.version})
		if lo != c.lo || hi != c.hi || ok != c.ok {
			t.Errorf("RDBRange(%s %s) = %d, %d, %v; want %d, %d, %v", c.product, c.version, lo, hi, ok, c.lo, c.hi, c.ok)
		}
	}
}

func TestImageVersion(t *testing.T) {
	for _, c := range []struct {
		ref                      string
		env                      []string
		product, version, source string
	}{
		{"redis:7", []string{"PATH=/usr/bin", "REDIS_VERSION=7.0.15"}, ProductRedis, "7.0.15", "REDIS_VERSION of image redis:7"},
		{"redis:7", nil, ProductRedis, "7", "the tag of image redis:7"},
		{"redis:7.2.4-alpine", nil, ProductRedis, "7.2.4", "the tag of image redis:7.2.4-alpine"},
		{"docker.io/library/redis:8@sha256:0123", nil, ProductRedis, "8", "the tag of image docker.io/library/redis:8@sha256:0123"},
		{"redis:latest", nil, ProductRedis, "", ""},
		{"redis", nil, ProductRedis, "", ""},
		{"valkey/valkey:8", []string{"VALKEY_VERSION=8.1.1"}, ProductValkey, "8.1.1", "VALKEY_VERSION of image valkey/valkey:8"},
		{"valkey/valkey:8.0-alpine", nil, ProductValkey, "8.0", "the tag of image valkey/valkey:8.0-alpine"},
		{"bitnami/valkey:8.1.1-debian-12-r0", nil, ProductValkey, "8.1.1", "the tag of image bitnami/valkey:8.1.1-debian-12-r0"},
		{"postgres:17-alpine", nil, ProductPostgres, "17", "the tag of image postgres:17-alpine"},
		{"postgres:latest", []string{"PG_MAJOR=15", "PG_VERSION=15.14-0+deb12u1"}, ProductPostgres, "15", "PG_MAJOR of image postgres:latest"},
		{"postgres:x", []string{"PG_VERSION=17.6-0+deb13u1"}, ProductPostgres, "17.6", "PG_VERSION of image postgres:x"},
		// the tag of an image built on postgres is not the server's version
		{"timescale/timescaledb:2.14.2-pg16", nil, ProductPostgres, "", ""},
		{"postgis/postgis:16-3.4", []string{"PG_MAJOR=16"}, ProductPostgres, "16", "PG_MAJOR of image postgis/postgis:16-3.4"},
		{"myteam/redis:2024", nil, ProductRedis, "", ""},
		{"myteam/valkey:prod", nil, ProductValkey, "", ""},
		{"nginx:1.27", nil, "", "", ""},
	} {
		got := ImageVersion(c.ref, c.env)
		want := ServerVersion{Product: c.product, Version: c.version, Source: c.source}
		if got != want {
			t.Errorf("ImageVersion(%s, %v) = %+v; want %+v", c.ref, c.env, got, want)
		}
	}
}

func TestPostgresMajor(t *testing.T) {
	for v, want := range map[string]string{"15.8": "15", "17": "17", "9.6.24": "9.6", "9": "", "": "", "16beta1": "16"} {
		if got := PostgresMajor(ServerVersion{Product: ProductPostgres, Version: v}); got != want {
			t.Errorf("PostgresMajor(%q) = %q; want %q", v, got, want)
		}
	}
	if got := ServerVersionOf(ProductPostgres, "15.8 (Debian 15.8-1.pgdg120+1)"); got.Version != "15.8" || got.Source != "the server" {
		t.Errorf("ServerVersionOf(PostgreSQL) = %+v", got)
	}
}
