package commands

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/docker-stateful/docker-stateful/plugin/verifyflow"
)

// redisFlags are how docker stateful reaches a service's Redis and where it
// keeps snapshots (update --verify, snapshot, verify).
type redisFlags struct {
	url          string
	caCert       string
	cert, key    string
	tlsInsecure  bool
	port         uint
	passwordFile string
	stateDir     string
}

func addRedisFlags(flags *pflag.FlagSet, r *redisFlags) {
	flags.StringVar(&r.url, "redis-url", "", "Reach Redis at redis://[user@]host:port or rediss://... (default: the service's published port for 6379); every database is checked, /N or ?db=N checks database N only; no password here, use REDISCLI_AUTH")
	flags.StringVar(&r.caCert, "redis-cacert", "", "CA certificates (PEM) to verify a rediss:// server")
	flags.StringVar(&r.cert, "redis-cert", "", "Client certificate (PEM) for a rediss:// server that asks for one (Redis' default tls-auth-clients yes); with --redis-key")
	flags.StringVar(&r.key, "redis-key", "", "Private key (PEM) of --redis-cert")
	flags.BoolVar(&r.tlsInsecure, "redis-tls-insecure", false, "Do not verify the rediss:// server's certificate (warns; anyone on the path can read and change the data)")
	flags.UintVar(&r.port, "redis-port", 6379, "Container port Redis listens on, to find the service's published port")
	flags.StringVar(&r.passwordFile, "redis-password-file", "", "Read the Redis password from this file (default: the REDISCLI_AUTH environment variable)")
	flags.StringVar(&r.stateDir, "state-dir", "", "Keep snapshots in this directory (default $XDG_STATE_HOME/docker-stateful)")
}

func (r *redisFlags) changed(flags *pflag.FlagSet) string {
	for _, n := range []string{"redis-url", "redis-cacert", "redis-cert", "redis-key", "redis-tls-insecure", "redis-port", "redis-password-file", "state-dir"} {
		if f := flags.Lookup(n); f != nil && f.Changed {
			return n
		}
	}
	return ""
}

func (r *redisFlags) options(timeout time.Duration) (verifyflow.Options, error) {
	if r.port == 0 || r.port > 65535 {
		return verifyflow.Options{}, fmt.Errorf("--redis-port %d: must be a port number (1-65535)", r.port)
	}
	return verifyflow.Options{
		RedisURL:     r.url,
		CACert:       r.caCert,
		ClientCert:   r.cert,
		ClientKey:    r.key,
		TLSInsecure:  r.tlsInsecure,
		RedisPort:    uint32(r.port),
		PasswordFile: r.passwordFile,
		Getenv:       redisGetenv,
		StateDir:     r.stateDir,
		Timeout:      timeout,
	}, nil
}
