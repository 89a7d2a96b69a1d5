package pgstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	o, err := ParseURL("postgres://app@db.example:6432/shop?sslmode=verify-full")
	if err != nil {
		t.Fatal(err)
	}
	if o.Host != "db.example" || o.Port != "6432" || o.User != "app" || o.Database != "shop" || o.Params.Get("sslmode") != "verify-full" {
		t.Fatalf("parsed %+v", o)
	}
	o, err = ParseURL("postgresql://10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if o.Port != "5432" || o.User != "postgres" || o.Database != "postgres" {
		t.Fatalf("defaults: %+v", o)
	}
	for _, bad := range []string{
		"postgres://app:secret@h/db", "postgres://h/db?password=x", "redis://h", "postgres:///db",
		"postgres://h/db?sslmode=sometimes", "postgres://a,b/db", "postgres://h/db?host=evil", "postgres://h/db?service=x",
	} {
		if _, err := ParseURL(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error shows the password: %v", bad, err)
		}
	}
}

func TestPasswordIsNeverPrinted(t *testing.T) {
	o, _ := ParseURL("postgres://app@h/db")
	if err := o.LoadPassword(func(k string) string {
		if k == "PGPASSWORD" {
			return "hunter2"
		}
		return ""
	}, ""); err != nil {
		t.Fatal(err)
	}
	if o.Password.Reveal() != "hunter2" {
		t.Fatal("PGPASSWORD not used")
	}
	b, _ := json.Marshal(o)
	for _, s := range []string{o.String(), fmt.Sprintf("%v %+v %#v", o, o, o), string(b)} {
		if strings.Contains(s, "hunter2") {
			t.Fatalf("password printed: %s", s)
		}
	}
	f := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(f, []byte("fromfile\n"), 0o600)
	if err := o.LoadPassword(nil, f); err != nil || o.Password.Reveal() != "fromfile" {
		t.Fatalf("password file: %v %q", err, o.Password.Reveal())
	}
}

func TestConnectErrors(t *testing.T) {
	p := startPG(t)
	ctx := context.Background()
	if _, err := p.clientAs("postgres", "wrong").ServerInfo(ctx); !IsAuthError(err) {
		t.Fatalf("wrong password: %v", err)
	} else if strings.Contains(err.Error(), "wrong") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("error line: %q", err)
	}
	c := p.client()
	si, err := c.WaitReady(ctx, 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !si.Superuser || si.InRecovery || si.DataDirectory != p.Data || si.RunID() == "" {
		t.Fatalf("server info %+v", si)
	}
	// .pgpass-style file through the driver (no password in the options)
	pass := filepath.Join(t.TempDir(), "pgpass")
	os.WriteFile(pass, []byte(fmt.Sprintf("127.0.0.1:%d:*:postgres:%s\n", p.Port, p.Password)), 0o600)
	o, _ := ParseURL(p.URL("postgres", "postgres") + "&passfile=" + pass)
	c2, err := NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGPASSWORD", "")
	if _, err := c2.ServerInfo(ctx); err != nil {
		t.Fatalf("with a passfile: %v", err)
	}
	// sslmode is honoured: the test server has no TLS, so require fails, and says why
	ot, _ := ParseURL(strings.Replace(p.URL("postgres", "postgres"), "sslmode=disable", "sslmode=require", 1))
	ot.Password = Secret(p.Password)
	ct, _ := NewClient(ot)
	var ce *ConnectError
	if _, err := ct.ServerInfo(ctx); !errors.As(err, &ce) || ce.Kind != "tls" {
		t.Fatalf("sslmode=require against a server without TLS: %v", err)
	}
	// nothing listens: one line, unreachable, bounded by the deadline
	o.Port = fmt.Sprint(freePort(t))
	c3, _ := NewClient(o)
	start := time.Now()
	_, err = c3.WaitReady(ctx, time.Second, nil)
	if err == nil || time.Since(start) > 5*time.Second || !strings.Contains(err.Error(), "not ready after") {
		t.Fatalf("unreachable: %v after %s", err, time.Since(start))
	}
}

func TestOptionsStringRedacts(t *testing.T) {
	o, _ := ParseURL("postgres://app@h:5433/db?sslmode=require")
	o.Password = Secret("pw")
	if s := o.String(); s != "postgres://app:***@h:5433/db?sslmode=require" {
		t.Fatalf("String() = %s", s)
	}
}
