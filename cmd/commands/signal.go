package commands

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// interruptAfter is how many SIGINT/SIGTERM end the process at once, as
// docker does for itself: the first cancels the command's context (writes
// are unpaused, nothing more is sent); the third exits with 130 even if the
// command is stuck.
const interruptAfter = 3

// onInterrupt cancels ctx on the first SIGINT or SIGTERM. In a terminal,
// Ctrl-C reaches the plugin directly (docker forwards nothing then), and
// without a handler the process would die with writes left paused; docker
// run from a script closes the plugin socket instead, which plugin.Run turns
// into the same cancellation. stop restores the default handling.
func onInterrupt(ctx context.Context, errOut io.Writer) (context.Context, func()) {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancel(ctx)
	sig := make(chan os.Signal, interruptAfter)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		n := 0
		for {
			select {
			case <-done:
				return
			case <-sig:
				n++
				cancel()
				if n >= interruptAfter {
					fmt.Fprintf(errOut, "got %d SIGTERM/SIGINTs, forcefully exiting\n", n)
					os.Exit(130)
				}
			}
		}
	}()
	return ctx, func() {
		signal.Stop(sig)
		close(done)
		cancel()
	}
}
