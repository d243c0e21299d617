// Package benchrepo builds the repositories guard's benchmarks run in: a
// real git repository of a given size, with fixed identities, so figures
// from different benchmarks describe the same kind of tree. It is used only
// from tests and benchmarks.
package benchrepo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/guardcm/guard/internal/proc"
)

// Env returns an isolated git environment rooted at home.
func Env(home string) []string {
	return proc.Env(
		"HOME="+home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+filepath.Join(home, ".gitconfig"),
		"GIT_AUTHOR_NAME=Bench", "GIT_AUTHOR_EMAIL=bench@example.com",
		"GIT_COMMITTER_NAME=Bench", "GIT_COMMITTER_EMAIL=bench@example.com",
		"GIT_AUTHOR_DATE=2026-11-02T10:00:00Z", "GIT_COMMITTER_DATE=2026-11-02T10:00:00Z",
	)
}

// Git runs git in dir with env and fails tb on error.
func Git(tb testing.TB, env []string, dir string, args ...string) string {
	tb.Helper()
	out, err := proc.Run(context.Background(), proc.Cmd{Name: "git", Args: args, Dir: dir, Env: env})
	if err != nil {
		tb.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

// New creates a repository with files source files spread over folders,
// committed on main, and a bare remote "origin" that has it.
func New(tb testing.TB, files int) (dir string, env []string) {
	tb.Helper()
	root := tb.TempDir()
	home := filepath.Join(root, "home")
	dir = filepath.Join(root, "repo")
	remote := filepath.Join(root, "remote.git")
	for _, d := range []string{home, dir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(home, ".gitconfig"), []byte("[init]\n\tdefaultBranch = main\n[gc]\n\tauto = 0\n[maintenance]\n\tauto = false\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	env = Env(home)
	Git(tb, env, root, "init", "-q", "--bare", remote)
	Git(tb, env, dir, "init", "-q")
	for i := 0; i < files; i++ {
		p := filepath.Join(dir, "src", fmt.Sprintf("m%03d", i/100), fmt.Sprintf("f%05d.ts", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(fmt.Sprintf("export const v%d = %d;\n", i, i)), 0o644); err != nil {
			tb.Fatal(err)
		}
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
