// Package connerr turns the errors of a database connection into one line a user can act
// on: the Redis and PostgreSQL clients share the network part.
package connerr

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
)

// Error is a connection error said in one line (Msg), of a Kind the engine defines
// ("unreachable", "auth", "tls", ...), wrapping what the driver returned.
type Error struct {
	Addr string
	Kind string
	Msg  string
	Err  error
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// Unreachable says in a few words why the network did not reach the server ("connection
// refused", "timed out", ...), or "" when err is not a network failure.
func Unreachable(err error) string {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "no route to host"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network is unreachable"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.As(err, &dnsErr):
		return "no such host " + dnsErr.Name
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the server"
	case errors.As(err, &opErr) && opErr.Net == "ssh": // plugin/sshdial: the whole story
		return opErr.Err.Error()
	case errors.As(err, &opErr) && opErr.Timeout(), errors.Is(err, os.ErrDeadlineExceeded): // go-redis returns a read timeout bare
		return "timed out"
	case errors.As(err, &opErr):
		return LastPart(opErr.Err.Error())
	}
	return ""
}

// LastPart is what follows the last ": " of s (the cause, without the driver's context).
func LastPart(s string) string {
	if i := strings.LastIndex(s, ": "); i >= 0 && i+2 < len(s) {
		return s[i+2:]
	}
	return s
}
