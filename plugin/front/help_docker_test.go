package front

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// installed is a DOCKER_CONFIG with the plugin in cli-plugins (a symlink
// to the front: $DST_PLUGIN_BINARY, as make build writes it, else the one
// TestMain built), and the environment for the docker binary using it.
func installed(tb testing.TB) []string {
	tb.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		tb.Skip("no docker CLI (make deps installs it)")
	}
	var err error
	front := os.Getenv("DST_PLUGIN_BINARY")
	if front == "" {
		if bins.err != nil {
			tb.Fatal(bins.err)
		}
		front = bins.front
	}
	if front, err = filepath.Abs(front); err != nil {
		tb.Fatal(err)
	}
	config := tb.TempDir()
	plugins := filepath.Join(config, "cli-plugins")
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.Symlink(front, filepath.Join(plugins, "docker-stateful")); err != nil {
		tb.Fatal(err)
	}
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tb.TempDir(), "DOCKER_CONFIG=" + config}
}

// TestHelpThroughDocker: through the real docker binary, docker stateful's
// help is the front's (the full binary it would exec is missing) and the
// same bytes as the full binary prints.
func TestHelpThroughDocker(t *testing.T) {
	needBins(t)
	env := append(installed(t), FullEnv+"=/nonexistent/docker-stateful")
	for _, tc := range []struct{ docker, plugin []string }{
		{[]string{"stateful", "--help"}, []string{"stateful", "--help"}},
		{[]string{"help", "stateful"}, []string{"stateful", "--help"}},
		{[]string{"stateful", "update", "--help"}, []string{"stateful", "update", "--help"}},
		{[]string{"stateful", "create", "-h"}, []string{"stateful", "create", "-h"}},
	} {
		cmd := exec.Command("docker", tc.docker...)
		cmd.Env = env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil || errb.Len() > 0 {
			t.Fatalf("docker %q: %v\n%s", tc.docker, err, errb.String())
		}
		want, wantErr, code := runBinary(t, bins.full, testEnv(t), tc.plugin...)
		if out.String() != want || wantErr != "" || code != 0 {
			t.Errorf("docker %q:\n%s\nfull binary %q (rc %d, %q):\n%s", tc.docker, out.String(), tc.plugin, code, wantErr, want)
		}
	}
}

// BenchmarkHelp compares docker stateful --help with docker's builtin
// docker service --help, and the same for update, alternating them (no
// daemon is involved):
//
//	make bench-help
//
// Target: stateful/builtin ≤ 1.15 (reported as the "ratio" metric).
func BenchmarkHelp(b *testing.B) {
	env := installed(b)
	for _, verb := range [][]string{nil, {"update"}} {
		name := strings.Join(append([]string{"stateful"}, verb...), " ")
		b.Run(name, func(b *testing.B) {
			benchmarkPair(b, env,
				append(append([]string{"service"}, verb...), "--help"),
				append(append([]string{"stateful"}, verb...), "--help"))
		})
	}
}

func benchmarkPair(b *testing.B, env, builtin, ours []string) {
	run := func(args ...string) time.Duration {
		cmd := exec.Command("docker", args...)
		cmd.Env = env
		t0 := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("docker %v: %v\n%s", args, err, out)
		}
		return time.Since(t0)
	}
	for i := 0; i < 3; i++ {
		run(builtin...)
		run(ours...)
	}
	var tb, to []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tb = append(tb, run(builtin...))
		to = append(to, run(ours...))
	}
	mb, mo := median(tb), median(to)
	b.ReportMetric(float64(mb.Microseconds())/1000, "builtin-ms")
	b.ReportMetric(float64(mo.Microseconds())/1000, "stateful-ms")
	b.ReportMetric(float64(mo)/float64(mb), "ratio")
	if b.N < 10 {
		return // testing's first probe run (b.N == 1)
	}
	fmt.Fprintf(os.Stderr, "help: docker %s %s, docker %s %s (median of %d, alternating): %.2fx\n",
		strings.Join(builtin, " "), mb, strings.Join(ours, " "), mo, b.N, float64(mo)/float64(mb))
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	slices.Sort(s)
	return s[len(s)/2]
}
