package connerr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
)

func TestUnreachable(t *testing.T) {
	op := func(err error) error { return &net.OpError{Op: "dial", Net: "tcp", Err: err} }
	for _, c := range []struct {
		err  error
		want string
	}{
		{op(os.NewSyscallError("connect", syscall.ECONNREFUSED)), "connection refused"},
		{fmt.Errorf("dial: %w", op(syscall.EHOSTUNREACH)), "no route to host"},
		{op(syscall.ENETUNREACH), "network is unreachable"},
		{op(syscall.ECONNRESET), "connection reset"},
		{&net.DNSError{Name: "db.example", Err: "no such host"}, "no such host db.example"},
		{io.ErrUnexpectedEOF, "connection closed by the server"},
		{&net.OpError{Op: "dial", Net: "ssh", Err: errors.New("ssh: connect to host n1: refused")}, "ssh: connect to host n1: refused"},
		{op(&timeoutErr{}), "timed out"},
		{fmt.Errorf("read: %w", os.ErrDeadlineExceeded), "timed out"},
		{op(errors.New("read tcp: use of closed network connection")), "use of closed network connection"},
		{errors.New("WRONGPASS invalid username-password pair"), ""},
		{context.Canceled, ""},
	} {
		if got := Unreachable(c.err); got != c.want {
			t.Errorf("Unreachable(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

type timeoutErr struct{}

func (*timeoutErr) Error() string   { return "i/o timeout" }
func (*timeoutErr) Timeout() bool   { return true }
func (*timeoutErr) Temporary() bool { return true }

func TestLastPart(t *testing.T) {
	if got := LastPart("failed to connect: dial: refused"); got != "refused" {
		t.Errorf("LastPart = %q", got)
	}
	if got := LastPart("plain"); got != "plain" {
		t.Errorf("LastPart = %q", got)
	}
}
