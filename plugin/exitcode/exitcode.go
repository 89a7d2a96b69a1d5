// Package exitcode is the one place that says which exit status an outcome of
// docker stateful gets, so that scripts can rely on it:
//
//	0   done, allowed, verified
//	1   a "no": refused, a dry run that would be refused, data not verified
//	    (rolled back or not), risks found; also bad input
//	2   could not decide: Redis unreachable, a timeout, a daemon error, an
//	    unreadable snapshot
//	125 docker's own flag errors (docker/cli returns them; unchanged)
//	130 interrupted
//
// Code returns the plain errors of a command as 1 (bad input, docker's own
// errors of create and update, exactly as docker exits).
package exitcode

import (
	"context"
	"errors"

	"github.com/docker/cli/cli"
)

// The exit statuses.
const (
	OK          = 0
	No          = 1
	Undecided   = 2
	FlagError   = 125
	Interrupted = 130
)

// Error is an error with the exit status it means.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Refused marks err as a "no" (exit 1).
func Refused(err error) error { return wrap(No, err) }

// Undecidable marks err as "could not decide" (exit 2): a Redis or daemon that
// does not answer, a timeout, an unreadable snapshot.
func Undecidable(err error) error { return wrap(Undecided, err) }

func wrap(code int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// Code is the exit status for err: 0 for nil, 130 when it comes from an
// interruption (the context cancelled), the status err carries (an Error, or
// docker's cli.StatusError), else 1.
func Code(err error) int {
	if err == nil {
		return OK
	}
	if errors.Is(err, context.Canceled) {
		return Interrupted
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var s cli.StatusError
	if errors.As(err, &s) && s.StatusCode != 0 {
		return s.StatusCode
	}
	return No
}

// Verdict is the word a --format json report gives err's outcome when the
// command did not reach one of its own: "refused" for a "no" marked as such
// (Refused, or a cli.StatusError 1), else "error".
func Verdict(err error) string {
	var e *Error
	var s cli.StatusError
	if Code(err) == No && (errors.As(err, &e) || errors.As(err, &s)) {
		return "refused"
	}
	return "error"
}
