package engine

import (
	"strconv"
	"strings"
)

// Server products: what a ServerVersion names.
const (
	ProductRedis    = "Redis"
	ProductValkey   = "Valkey"
	ProductPostgres = "PostgreSQL"
)

// ServerVersion is the database server a service runs (or an image would
// run), as far as it is known, and where that was read.
type ServerVersion struct {
	Product string `json:"product"`           // Redis, Valkey, PostgreSQL; "" when unknown
	Version string `json:"version,omitempty"` // "8.0.2", "7" (a tag's major alone), "15.8"
	// Source says where the version was read: "the server", "REDIS_VERSION of
	// image redis:8", "the tag of redis:7".
	Source string `json:"source,omitempty"`
}

// Known reports whether both the product and a version are known.
func (v ServerVersion) Known() bool { return v.Product != "" && v.Version != "" }

func (v ServerVersion) String() string {
	if v.Version == "" {
		return v.Product
	}
	return v.Product + " " + v.Version
}

// Major is the version's major number (-1 when there is none); Minor its
// minor (-1 when the version gives only a major, as the tag redis:7 does).
func (v ServerVersion) Major() int { ma, _ := majorMinor(v.Version); return ma }

// Minor is the version's minor number, -1 when not given.
func (v ServerVersion) Minor() int { _, mi := majorMinor(v.Version); return mi }

func majorMinor(s string) (int, int) {
	parts := strings.SplitN(s, ".", 3)
	ma, err := strconv.Atoi(leadingDigits(parts[0]))
	if err != nil {
		return -1, -1
	}
	if len(parts) < 2 {
		return ma, -1
	}
	mi, err := strconv.Atoi(leadingDigits(parts[1]))
	if err != nil {
		return ma, -1
	}
	return ma, mi
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

// rdbRelease is the RDB_VERSION (src/rdb.h) of the releases from one
// major.minor on, until the next entry.
type rdbRelease struct{ major, minor, rdb int }

// The RDB format each release writes, and the newest it reads (a server
// loads every RDB version up to its own RDB_VERSION and refuses newer ones:
// "Can't handle RDB format version"). Read from src/rdb.h at each release tag
// of redis/redis (2.6–3.0: 6, 3.2: 7, 4.0: 8, 5.0–6.2: 9, 7.0: 10, 7.2: 11,
// 7.4 and 8.0: 12) and valkey-io/valkey (7.2–8.x: 11, 9.0: 80, 9.2: 81; RDB
// 12–79 are Redis' own formats, which Valkey does not read).
var (
	redisRDB = []rdbRelease{{2, 6, 6}, {3, 2, 7}, {4, 0, 8}, {5, 0, 9}, {7, 0, 10}, {7, 2, 11}, {7, 4, 12}, {8, 0, 12}}
	// redisRDBKnownUpTo: releases after it are newer than the table: they
	// write at least the last entry's format, maybe a newer one.
	redisRDBKnownUpTo  = [2]int{8, 0}
	valkeyRDB          = []rdbRelease{{7, 2, 11}, {9, 0, 80}, {9, 2, 81}}
	valkeyRDBKnownUpTo = [2]int{9, 2}
)

// ForeignRDBMin and ForeignRDBMax bound the RDB versions that Valkey 9 and
// later reserve for Redis' own formats and refuse to load.
const ForeignRDBMin, ForeignRDBMax = 12, 79

// RDBRange is the RDB format a Redis or Valkey version writes, which is also
// the newest it reads: between Lo and Hi (equal when the version is precise
// enough; a tag's major alone spans its minors). Hi is 0 when the version is
// newer than the table (it writes at least Lo). ok is false for another
// product or no version.
func RDBRange(v ServerVersion) (lo, hi int, ok bool) {
	table, upTo := redisRDB, redisRDBKnownUpTo
	switch v.Product {
	case ProductRedis:
	case ProductValkey:
		table, upTo = valkeyRDB, valkeyRDBKnownUpTo
	default:
		return 0, 0, false
	}
	ma, mi := majorMinor(v.Version)
	if ma < 0 {
		return 0, 0, false
	}
	at := func(ma, mi int) int {
		r := 0
		for _, e := range table {
			if ma > e.major || (ma == e.major && mi >= e.minor) {
				r = e.rdb
			}
		}
		return r
	}
	newer := func(ma, mi int) bool { return ma > upTo[0] || (ma == upTo[0] && mi > upTo[1]) }
	if mi >= 0 {
		lo = at(ma, mi)
		if lo == 0 {
			lo = table[0].rdb // older than the table: read as its first entry
		}
		if newer(ma, mi) {
			return lo, 0, true
		}
		return lo, lo, true
	}
	// A major alone: from its first release to its last.
	lo, hi = at(ma, 0), at(ma, 99)
	if lo == 0 {
		lo = table[0].rdb
	}
	if hi == 0 {
		hi = lo
	}
	if newer(ma, 99) {
		hi = 0
	}
	return lo, hi, true
}

// ReadsForeignRDB reports whether the server refuses the RDB versions Redis
// reserves for itself (ForeignRDBMin..Max): Valkey 9 and later.
func ReadsForeignRDB(v ServerVersion) bool {
	return !(v.Product == ProductValkey && v.Major() >= 9)
}

// versionTagged are the images whose tag is their server's version
// ("redis:7.2.4-alpine", "postgres:17", "bitnami/redis:7.4.1-debian-12-r0"),
// with the product they run.
var versionTagged = map[string]string{
	"redis":              ProductRedis,
	"bitnami/redis":      ProductRedis,
	"valkey/valkey":      ProductValkey,
	"valkey-io/valkey":   ProductValkey,
	"valkey":             ProductValkey,
	"bitnami/valkey":     ProductValkey,
	"postgres":           ProductPostgres,
	"bitnami/postgresql": ProductPostgres,
}

// ImageVersion is the server an image runs, from its configuration's
// environment (the official images' VALKEY_VERSION, REDIS_VERSION, PG_MAJOR,
// PG_VERSION; env is nil when the image was not found), else from its tag
// for the images whose tag is the version. The product comes from the
// variable, else from the image's repository, else from the engine (its
// Version then stays ""). A zero ServerVersion when the image runs no engine
// the registry knows.
func ImageVersion(ref string, env []string) ServerVersion {
	vars := map[string]string{}
	for _, e := range env {
		if k, v, ok := strings.Cut(e, "="); ok {
			vars[k] = strings.TrimSpace(v)
		}
	}
	for _, x := range []struct{ name, product string }{
		{"VALKEY_VERSION", ProductValkey},
		{"REDIS_VERSION", ProductRedis},
		{"PG_MAJOR", ProductPostgres},
		{"PG_VERSION", ProductPostgres},
	} {
		if v := versionOf(vars[x.name]); v != "" {
			return ServerVersion{Product: x.product, Version: v, Source: x.name + " of image " + ref}
		}
	}
	product := versionTagged[imagePath(ref)]
	if product != "" {
		if v := versionOf(imageTag(ref)); v != "" {
			return ServerVersion{Product: product, Version: v, Source: "the tag of image " + ref}
		}
		return ServerVersion{Product: product}
	}
	switch k := ForImage(ref); {
	case k == nil:
		return ServerVersion{}
	case k.Name == NamePostgres:
		return ServerVersion{Product: ProductPostgres}
	case strings.Contains(imagePath(ref), "valkey"):
		return ServerVersion{Product: ProductValkey}
	default:
		return ServerVersion{Product: ProductRedis}
	}
}

// versionOf is the leading dotted version of s ("7.2.4-alpine" → "7.2.4",
// "17.6-0+deb13u1" → "17.6", "17" → "17"); "" when s does not start with
// one ("latest", "alpine", "pg16").
func versionOf(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	end := 0
	for end < len(s) && (s[end] >= '0' && s[end] <= '9' || s[end] == '.') {
		end++
	}
	v := strings.Trim(s[:end], ".")
	if v == "" || v[0] < '0' || v[0] > '9' {
		return ""
	}
	return v
}

// imageTag is ref's tag ("" when it has none).
func imageTag(ref string) string {
	name, _, _ := strings.Cut(ref, "@")
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		return name[i+1:]
	}
	return ""
}

// PostgresMajor is a PostgreSQL version's major release as its data
// directory's PG_VERSION names it: "15" for 15.8, "9.6" for 9.6.24; "" when
// unknown.
func PostgresMajor(v ServerVersion) string {
	if v.Product != ProductPostgres {
		return ""
	}
	ma, mi := majorMinor(v.Version)
	switch {
	case ma < 0:
		return ""
	case ma >= 10:
		return strconv.Itoa(ma)
	case mi < 0:
		return "" // "9" alone says no major release
	default:
		return strconv.Itoa(ma) + "." + strconv.Itoa(mi)
	}
}

// ServerVersionOf names a server from what it says of itself: Redis' INFO
// (Valkey's server_name and valkey_version, else redis_version) or
// PostgreSQL's server_version ("15.8 (Debian 15.8-1.pgdg120+1)").
func ServerVersionOf(product, version string) ServerVersion {
	if product == ProductPostgres {
		version, _, _ = strings.Cut(strings.TrimSpace(version), " ")
	}
	return ServerVersion{Product: product, Version: versionOf(version), Source: "the server"}
}
