package guard

import (
	"fmt"
	"strconv"

	"github.com/docker-stateful/docker-stateful/plugin/engine"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// RuleVersion: the update changes the image to a server that cannot read
// the data the running server keeps (an older RDB format for Redis and
// Valkey, another major version for PostgreSQL).
const RuleVersion = "version"

// Versions are the facts the version rule needs, gathered by the caller
// (the guard talks to no server): the server running now and the one the new
// image would run.
type Versions struct {
	// Current is the running server, read from it (INFO server, SHOW
	// server_version), else from the current image like New.
	Current engine.ServerVersion
	// New is the new image's server, from its configuration's version
	// variables, else its tag; Version "" when neither says.
	New engine.ServerVersion
}

// imageChanges reports whether the update runs another image (the only
// change that can bring another server version).
func (c checker) imageChanges() bool {
	return stateful.Image(c.in.Current) != stateful.Image(c.in.New) && c.replacesTasks()
}

// versions: the new image's server must read the data the current one
// leaves on the volume.
func (c checker) versions() {
	if !c.imageChanges() {
		return
	}
	cur, next := c.in.Versions.Current, c.in.Versions.New
	switch {
	case isRedisFamily(cur.Product) && isRedisFamily(next.Product):
		c.redisVersions(cur, next)
	case cur.Product == engine.ProductPostgres && next.Product == engine.ProductPostgres:
		c.postgresVersions(cur, next)
	}
}

func isRedisFamily(p string) bool { return p == engine.ProductRedis || p == engine.ProductValkey }

func (c checker) unknownVersion(cur, next engine.ServerVersion) bool {
	switch {
	case !cur.Known():
		c.warn(RuleVersion, "", "cannot tell which %s version runs now (the server did not answer and image %s names none): if image %s runs an older one, it may not read the data (check with docker stateful update --dry-run once the server answers)",
			cur.Product, stateful.Image(c.in.Current), stateful.Image(c.in.New))
		return true
	case !next.Known():
		c.warn(RuleVersion, "", "cannot tell which %s version image %s runs (no version variable in its configuration on this node, no version in its tag): if it is older than %s (%s), it may not read the data",
			next.Product, stateful.Image(c.in.New), cur, cur.Source)
		return true
	}
	return false
}

// redisVersions: a Redis or Valkey server loads RDB formats up to its own
// and refuses newer ones; Valkey 9 also refuses the formats Redis reserves
// for itself.
func (c checker) redisVersions(cur, next engine.ServerVersion) {
	if c.unknownVersion(cur, next) {
		return
	}
	dlo, dhi, _ := engine.RDBRange(cur)
	rlo, rhi, _ := engine.RDBRange(next)
	foreign := !engine.ReadsForeignRDB(next) && dlo <= engine.ForeignRDBMax && (dhi == 0 || dhi >= engine.ForeignRDBMin)
	switch {
	case rhi != 0 && dlo > rhi:
		c.refuse(RuleVersion, "", "%s runs %s (%s), which writes RDB format %s; image %s runs %s (%s), which reads RDB formats up to %s: the new task would refuse the data and not start. %s, or use --force",
			c.name(), cur, cur.Source, rdbFormats(dlo, dhi), stateful.Image(c.in.New), next, next.Source, rdbFormats(rhi, rhi), redisWayBack(c.name(), stateful.Image(c.in.New)))
	case foreign:
		c.warn(RuleVersion, "", "%s runs %s (%s), which writes RDB format %s, one of the formats %s refuses by default (Redis' own, %d to %d): the new task may refuse the data. %s",
			c.name(), cur, cur.Source, rdbFormats(dlo, dhi), next, engine.ForeignRDBMin, engine.ForeignRDBMax, redisWayBack(c.name(), stateful.Image(c.in.New)))
	case dhi != 0 && dhi <= rlo:
		// reads what is there: same version or an upgrade
	default:
		c.warn(RuleVersion, "", "%s runs %s (%s), which writes RDB format %s; image %s runs %s (%s), which reads RDB formats up to %s: depending on the exact versions the new task may refuse the data",
			c.name(), cur, cur.Source, rdbFormats(dlo, dhi), stateful.Image(c.in.New), next, next.Source, rdbFormats(rlo, rhi))
	}
}

// redisWayBack is how data reaches an older Redis or Valkey: a backup,
// restored into the older server (restore writes each key for it).
func redisWayBack(service, image string) string {
	return fmt.Sprintf("To move the data to the older server, convert it: docker stateful backup %s, then docker stateful restore that backup into a service running %s (restore writes each key for the older server)", service, image)
}

func rdbFormats(lo, hi int) string {
	switch {
	case hi == 0:
		return strconv.Itoa(lo) + " or newer"
	case lo == hi:
		return strconv.Itoa(lo)
	default:
		return strconv.Itoa(lo) + " to " + strconv.Itoa(hi)
	}
}

// postgresVersions: PostgreSQL refuses a data directory of another major
// version ("database files are incompatible with server").
func (c checker) postgresVersions(cur, next engine.ServerVersion) {
	if c.unknownVersion(cur, next) {
		return
	}
	cm, nm := engine.PostgresMajor(cur), engine.PostgresMajor(next)
	if cm == "" || nm == "" {
		c.warn(RuleVersion, "", "image %s runs %s (%s), the service %s (%s): PostgreSQL needs the same major version to read its data directory, and the versions do not say which",
			stateful.Image(c.in.New), next, next.Source, cur, cur.Source)
		return
	}
	if cm == nm {
		return
	}
	img := stateful.Image(c.in.New)
	if newerMajor(nm, cm) {
		c.refuse(RuleVersion, "", "%s runs PostgreSQL %s (%s); image %s runs PostgreSQL %s (%s), which refuses a data directory of another major version: the new task would not start. Upgrade the data first: pg_upgrade (both versions' binaries on the volume), or pg_dumpall from this server and psql into a new service running %s; or use --force",
			c.name(), cur.Version, cur.Source, img, next.Version, next.Source, img)
		return
	}
	c.refuse(RuleVersion, "", "%s runs PostgreSQL %s (%s); image %s runs the older PostgreSQL %s (%s), which cannot read a data directory of PostgreSQL %s: the new task would not start. Going back needs a dump: pg_dumpall from this server, and psql into a new service running %s (pg_upgrade only goes forward); or use --force",
		c.name(), cur.Version, cur.Source, img, next.Version, next.Source, cm, img)
}

func newerMajor(a, b string) bool {
	fa, _ := strconv.ParseFloat(a, 64)
	fb, _ := strconv.ParseFloat(b, 64)
	return fa > fb
}

// WayBack says, for an update the guard allows that upgrades the server to
// one whose data format the current one cannot read, that going back needs
// a conversion, and how; "" when going back needs none (or the versions are
// not known).
func WayBack(in Input) string {
	r := Report{DataPaths: dataPaths(in)}
	c := checker{in: in, report: &r}
	if len(r.DataPaths) == 0 || !c.imageChanges() {
		return ""
	}
	cur, next := in.Versions.Current, in.Versions.New
	if !cur.Known() || !next.Known() {
		return ""
	}
	old := stateful.Image(in.Current)
	switch {
	case isRedisFamily(cur.Product) && isRedisFamily(next.Product):
		_, dhi, _ := engine.RDBRange(cur)
		wlo, _, _ := engine.RDBRange(next)
		if dhi == 0 || wlo <= dhi {
			return ""
		}
		return fmt.Sprintf("going back to %s needs a conversion: %s writes RDB format %d, which %s (RDB %s) cannot read; docker service rollback would start a task that refuses the data. %s",
			cur, next, wlo, cur, rdbFormats(dhi, dhi), redisWayBack(c.name(), old))
	case cur.Product == engine.ProductPostgres && next.Product == engine.ProductPostgres:
		cm, nm := engine.PostgresMajor(cur), engine.PostgresMajor(next)
		if cm == "" || nm == "" || !newerMajor(nm, cm) {
			return ""
		}
		return fmt.Sprintf("going back to PostgreSQL %s needs a dump: PostgreSQL %s's data directory cannot be read by PostgreSQL %s; pg_dumpall from the new server, and psql into a new service running %s (pg_upgrade only goes forward)",
			cm, nm, cm, old)
	}
	return ""
}
