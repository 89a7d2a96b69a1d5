package commands

import (
	"context"
	"io"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestOnInterruptCancels: SIGINT and SIGTERM, as Ctrl-C in a terminal sends
// them straight to the plugin, cancel the command's context instead of
// killing the process (which would leave writes paused).
func TestOnInterruptCancels(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		ctx, stop := onInterrupt(context.Background(), io.Discard)
		if err := syscall.Kill(os.Getpid(), sig); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
			t.Errorf("%v did not cancel the context", sig)
		}
		stop()
	}
}
