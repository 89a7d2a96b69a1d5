package engine

// Outcome is the --format json document of one update --verify, whichever
// the engine: every engine's document has the same fields (service, engine,
// snapshot, warnings, report, rolled_back, phases, write_pause_ms, verdict,
// error) plus its own; Summary is what callers read of it.
type Outcome interface {
	Summary() Summary
}

// Summary is what every engine's update --verify document says about the run.
type Summary struct {
	Service    string
	Engine     string // the engine's registry name: "redis", "postgres"
	Snapshot   string // the cut's snapshot ID, "" when none was taken
	RolledBack bool
	Verdict    string // verified, failed, unverified, refused, error
	Error      string // why, when not verified
}
