// Command docker-stateful is what docker execs for `docker stateful`: a thin
// front, standard library only (see plugin/front), that answers docker's
// metadata, the hot completion requests and --help itself and execs the full plugin
// (cmd/docker-stateful-full, installed as docker-stateful.d/docker-stateful
// next to it) for everything else.
package main

import "github.com/docker-stateful/docker-stateful/plugin/front"

func main() { front.Main() }
