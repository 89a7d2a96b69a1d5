// Package stateful holds what create, update, check and the hooks share about
// a stateful service: which paths hold its data, which mount holds each path,
// which node it is pinned to, and the labels docker-stateful records on it.
//
// Everything here reasons from a swarm.ServiceSpec (plus the image's declared
// volumes, which the caller looks up), never from cobra or a live daemon, so
// the rules are unit-tested without one.
package stateful
