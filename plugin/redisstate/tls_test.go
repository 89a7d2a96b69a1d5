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
