package redisstate

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeTestCA writes ca.pem and a server cert/key for 127.0.0.1 signed by it.
func writeTestCA(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(srvKey)
	ca, cert, key = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "srv.pem"), filepath.Join(dir, "srv.key")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600)
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}), 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return
}

func TestTLSWithCAFile(t *testing.T) {
	bin := needRedis(t)
	dir := t.TempDir()
	ca, cert, key := writeTestCA(t, dir)
	r := &testRedis{t: t, bin: bin, Port: freePort(t), Dir: t.TempDir(),
		TLS: []string{"--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", ca, "--tls-auth-clients", "no"}}
	r.start()
	t.Cleanup(r.stop)
	ctx := context.Background()

	o, err := ParseURL("rediss://" + r.Addr() + "/0")
	if err != nil {
		t.Fatal(err)
	}
	o.CAFile = ca
	c, err := NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WaitReady(ctx, 5*time.Second, nil); err != nil {
		t.Fatalf("TLS with CA file: %v", err)
	}

	// A custom Dialer (sshdial's): TLS still runs over its connections.
	dialed := 0
	od := o
	od.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialed++
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	cd, err := NewClient(od)
	if err != nil {
		t.Fatal(err)
	}
	defer cd.Close()
	if _, err := cd.WaitReady(ctx, 5*time.Second, nil); err != nil || dialed == 0 {
		t.Fatalf("TLS over a custom Dialer (%d dials): %v", dialed, err)
	}

	o.CAFile = "" // system roots do not know the test CA
	c2, _ := NewClient(o)
	defer c2.Close()
	err = c2.Ping(ctx)
	if err == nil || !strings.HasPrefix(err.Error(), "TLS handshake with Redis at "+r.Addr()+" failed:") || strings.Contains(err.Error(), "\n") {
		t.Errorf("unknown CA: %v", err)
	}
	t.Logf("unknown CA error: %v", err)
	t0 := time.Now()
	if _, err := c2.WaitReady(ctx, 5*time.Second, nil); err == nil || time.Since(t0) > time.Second {
		t.Errorf("WaitReady should fail at once on a TLS verification error: %v after %s", err, time.Since(t0))
	}

	o.CAFile = filepath.Join(dir, "missing.pem")
	if _, err := NewClient(o); err == nil {
		t.Error("missing CA file accepted")
	}
}

// writeClientCert writes a client certificate signed by a new CA; returns the CA and the pair.
func writeClientCert(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(10), Subject: pkix.Name{CommonName: "client CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	caCert, _ := x509.ParseCertificate(caDER)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(11), Subject: pkix.Name{CommonName: "docker-stateful"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(k)
	ca, cert, key = filepath.Join(dir, "client-ca.pem"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600)
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return
}

// Redis' default tls-auth-clients yes: without a client certificate the handshake fails
// with one line; with --redis-cert/--redis-key every step works (the fingerprint's own
// RESP connections too). Verification of the server stays on unless TLSInsecure.
func TestTLSClientCertificate(t *testing.T) {
	bin := needRedis(t)
	dir := t.TempDir()
	ca, srvCert, srvKey := writeTestCA(t, dir)
	clientCA, cert, key := writeClientCert(t, dir)
	r := &testRedis{t: t, bin: bin, Port: freePort(t), Dir: t.TempDir(),
		TLS: []string{"--tls-cert-file", srvCert, "--tls-key-file", srvKey, "--tls-ca-cert-file", clientCA}} // tls-auth-clients: default (yes)
	r.start()
	t.Cleanup(r.stop)
	ctx := context.Background()
	o, _ := ParseURL("rediss://" + r.Addr())
	o.CAFile = ca

	c, _ := NewClient(o)
	defer c.Close()
	err := c.Ping(ctx)
	if err == nil || !strings.HasPrefix(err.Error(), "TLS handshake with Redis at ") && !strings.HasPrefix(err.Error(), "cannot reach Redis at ") || strings.Contains(err.Error(), "\n") {
		t.Errorf("no client certificate: %v", err)
	}
	t.Logf("without a client certificate: %v", err)

	o.CertFile, o.KeyFile = cert, key
	c2, err := NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c2.WaitReady(ctx, 5*time.Second, nil); err != nil {
		t.Fatalf("with a client certificate: %v", err)
	}
	c2.Redis().Set(ctx, "k", "v", 0)
	c2.Redis().HSet(ctx, "h", "f", "v")
	st, _ := OpenStore(t.TempDir())
	snap, err := TakeSnapshot(ctx, c2, st, "svc", nil, FingerprintOptions{})
	if err != nil || snap.Summary.Keys != 2 {
		t.Fatalf("fingerprint over TLS with a client certificate: %v", err)
	}

	// verification stays on: an unknown server CA fails, TLSInsecure (explicit) passes
	o.CAFile = ""
	c3, _ := NewClient(o)
	defer c3.Close()
	if err := c3.Ping(ctx); err == nil {
		t.Error("server certificate not verified")
	}
	o.TLSInsecure = true
	c4, _ := NewClient(o)
	defer c4.Close()
	if err := c4.Ping(ctx); err != nil {
		t.Errorf("TLSInsecure: %v", err)
	}

	for name, bad := range map[string]Options{
		"cert without key": {Addr: r.Addr(), TLS: true, CertFile: cert},
		"key without cert": {Addr: r.Addr(), TLS: true, KeyFile: key},
		"cert without TLS": {Addr: r.Addr(), CertFile: cert, KeyFile: key},
		"insecure w/o TLS": {Addr: r.Addr(), TLSInsecure: true},
		"key is not a key": {Addr: r.Addr(), TLS: true, CertFile: cert, KeyFile: cert},
	} {
		if _, err := NewClient(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
