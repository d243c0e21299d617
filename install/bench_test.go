package install

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// BenchmarkHookScript measures what guard's hook file adds in front of the
// binary on every commit: sh starting, the -x test and the exec. The binary
// is `true`, so the figure is the wrapper alone; compare it with
// BenchmarkExecBinaryDirectly (the same binary without the wrapper).
func BenchmarkHookScript(b *testing.B) {
	bin, err := exec.LookPath("true")
	if err != nil {
		b.Fatalf("true is required: %v", err)
	}
	bin, _ = filepath.Abs(bin)
	hook := filepath.Join(b.TempDir(), "commit-msg")
	if err := writeAtomic(filepath.Dir(hook), "commit-msg", script(bin, "commit-msg")); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := exec.Command(hook, ".git/COMMIT_EDITMSG").Run(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExecBinaryDirectly(b *testing.B) {
	bin, err := exec.LookPath("true")
	if err != nil {
		b.Fatalf("true is required: %v", err)
	}
	for b.Loop() {
		if err := exec.Command(bin, "hook", "commit-msg", ".git/COMMIT_EDITMSG").Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunPreviousNone is the cost the hooks package pays on every run
// when no previous hook was preserved: one stat.
func BenchmarkRunPreviousNone(b *testing.B) {
	dir := b.TempDir()
	for b.Loop() {
		if ran, err := RunPrevious(ctx, dir, "commit-msg", nil, nil, nil, nil); ran || err != nil {
			b.Fatal(ran, err)
		}
	}
}
