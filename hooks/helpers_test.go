package hooks

import (
	"bytes"
	"context"
	"fmt"
	"github.com/guardcm/guard/internal/gittest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardcm/guard/internal/gitx"
)

// isolate gives the test a git environment of its own (gitx passes the
// process environment to git): no user or system configuration, no
// repository discovery above the test's folders, fixed identities, the C
// locale. A missing git fails the test.
func isolate(t *testing.T) {
	t.Helper()
	gittest.Isolate(t, gittest.Options{Author: gittest.Identity{Name: "Ada Author", Email: "ada@example.com"}, Committer: gittest.Identity{Name: "Cy Committer", Email: "cy@example.com"}, Date: "2025-03-04T05:06:07Z"})
}

// testRepo is a real repository driven with the git CLI, independently of
// the code under test.
type testRepo struct {
	t   *testing.T
	dir string
	n   int
}

func newTestRepo(t *testing.T) *testRepo {
	t.Helper()
	isolate(t)
	return initRepo(t, t.TempDir())
}

func initRepo(t *testing.T, dir string, args ...string) *testRepo {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r := &testRepo{t: t, dir: dir}
	r.git(append([]string{"init", "-q", "-b", "main"}, args...)...)
	return r
}

func (r *testRepo) run(stdin []byte, env []string, args ...string) []byte {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		r.t.Fatalf("git %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

func (r *testRepo) git(args ...string) string {
	r.t.Helper()
	return strings.TrimSpace(string(r.run(nil, nil, args...)))
}

func (r *testRepo) tryGit(args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

func (r *testRepo) write(path, content string) {
	r.t.Helper()
	p := filepath.Join(r.dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// change writes files (path, content pairs) and stages everything.
func (r *testRepo) change(pathContent ...string) {
	r.t.Helper()
	for i := 0; i+1 < len(pathContent); i += 2 {
		r.write(pathContent[i], pathContent[i+1])
	}
	r.git("add", "-A")
}

// commit commits the index with msg stored byte for byte (commit-tree: no
// cleanup, no hooks), moving the current branch; dates increase.
func (r *testRepo) commit(msg string, extraParents ...string) string {
	r.t.Helper()
	r.n++
	date := fmt.Sprintf("2025-03-04T%02d:%02d:00Z", 6+r.n/60, r.n%60)
	args := []string{"commit-tree", r.git("write-tree")}
	if head, err := r.tryGit("rev-parse", "--verify", "--quiet", "HEAD^{commit}"); err == nil && head != "" {
		args = append(args, "-p", head)
	}
	for _, p := range extraParents {
		args = append(args, "-p", p)
	}
	hash := strings.TrimSpace(string(r.run([]byte(msg), []string{"GIT_AUTHOR_DATE=" + date, "GIT_COMMITTER_DATE=" + date}, args...)))
	r.git("update-ref", "HEAD", hash)
	return hash
}

func (r *testRepo) open() *gitx.Repo {
	r.t.Helper()
	repo, err := gitx.Open(context.Background(), r.dir)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { repo.Close() })
	return repo
}
