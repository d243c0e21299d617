package hooks

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/fail"
)

func prePush(t *testing.T, s *remoteSetup, cfg *config.Config, stdin string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := PrePush(context.Background(), s.local.open(), cfg, PrePushOptions{Remote: "origin", Stdin: []byte(stdin), Stdout: &stdout, Stderr: &stderr})
	return stdout.String(), stderr.String(), err
}

func TestPrePush(t *testing.T) {
	s := newRemoteSetup(t)
	marker := filepath.Join(t.TempDir(), "ran")
	cfg := config.Defaults()
	cfg.PrePush.Commands = []string{`printf '%s' "$GUARD" > '` + marker + `'; echo command-output`}
	push := "refs/heads/feature " + s.new2 + " refs/heads/feature " + s.pushedTip + "\n"

	// A clean range: the configured commands run, in the repository, with
	// their output streamed.
	stdout, stderr, err := prePush(t, s, cfg, push)
	if err != nil {
		t.Fatalf("clean push refused: %v\n%s", err, stderr)
	}
	if b, err := os.ReadFile(marker); err != nil || string(b) != "1" {
		t.Errorf("pre-push command did not run with GUARD=1: %q, %v", b, err)
	}
	if stdout != "command-output\n" || !strings.Contains(stderr, "guard: running printf") {
		t.Errorf("stdout %q, stderr %q", stdout, stderr)
	}

	// A failing command refuses the push and names it.
	cfg.PrePush.Commands = []string{"echo broken >&2; exit 4"}
	_, stderr, err = prePush(t, s, cfg, push)
	if fail.KindOf(err) != fail.KindRefused || !strings.Contains(err.Error(), `"echo broken >&2; exit 4" failed`) || !strings.Contains(stderr, "broken") {
		t.Errorf("failing command: %v; stderr %q", err, stderr)
	}

	// Deletions and notes pass without looking at commits or running
	// commands; bad input is a usage error naming the line.
	os.Remove(marker)
	cfg.PrePush.Commands = []string{"touch '" + marker + "'"}
	if _, _, err := prePush(t, s, cfg, "(delete) "+zeroSHA+" refs/heads/old "+s.pushedTip+"\nrefs/notes/guard "+s.new1+" refs/notes/guard "+zeroSHA+"\n"); err != nil {
		t.Errorf("deletion and notes: %v", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("commands ran for a push without commits")
	}
	if _, _, err := prePush(t, s, cfg, "only three fields\n"); fail.KindOf(err) != fail.KindUsage || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad stdin: %v", err)
	}

	// A commit without a trailer, pushed with --no-verify: refused with the
	// finding printed, commands not run.
	s.local.change("src/d.ts", "d\n")
	bad := s.local.commit("feat: d\n")
	_, stderr, err = prePush(t, s, cfg, "refs/heads/feature "+bad+" refs/heads/feature "+s.pushedTip+"\n")
	var fe *fail.Error
	if fail.KindOf(err) != fail.KindRefused || !strings.Contains(err.Error(), "push refused: 1 problem(s) found") {
		t.Fatalf("missing trailer: %v", err)
	}
	if !errors.As(err, &fe) || !fe.Reported {
		t.Errorf("the refusal is not marked as already reported: %#v", err)
	}
	if !strings.Contains(stderr, "guard: error: "+bad[:12]+` "feat: d": no Change-Category trailer`) || !strings.Contains(stderr, "guard: hint: ") {
		t.Errorf("stderr = %q", stderr)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("commands ran for a refused push")
	}

	// Emergency-only pushes skip the commands (emergency_skips_commands).
	s.local.git("reset", "-q", "--hard", s.new2)
	s.local.change("src/hot.ts", "h\n")
	hot := s.local.commit("fix: hot\n\nChange-Category: emergency\n")
	_, stderr, err = prePush(t, s, cfg, "refs/heads/feature "+hot+" refs/heads/feature "+s.new2+"\n")
	if err != nil || !strings.Contains(stderr, "emergency push: skipping the configured pre-push commands") {
		t.Errorf("emergency push: %v; stderr %q", err, stderr)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("commands ran for an emergency-only push")
	}
}
