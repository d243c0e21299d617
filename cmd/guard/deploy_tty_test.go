//go:build linux

package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestInterruptedRolloutAsks: after Ctrl-C stopped a gradual deploy, guard
// asks on a terminal whether to go back now (anything but yes leaves the
// rollout for --resume/--abort); with no terminal it goes back.
func TestInterruptedRolloutAsks(t *testing.T) {
	for answer, back := range map[string]bool{"y\n": true, "yes\n": true, "n\n": false, "\n": false} {
		typer, term := openPTY(t)
		var stderr bytes.Buffer
		ask := interruptedRollout(&Env{Stdin: term, Stderr: &stderr})
		if _, err := typer.WriteString(answer); err != nil {
			t.Fatal(err)
		}
		if got := ask(); got != back {
			t.Errorf("answer %q: go back = %v, want %v", answer, got, back)
		}
		if !strings.Contains(stderr.String(), "Go back to the previous version at 100% now?") {
			t.Errorf("question not asked: %q", stderr.String())
		}
	}
	var stderr bytes.Buffer
	if !interruptedRollout(&Env{Stdin: strings.NewReader("n\n"), Stderr: &stderr})() || stderr.Len() != 0 {
		t.Errorf("without a terminal guard must go back without asking (asked: %q)", stderr.String())
	}
}
