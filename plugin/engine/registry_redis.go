package engine

import (
	"path"
	"strings"

	"github.com/docker/docker/api/types/swarm"
)

// redisServers are the programs that run a Redis (or Valkey) server.
var redisServers = []string{"redis-server", "valkey-server", "redis-stack-server"}

// RedisArgs are the persistence-related options found in a redis-server
// (or valkey-server) command line.
type RedisArgs struct {
	Found      bool    // a redis-server invocation (or bare --options) was found
	ConfigFile string  // first non-option argument after redis-server
	AppendOnly *bool   // --appendonly yes|no
	Save       *string // --save "..." (joined values; "" = disabled)
	Dir        string  // --dir
	DBFilename string  // --dbfilename
}

// ParseRedisArgs finds redis-server (or valkey-server, redis-stack-server)
// in a container's Command+Args (also inside "sh -c '...'" or after an
// entrypoint like docker-entrypoint.sh) and extracts --appendonly, --save,
// --dir and --dbfilename. Redis options take every following word up to the
// next "--" option as their value.
func ParseRedisArgs(command, args []string) RedisArgs {
	argv := append(append([]string{}, command...), args...)
	var sa RedisArgs
	rest := serverAt(argv, redisServers)
	switch {
	case rest != nil:
		rest = rest[1:]
	case len(argv) > 0 && strings.HasPrefix(argv[0], "--"):
		// the official image also passes bare options (args starting with
		// "--") to redis-server, through docker-entrypoint.sh
		rest = argv
	default:
		return sa
	}
	sa.Found = true
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "--") {
		sa.ConfigFile = rest[0]
		rest = rest[1:]
	}
	for i := 0; i < len(rest); i++ {
		if !strings.HasPrefix(rest[i], "--") {
			continue
		}
		name := strings.ToLower(strings.TrimPrefix(rest[i], "--"))
		var vals []string
		for i+1 < len(rest) && !strings.HasPrefix(rest[i+1], "--") {
			i++
			vals = append(vals, rest[i])
		}
		val := strings.Join(vals, " ")
		switch name {
		case "appendonly":
			b := strings.EqualFold(strings.Trim(val, `"'`), "yes")
			sa.AppendOnly = &b
		case "save":
			v := strings.Trim(val, `"'`)
			sa.Save = &v
		case "dir":
			sa.Dir = val
		case "dbfilename":
			sa.DBFilename = val
		}
	}
	return sa
}

// serverAt returns argv from the first word that runs one of servers on (a
// shell string "sh -c 'exec redis-server --x'" is split into its words);
// nil when none does.
func serverAt(argv, servers []string) []string {
	isServer := func(w string) bool {
		b := path.Base(w)
		for _, s := range servers {
			if b == s {
				return true
			}
		}
		return false
	}
	for i, a := range argv {
		if isServer(a) {
			return argv[i:]
		}
		if !strings.ContainsAny(a, " \t\n;&") {
			continue
		}
		words := shellWords(a)
		for j, w := range words {
			if isServer(w) {
				return append(words[j:], argv[i+1:]...)
			}
		}
	}
	return nil
}

// shellWords splits a shell command line on blanks, honouring simple '...'
// and "..." quotes.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	in, have := false, false
	var q byte
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case q != 0:
			if ch == q {
				q = 0
			} else {
				cur.WriteByte(ch)
			}
		case ch == '\'' || ch == '"':
			q = ch
			have = true
		case ch == ' ' || ch == '\t' || ch == '\n' || ch == ';' || ch == '&':
			if in || have {
				words = append(words, cur.String())
				cur.Reset()
			}
			in, have = false, false
		default:
			cur.WriteByte(ch)
			in = true
		}
	}
	if in || have {
		words = append(words, cur.String())
	}
	return words
}

// redisServerArgRules: Redis loses its data when the update turns AOF on at
// start (it then loads only the new, empty AOF, ignores dump.rdb, and
// overwrites it on its next save), moves --dir away from the data, or turns
// the RDB saves off with AOF off.
func redisServerArgRules(cur, next swarm.ServiceSpec) []string {
	ca, na := redisArgsOf(cur), redisArgsOf(next)
	if !na.Found {
		return nil
	}
	var out []string
	on := func(b *bool) bool { return b != nil && *b }
	if on(na.AppendOnly) && !on(ca.AppendOnly) {
		out = append(out, "--appendonly yes at start makes Redis load only its (new, empty) append-only file and ignore dump.rdb, which it then overwrites: every key is lost. Turn AOF on at runtime first (redis-cli CONFIG SET appendonly yes, which writes the AOF from memory), then update (or use --force)")
	}
	sameImage := RepositoryName(imageOf(cur)) == RepositoryName(imageOf(next))
	if curDir, newDir := RedisDir(cur, ca), RedisDir(next, na); sameImage && curDir != newDir {
		out = append(out, "the update moves Redis' data directory from "+curDir+" to "+newDir+" (--dir, --workdir): Redis starts there with no data (keep it in "+curDir+", or use --force)")
	}
	if na.Save != nil && *na.Save == "" && !on(na.AppendOnly) && (ca.Save == nil || *ca.Save != "") {
		out = append(out, `--save "" with appendonly off turns persistence off: Redis writes nothing to `+RedisDir(next, na)+" and the next restart loses every key (keep the save schedule, turn AOF on at runtime first, or use --force)")
	}
	return out
}

func redisArgsOf(spec swarm.ServiceSpec) RedisArgs {
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
		return ParseRedisArgs(cs.Command, cs.Args)
	}
	return RedisArgs{}
}

func imageOf(spec swarm.ServiceSpec) string {
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
		return cs.Image
	}
	return ""
}

// RedisDir is Redis' data directory: --dir (relative to the working
// directory, which the image sets to its data path), else the image's data
// path.
func RedisDir(spec swarm.ServiceSpec, sa RedisArgs) string {
	base := "/data"
	if known := KnownDataPaths(imageOf(spec)); len(known) > 0 {
		base = known[0]
	}
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil && cs.Dir != "" {
		base = cs.Dir
	}
	dir := strings.Trim(sa.Dir, `"'`)
	if dir == "" {
		return path.Clean(base)
	}
	if !path.IsAbs(dir) {
		dir = path.Join(base, dir)
	}
	return path.Clean(dir)
}
