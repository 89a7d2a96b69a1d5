package engine

import (
	"path"
	"strings"
	"time"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
)

// mariadbServers are the programs that run a MariaDB or MySQL server.
var mariadbServers = []string{"mariadbd", "mysqld", "mariadbd-safe", "mysqld_safe"}

// mariadbKind is MariaDB and MySQL: one engine, one wire protocol.
var mariadbKind = &Kind{
	Name: NameMariaDB, Title: "MariaDB", Port: 3306,
	Servers: mariadbServers,
	// SIGTERM is a normal shutdown for both (the images set no
	// STOPSIGNAL); InnoDB then flushes its buffer pool, which on a large
	// one takes longer than docker's 10s default.
	StopSignal: "SIGTERM", StopGrace: 120 * time.Second,
	URLFlag: "--mysql-url", PasswordFileFlag: "--mysql-password-file", PasswordEnv: "MYSQL_PWD",
	ServerArgRules: mariadbServerArgRules,
}

// MariaDBArgs are the data-related options of a mariadbd/mysqld command
// line (also the bare "--option" arguments the official images pass to the
// server through their entrypoint).
type MariaDBArgs struct {
	Found        bool
	DataDir      string // --datadir
	FastShutdown string // --innodb-fast-shutdown (also innodb_fast_shutdown)
}

// ParseMariaDBArgs finds the server in a container's Command+Args and reads
// --datadir and --innodb-fast-shutdown (as --opt=value or --opt value;
// dashes and underscores are the same in option names).
func ParseMariaDBArgs(command, args []string) MariaDBArgs {
	argv := append(append([]string{}, command...), args...)
	var ma MariaDBArgs
	rest := serverAt(argv, mariadbServers)
	switch {
	case rest != nil:
		rest = rest[1:]
	case len(argv) > 0 && strings.HasPrefix(argv[0], "--"):
		rest = argv
	default:
		return ma
	}
	ma.Found = true
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if !strings.HasPrefix(a, "--") {
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		name = strings.ReplaceAll(strings.ToLower(name), "_", "-")
		if name != "datadir" && name != "innodb-fast-shutdown" {
			continue
		}
		if !hasVal && i+1 < len(rest) && !strings.HasPrefix(rest[i+1], "--") {
			i++
			val = rest[i]
		}
		val = strings.Trim(val, `"'`)
		switch name {
		case "datadir":
			ma.DataDir = val
		case "innodb-fast-shutdown":
			ma.FastShutdown = val
		}
	}
	return ma
}

// mariadbDataDir is the server's data directory: --datadir, else the
// image's data path (/var/lib/mysql).
func mariadbDataDir(spec swarm.ServiceSpec, ma MariaDBArgs) string {
	base := "/var/lib/mysql"
	if known := KnownDataPaths(imageOf(spec)); len(known) > 0 {
		base = known[0]
	}
	if ma.DataDir == "" {
		return base
	}
	if !path.IsAbs(ma.DataDir) {
		return path.Join(base, ma.DataDir)
	}
	return path.Clean(ma.DataDir)
}

// mariadbServerArgRules: MariaDB/MySQL lose their data when the update moves
// --datadir off the data (the server initializes an empty one there), puts
// a tmpfs on the data directory, or shuts InnoDB down without flushing
// (--innodb-fast-shutdown=2: the data is then only whole after crash
// recovery from the redo log) on a disk that does not outlive the task.
func mariadbServerArgRules(cur, next swarm.ServiceSpec) []string {
	na := mariadbArgsOf(next)
	var out []string
	curDir, newDir := mariadbDataDir(cur, mariadbArgsOf(cur)), mariadbDataDir(next, na)
	if RepositoryName(imageOf(cur)) == RepositoryName(imageOf(next)) && curDir != newDir {
		out = append(out, "the update moves MariaDB's data directory from "+curDir+" to "+newDir+" (--datadir): the server starts there on an empty (newly initialized) directory and every table is gone (keep --datadir="+curDir+", or use --force)")
	}
	m, found := mountAt(next, newDir)
	if found && m.Type == mount.TypeTmpfs {
		out = append(out, "the update puts a tmpfs on MariaDB's data directory "+newDir+": every table is lost when the task stops (mount a named volume there, or use --force)")
	}
	if na.FastShutdown == "2" && (!found || m.Type == mount.TypeTmpfs || (m.Type == mount.TypeVolume && m.Source == "")) {
		out = append(out, "--innodb-fast-shutdown=2 stops InnoDB without flushing (the data is whole only after crash recovery from its redo log), and "+newDir+" is not on a disk that outlives the task: the next start loses the data (drop the option, mount a named volume there, or use --force)")
	}
	return out
}

func mariadbArgsOf(spec swarm.ServiceSpec) MariaDBArgs {
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
		return ParseMariaDBArgs(cs.Command, cs.Args)
	}
	return MariaDBArgs{}
}

// mountAt is the mount of spec holding dir (the deepest one).
func mountAt(spec swarm.ServiceSpec, dir string) (mount.Mount, bool) {
	cs := spec.TaskTemplate.ContainerSpec
	if cs == nil {
		return mount.Mount{}, false
	}
	var best mount.Mount
	found := false
	for _, m := range cs.Mounts {
		t := path.Clean(m.Target)
		if (dir == t || strings.HasPrefix(dir, t+"/")) && (!found || len(t) > len(path.Clean(best.Target))) {
			best, found = m, true
		}
	}
	return best, found
}
