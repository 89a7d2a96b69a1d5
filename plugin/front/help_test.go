package front

import "testing"

// TestHelpLeavesTheRestToCobra: anything but the exact forms is the full
// binary's to answer (arguments, flags, unknown or hidden commands).
func TestHelpLeavesTheRestToCobra(t *testing.T) {
	for _, args := range [][]string{
		{"help", "stateful", ""},
		{"stateful", "", "--help"},
		{"stateful", "update", "web", "--help"},
		{"stateful", "--debug", "--help"},
		{"stateful", "nope", "--help"},
		{"stateful", "__config-hooks", "--help"},
		{"stateful", "--help", "update"},
		{"help", "stateful", "update", "web"},
		{"stateful"},
		{"stateful", "help"},
		{"stateful", "update", "--help=false"},
		{"stateful", "update web", "--help"},
	} {
		if _, _, ok := helpRequest(args); ok {
			t.Errorf("the front answers %q", args)
		}
	}
	for _, args := range [][]string{{"stateful", "--help"}, {"stateful", "update", "-h"}, {"help", "stateful", "verify"}} {
		if _, _, ok := helpRequest(args); !ok {
			t.Errorf("the front does not answer %q", args)
		}
	}
}
