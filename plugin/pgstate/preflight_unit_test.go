package pgstate

import "testing"

func TestDataDirFromEnvAndCoveringMount(t *testing.T) {
	if d := DataDirFromEnv([]string{"A=1"}); d != DefaultDataDir {
		t.Fatal(d)
	}
	if d := DataDirFromEnv([]string{"PGDATA=/x/", "PGDATA=/var/lib/postgresql/data/pgdata"}); d != "/var/lib/postgresql/data/pgdata" {
		t.Fatal(d)
	}
	for _, c := range []struct {
		dir     string
		targets []string
		want    string
	}{
		{"/var/lib/postgresql/data", []string{"/var/lib/postgresql/data"}, "/var/lib/postgresql/data"},
		{"/var/lib/postgresql/data/pgdata", []string{"/var/lib/postgresql", "/var/lib/postgresql/data"}, "/var/lib/postgresql/data"},
		{"/var/lib/postgresql/data", []string{"/var/lib/postgresql/data2", "/data"}, ""},
		{"/var/lib/postgresql/data", nil, ""},
	} {
		if got := coveringMount(c.dir, c.targets); got != c.want {
			t.Errorf("coveringMount(%s, %v) = %q, want %q", c.dir, c.targets, got, c.want)
		}
	}
}
