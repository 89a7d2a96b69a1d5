//go:build !linux

package front

// termWidth: elsewhere the full binary answers help (macOS and Windows read
// the terminal through libc or the console API, which the front does not use).
func termWidth() (int, bool) { return 0, false }
