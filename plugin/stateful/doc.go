// Package stateful is the model that create, update, update --verify and
// the hook's hint share about a stateful service: which paths hold its data
// and why (DataPathsOf), where each one lives (Locate: a Location of a Kind,
// Persistent or not, NodeLocal or not, with the one wording every message
// uses), which nodes there are and which one a pin names (Node, Cluster),
// and the labels docker stateful records on it.
//
// Everything here reasons from a swarm.ServiceSpec and facts the caller
// looks up, never from cobra; the one look-up it does itself, an image's
// VOLUMEs (LookupImageVolumes), goes through an injected ImageInspector. So
// the rules are unit-tested without a daemon.
package stateful
