package deploy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guardcm/guard/internal/gitx"
)

// gitEnv isolates git from the machine's configuration.
func gitEnv(t testing.TB) {
	t.Helper()
	home := t.TempDir()
	cfg := filepath.Join(home, ".gitconfig")
	if err := os.WriteFile(cfg, []byte("[init]\n\tdefaultBranch = main\n[user]\n\tname = Ada\n\temail = ada@example.com\n[protocol \"file\"]\n\tallow = always\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_CONFIG_GLOBAL", cfg)
	t.Setenv("GIT_AUTHOR_DATE", "2026-11-02T10:00:00Z")
	t.Setenv("GIT_COMMITTER_DATE", "2026-11-02T10:00:00Z")
}

func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// cloneWithRemote makes a bare remote with one commit on main and a clone of
// it; it returns the clone's root and the remote's path.
func cloneWithRemote(t testing.TB) (string, string) {
	t.Helper()
	base := t.TempDir()
	remote := filepath.Join(base, "remote.git")
	seed := filepath.Join(base, "seed")
	work := filepath.Join(base, "work")
	git(t, base, "init", "--quiet", "--bare", remote)
	git(t, base, "init", "--quiet", seed)
	write(t, filepath.Join(seed, "src", "index.js"), "export default {}\n")
	write(t, filepath.Join(seed, ".gitignore"), "node_modules/\n.wrangler/\n")
	write(t, filepath.Join(seed, "README.md"), "hello\n")
	git(t, seed, "add", ".")
	git(t, seed, "commit", "--quiet", "-m", "init\n\nChange-Category: normal")
	git(t, seed, "push", "--quiet", remote, "main")
	git(t, base, "clone", "--quiet", remote, work)
	return work, remote
}

func openRepo(t testing.TB, dir string) *gitx.Repo {
	t.Helper()
	r, err := gitx.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
