// Package engine is what docker-stateful knows about database engines, in
// one place: the registry (registry.go) names, for each engine, the images it
// is known by, the port it listens on, where it keeps its data, the stop
// signal and grace period it needs, the rules the update guard applies to its
// server arguments, and the flags that reach it. Images that run no engine the
// plugin verifies but whose data paths are known (MySQL, MongoDB, ...) are
// listed too. create, the guard, hints, check, ls, inventory and compose read
// it; nothing else keeps image names.
//
// The registry is data and matching only: it links no database client, so
// the rule packages that read it stay free of go-redis and pgx (see the
// dependency test in plugin/deps_test.go).
//
// Adding an engine to the registry: one Kind in kinds, its images in images
// (with their data paths), and, when the guard should judge its command line,
// a ServerArgRules function (registry_redis.go is the example).
package engine
