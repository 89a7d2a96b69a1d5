//go:build e2e

package e2e

import (
	"os"
	"testing"

	"github.com/docker-stateful/docker-stateful/e2e/cluster"
)

// C is the swarm every test of this package runs on: the one of
// DST_CLUSTER_ENV if set, else one brought up (and torn down) here.
var C *cluster.Cluster

func TestMain(m *testing.M) { os.Exit(cluster.Main(m, &C)) }
