// Package benchrepo builds the repositories guard's benchmarks run in: a
// real git repository of a given size, with fixed identities and dates, so
// figures from different benchmarks describe the same kind of tree. It is a
// thin layer over internal/gittest (the isolated git environment every test
// uses) and, like it, is used only from tests and benchmarks.
package benchrepo

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/guardcm/guard/internal/gittest"
)

// Options are the benchmarks' git identity and commit date.
var Options = gittest.Options{
	Author: gittest.Identity{Name: "Bench", Email: "bench@example.com"},
	Date:   "2026-11-02T10:00:00Z",
}

// Env returns an isolated git environment rooted at home (whose
// .gitconfig gittest.WriteConfig writes), with GUARD=1 as guard gives
// every child process.
func Env(home string) []string {
	return append(gittest.Environ(home, Options), "GUARD=1")
}

// Git runs git in dir with env and fails tb on error.
func Git(tb testing.TB, env []string, dir string, args ...string) string {
	tb.Helper()
	return gittest.Run(tb, env, dir, args...)
}

// New creates a repository with files source files spread over folders,
// committed on main, and a bare remote "origin" that has it.
func New(tb testing.TB, files int) (dir string, env []string) {
	tb.Helper()
	root := tb.TempDir()
	home := filepath.Join(root, "home")
	dir = filepath.Join(root, "repo")
	remote := filepath.Join(root, "remote.git")
	gittest.WriteConfig(tb, home, Options)
	env = Env(home)
	Git(tb, env, root, "init", "-q", "--bare", remote)
	Git(tb, env, root, "init", "-q", dir)
	for i := 0; i < files; i++ {
		p := filepath.Join(dir, "src", fmt.Sprintf("m%03d", i/100), fmt.Sprintf("f%05d.ts", i))
		gittest.WriteFile(tb, p, fmt.Sprintf("export const v%d = %d;\n", i, i))
	}
	Git(tb, env, dir, "add", "-A")
	Git(tb, env, dir, "commit", "-q", "-m", "initial", "-m", "Change-Category: normal")
	Git(tb, env, dir, "remote", "add", "origin", remote)
	Git(tb, env, dir, "push", "-q", "origin", "main")
	Git(tb, env, dir, "gc", "-q")
	return dir, env
}

// BuildGuard compiles cmd/guard into a temporary folder and returns the
// binary's path.
func BuildGuard(tb testing.TB) string {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(tb.TempDir(), "guard")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/guard")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
