package redisstate

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/docker-stateful/docker-stateful/plugin/engine"
	"github.com/docker-stateful/docker-stateful/plugin/finding"
)

// Finding is one refusal or warning of Preflight: docker stateful's one
// shape of a problem (code, path, message, fix).
type Finding = finding.Finding

// Finding codes.
const (
	CodeDirNotOnVolume     = "dir-not-on-volume"
	CodeSaveFailing        = "rdb-save-failing"
	CodeAOFFailing         = "aof-write-failing"
	CodeAOFTurnsOn         = "aof-turns-on"
	CodeNoPersistence      = "no-persistence"
	CodeSaveSlowerThanStop = "save-slower-than-grace"
	CodeGraceOver60s       = "grace-over-60s"
	CodeConfigDisabled     = "config-disabled"
	CodeOldRedis           = "redis-too-old"
	CodeLoading            = "loading"
	CodeCluster            = "cluster-mode"
)

// ErrCluster is returned by Fingerprint for a cluster-mode Redis: keys of one node are
// only a part of the dataset and multi-key reads across slots fail (CROSSSLOT).
var ErrCluster = errors.New("Redis runs in cluster mode (cluster_enabled:1): docker stateful cannot cut or fingerprint a Redis Cluster; verify each node's service without --verify, or use a standalone Redis")

// PreflightInput is what the caller knows about the service.
type PreflightInput struct {
	// MountTargets are the container paths of the service's mounts whose data outlives
	// the task: named volumes, binds, cluster volumes (TaskTemplate.ContainerSpec.Mounts[]
	// .Target). Not anonymous volumes (no Source) nor tmpfs: verifyflow.MountTargets.
	MountTargets []string
	// StopGrace is the service's stop grace period (nil in the spec = 10 s; pass 10 s).
	StopGrace time.Duration
	// NewAppendOnly is whether the new spec's redis-server args set --appendonly:
	// nil = not set / unknown (then AOF stays as it is).
	NewAppendOnly *bool
}

// PersistenceConfig is what Preflight found (CONFIG GET, or assumed defaults).
type PersistenceConfig struct {
	Dir           string `json:"dir"`
	DBFilename    string `json:"dbfilename"`
	AppendOnly    bool   `json:"appendonly"`
	AppendDirName string `json:"appenddirname,omitempty"`
	Save          string `json:"save"`
	Assumed       bool   `json:"assumed"` // CONFIG unavailable: official image defaults assumed
}

// PreflightResult lists refusals (the update must not go ahead) and warnings.
type PreflightResult struct {
	Server   ServerInfo        `json:"server"`
	Config   PersistenceConfig `json:"config"`
	Refusals []Finding         `json:"refusals"`
	Warnings []Finding         `json:"warnings"`
	// LastSaveDuration is rdb_last_bgsave_time_sec (-1 = never).
	LastSaveDuration time.Duration `json:"last_save_duration_ns"`
}

// OK reports whether there is no refusal.
func (r *PreflightResult) OK() bool { return len(r.Refusals) == 0 }

func (r *PreflightResult) refuse(code, msg, hint string) {
	r.Refusals = append(r.Refusals, Finding{Code: code, Message: msg, Fix: hint})
}

func (r *PreflightResult) warn(code, msg, hint string) {
	r.Warnings = append(r.Warnings, Finding{Code: code, Message: msg, Fix: hint})
}

// Preflight checks that the data can survive a replacement of the Redis process. It only
// reads (CONFIG GET, INFO); findings are returned as data for the caller to print. An error
// is returned only when Redis cannot be queried at all.
func Preflight(ctx context.Context, c *Client, in PreflightInput) (*PreflightResult, error) {
	si, err := c.ServerInfo(ctx)
	if err != nil {
		return nil, err
	}
	r := &PreflightResult{Server: *si, Refusals: []Finding{}, Warnings: []Finding{}}
	p, err := c.Info(ctx, "persistence")
	if err != nil {
		return nil, err
	}
	repl, _ := c.Info(ctx, "replication")
	if si.ClusterEnabled {
		r.refuse(CodeCluster, "Redis runs in cluster mode (cluster_enabled:1): a cut and fingerprint of one node would not cover the cluster's data",
			"--verify supports standalone Redis only; update without --verify")
	}
	if p["loading"] == "1" {
		r.refuse(CodeLoading, "Redis is still loading its dataset", "wait until loading:0")
	}
	if !si.AtLeast(6, 2) {
		r.refuse(CodeOldRedis, fmt.Sprintf("%s cannot pause only writes (CLIENT PAUSE WRITE needs 6.2+)", si.Describe()), "")
	}

	cfg, cfgErr := readConfig(ctx, c)
	if cfgErr != nil {
		cfg = PersistenceConfig{Dir: "/data", DBFilename: "dump.rdb", AppendOnly: p["aof_enabled"] == "1",
			AppendDirName: "appendonlydir", Save: "3600 1 300 100 60 10000", Assumed: true}
		r.warn(CodeConfigDisabled, "CONFIG is disabled or renamed ("+firstLine(cfgErr.Error())+"); assuming the official image defaults (dir /data, dump.rdb)",
			"the data directory cannot be checked against the service's mounts")
	}
	r.Config = cfg

	// 1. data directory on a mounted volume
	if !cfg.Assumed {
		if tgt := coveringMount(cfg.Dir, in.MountTargets); tgt == "" {
			msg := fmt.Sprintf("Redis writes its data to %s, which is not on a volume or bind mount of the service that outlives the task (an anonymous volume does not)", cfg.Dir)
			hint := "mount a named volume there (e.g. --mount-add type=volume,source=NAME,target=" + cfg.Dir + ")"
			if len(in.MountTargets) > 0 {
				hint = "mounts: " + strings.Join(in.MountTargets, ", ") + "; " + hint
			}
			r.refuse(CodeDirNotOnVolume, msg, hint)
		}
	} else if len(in.MountTargets) > 0 && coveringMount(cfg.Dir, in.MountTargets) == "" {
		r.warn(CodeDirNotOnVolume, fmt.Sprintf("assumed data directory %s is not on a mount of the service", cfg.Dir), "")
	}

	// 2. persistence already failing
	if p["rdb_last_bgsave_status"] == "err" {
		r.refuse(CodeSaveFailing, "Redis' last save failed (rdb_last_bgsave_status:err); it would also fail at shutdown",
			"check disk space and permissions of "+cfg.Dir+" in the Redis log")
	}
	if p["aof_enabled"] == "1" && p["aof_last_write_status"] == "err" {
		r.refuse(CodeAOFFailing, "Redis cannot write its append-only file (aof_last_write_status:err)", "check the Redis log")
	}

	// 3. AOF turned on while data is only in the RDB
	curAOF := p["aof_enabled"] == "1" || cfg.AppendOnly
	if in.NewAppendOnly != nil && *in.NewAppendOnly && !curAOF {
		r.refuse(CodeAOFTurnsOn, "the update turns on appendonly while the data is only in "+cfg.DBFilename+": the new Redis would load the (empty) AOF and start empty",
			"first enable AOF at runtime (CONFIG SET appendonly yes, wait for aof_rewrite_in_progress:0), then update")
	}
	newAOF := curAOF
	if in.NewAppendOnly != nil {
		newAOF = *in.NewAppendOnly
	}

	// 4. no persistence at all
	if strings.TrimSpace(strings.Trim(cfg.Save, `"`)) == "" && !newAOF {
		r.warn(CodeNoPersistence, `save "" and appendonly no: Redis does not save on shutdown`,
			"this update is protected by the explicit save, but a plain update will lose the data; set save points or appendonly yes")
	}

	// 5. last save vs stop grace period
	grace := in.StopGrace
	if grace <= 0 {
		grace = 10 * time.Second
	}
	lst := infoInt(p, "rdb_last_bgsave_time_sec")
	r.LastSaveDuration = time.Duration(lst) * time.Second
	if lst < 0 {
		r.LastSaveDuration = -1
	}
	need := r.LastSaveDuration
	if n := infoInt(repl, "connected_slaves"); n > 0 {
		to := 10 * time.Second
		if st, err := c.rdb.ConfigGet(ctx, "shutdown-timeout").Result(); err == nil {
			if v, err := strconv.Atoi(st["shutdown-timeout"]); err == nil {
				to = time.Duration(v) * time.Second
			}
		}
		need += to
	}
	if need > 0 && need >= grace {
		r.warn(CodeSaveSlowerThanStop, fmt.Sprintf("the last save took %s (+ replica wait), longer than the stop grace period %s: the shutdown save may be killed", need, grace),
			"raise --stop-grace-period (at most 60s)")
	}
	if in.StopGrace > 60*time.Second {
		r.warn(CodeGraceOver60s, fmt.Sprintf("stop grace period %s is over 60 s: Swarm starts the new task after 1 minute anyway, two Redis processes may share the volume", in.StopGrace), "keep it at most 60s")
	}
	return r, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func readConfig(ctx context.Context, c *Client) (PersistenceConfig, error) {
	var cfg PersistenceConfig
	for _, name := range []string{"dir", "dbfilename", "appendonly", "appenddirname", "save"} {
		m, err := c.rdb.ConfigGet(ctx, name).Result()
		if err != nil {
			return cfg, err
		}
		v := m[name]
		switch name {
		case "dir":
			if v == "" {
				return cfg, fmt.Errorf("CONFIG GET dir returned nothing")
			}
			cfg.Dir = v
		case "dbfilename":
			cfg.DBFilename = v
		case "appendonly":
			cfg.AppendOnly = v == "yes"
		case "appenddirname":
			cfg.AppendDirName = v
		case "save":
			cfg.Save = v
		}
	}
	return cfg, nil
}

// coveringMount returns the mount target that contains dir ("" = none).
func coveringMount(dir string, targets []string) string {
	dir = path.Clean(dir)
	best := ""
	for _, t := range targets {
		t = path.Clean(t)
		if t == "" || t == "." {
			continue
		}
		if dir == t || t == "/" || strings.HasPrefix(dir, t+"/") {
			if len(t) > len(best) {
				best = t
			}
		}
	}
	return best
}

// ServerArgs are the persistence-related options found in a redis-server
// command line (the engine registry parses them: the guard reads them too).
type ServerArgs = engine.RedisArgs

// ParseServerArgs is engine.ParseRedisArgs.
func ParseServerArgs(command, args []string) ServerArgs { return engine.ParseRedisArgs(command, args) }

// SaveGraceWarning compares a measured save duration (CutInfo.SaveDuration after Cut: the
// shutdown save writes the same RDB) with the stop grace period. rdb_last_bgsave_time_sec,
// used by Preflight, is only known once a BGSAVE ran.
func SaveGraceWarning(save, grace time.Duration) (Finding, bool) {
	if grace <= 0 {
		grace = 10 * time.Second
	}
	if save < grace*8/10 {
		return Finding{}, false
	}
	return Finding{Code: CodeSaveSlowerThanStop,
		Message: fmt.Sprintf("saving the dataset took %s, close to or over the stop grace period %s: the shutdown save may be killed", save.Round(10*time.Millisecond), grace),
		Fix:     "raise --stop-grace-period (at most 60s)"}, true
}
