package redisstate

import "strings"

// serverOf names the server of an INFO reply and its own version. Valkey answers
// redis_version:7.2.4 (fixed, for clients that test it) and says what it is in
// server_name:valkey and valkey_version; Redis has no server_name.
func serverOf(m map[string]string) (name, version string) {
	name, version = "Redis", m["redis_version"]
	switch sn := strings.TrimSpace(m["server_name"]); strings.ToLower(sn) {
	case "", "redis":
	case "valkey":
		name = "Valkey"
	default:
		name = sn
	}
	if v := m[strings.ToLower(name)+"_version"]; v != "" {
		version = v
	}
	return name, version
}

// Describe is the server as people know it: "Redis 7.0.15", "Valkey 8.1.1". Version
// (redis_version) stays what the server claims for compatibility: the feature checks
// (AtLeast) and the RDB version go by it.
func (s ServerInfo) Describe() string { return DescribeServer(s.Server, s.ServerVersion, s.Version) }

// DescribeServer describes a server from what a record kept: its name and own version
// (empty in records written before they were kept: Redis then) and its redis_version.
func DescribeServer(name, version, redisVersion string) string {
	if name == "" {
		name = "Redis"
	}
	if version == "" {
		version = redisVersion
	}
	if version == "" {
		return name
	}
	return name + " " + version
}

// Describe is the server the cut was taken on ("Valkey 8.1.1"); "Redis <redis_version>"
// for a cut recorded before the server was kept.
func (i CutInfo) Describe() string {
	if i.Server != "" {
		return i.Server
	}
	return DescribeServer("", "", i.RedisVersion)
}

// Describe is the server the snapshot was taken from, as CutInfo.Describe.
func (s Summary) Describe() string {
	if s.Server != "" {
		return s.Server
	}
	return DescribeServer("", "", s.RedisVersion)
}
