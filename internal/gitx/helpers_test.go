package gitx

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
)

// isolate gives the test a git environment of its own: no user or system
// configuration, no repository discovery above the test's temporary
// folders, fixed identities, the C locale (git's messages untranslated).
// gitx passes the process environment to git, so t.Setenv is how a test
// reaches it. A missing git fails the test.
func isolate(t *testing.T) (home string) {
	t.Helper()
	return gittest.Isolate(t, gittest.Options{Author: gittest.Identity{Name: "Ada Author", Email: "ada@example.com"}, Committer: gittest.Identity{Name: "Cy Committer", Email: "cy@example.com"}, Date: "2025-03-04T05:06:07Z"})
}

// testRepo is a real repository in a temporary folder, driven with the
// git CLI independently of the code under test.
type testRepo struct {
	t   *testing.T
	dir string
	n   int // commits made, for increasing dates
}

func newTestRepo(t *testing.T) *testRepo {
	t.Helper()
	isolate(t)
	return initRepo(t, t.TempDir())
}

func initRepo(t *testing.T, dir string) *testRepo {
	t.Helper()
	r := &testRepo{t: t, dir: dir}
	r.git("init", "-q", "-b", "main")
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

// git runs git in the repository and returns its trimmed stdout.
func (r *testRepo) git(args ...string) string {
	r.t.Helper()
	return strings.TrimSpace(string(r.run(nil, nil, args...)))
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

// commitMsg commits the index with msg stored byte for byte (git
// commit-tree keeps the message verbatim, no cleanup, no added newline)
// and moves the current branch to it. Dates increase a minute per commit.
func (r *testRepo) commitMsg(msg []byte, extraParents ...string) string {
	r.t.Helper()
	r.n++
	date := fmt.Sprintf("GIT_COMMITTER_DATE=2025-03-04T06:%02d:00Z", r.n%60)
	adate := fmt.Sprintf("GIT_AUTHOR_DATE=2025-03-04T06:%02d:00Z", r.n%60)
	tree := r.git("write-tree")
	args := []string{"commit-tree", tree}
	if head, err := r.tryGit("rev-parse", "--verify", "--quiet", "HEAD"); err == nil && head != "" {
		args = append(args, "-p", head)
	}
	for _, p := range extraParents {
		args = append(args, "-p", p)
	}
	hash := strings.TrimSpace(string(r.run(msg, []string{date, adate}, args...)))
	r.git("update-ref", "HEAD", hash)
	return hash
}

func (r *testRepo) commit(msg string) string {
	r.t.Helper()
	return r.commitMsg([]byte(msg))
}

func (r *testRepo) tryGit(args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

// rawMessage is the message of commit hash as stored in the object.
func (r *testRepo) rawMessage(hash string) []byte {
	r.t.Helper()
	obj := r.run(nil, nil, "cat-file", "commit", hash)
	i := bytes.Index(obj, []byte("\n\n"))
	if i < 0 {
		r.t.Fatalf("commit %s has no message separator", hash)
	}
	return obj[i+2:]
}

func (r *testRepo) open() *Repo {
	r.t.Helper()
	repo, err := Open(context.Background(), r.dir)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() {
		if err := repo.Close(); err != nil {
			r.t.Errorf("close: %v", err)
		}
	})
	return repo
}

// mv is git mv, creating the destination's folder.
func (r *testRepo) mv(from, to string) {
	r.t.Helper()
	if err := os.MkdirAll(filepath.Join(r.dir, filepath.Dir(filepath.FromSlash(to))), 0o755); err != nil {
		r.t.Fatal(err)
	}
	r.git("mv", from, to)
}
