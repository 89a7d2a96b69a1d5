package exitcode

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/docker/cli/cli"
)

func TestCode(t *testing.T) {
	for _, c := range []struct {
		err     error
		code    int
		verdict string
	}{
		{nil, OK, "error"},
		{errors.New("--data x: must be absolute"), No, "error"},
		{Refused(errors.New("refused")), No, "refused"},
		{cli.StatusError{StatusCode: 1, Status: "update refused"}, No, "refused"},
		{Undecidable(errors.New("cannot reach Redis")), Undecided, "error"},
		{fmt.Errorf("wrapped: %w", Undecidable(errors.New("timeout"))), Undecided, "error"},
		{cli.StatusError{StatusCode: 125, Status: "unknown flag"}, FlagError, "error"},
		{Undecidable(fmt.Errorf("save: %w", context.Canceled)), Interrupted, "error"},
	} {
		if got := Code(c.err); got != c.code {
			t.Errorf("Code(%v) = %d, want %d", c.err, got, c.code)
		}
		if c.err != nil {
			if got := Verdict(c.err); got != c.verdict {
				t.Errorf("Verdict(%v) = %s, want %s", c.err, got, c.verdict)
			}
		}
	}
}
