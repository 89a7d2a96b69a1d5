//go:build linux

package front

import (
	"syscall"
	"unsafe"
)

// termWidth is the width docker's help wraps its flags to: the columns of
// the terminal on stdin (moby/term's GetWinsize(0)), 80 when stdin is not
// one.
func termWidth() (int, bool) {
	var ws struct{ Row, Col, X, Y uint16 }
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, 0, uintptr(syscall.TIOCGWINSZ), uintptr(unsafe.Pointer(&ws))); e != 0 {
		return 80, true
	}
	return int(ws.Col), true
}
