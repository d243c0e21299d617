package install

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guardcm/guard/internal/gittest"
	"github.com/guardcm/guard/internal/gitx"
)

// fakeGuardEnv makes the test binary act as guard's `hook` command: it chains
// to the preserved hook through RunPrevious exactly as the real hooks package
// does, then appends one line to $GUARD_TEST_LOG. That gives a real git →
// hook script → binary → RunPrevious → previous hook chain without depending
// on the CLI, which is tested end to end elsewhere.
const fakeGuardEnv = "INSTALL_TEST_FAKE_GUARD"

func TestMain(m *testing.M) {
	if os.Getenv(fakeGuardEnv) == "1" {
		os.Exit(fakeGuard(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeGuard(args []string) int {
	if len(args) < 2 || args[0] != "hook" {
		fmt.Fprintf(os.Stderr, "fake guard: unexpected args %q\n", args)
		return 2
	}
	ctx := context.Background()
	repo, err := gitx.Open(ctx, ".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake guard:", err)
		return 3
	}
	defer repo.Close()
	dir, err := HooksDir(ctx, repo)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake guard:", err)
		return 3
	}
	stdin, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake guard:", err)
		return 3
	}
	ran, err := RunPrevious(ctx, dir, args[1], args[2:], stdin, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "guard:", err)
		return 1
	}
	appendLog(fmt.Sprintf("guard %s ran-previous=%v args=%q stdin=%q\n", args[1], ran, args[2:], stdin))
	return 0
}

func appendLog(line string) {
	f, err := os.OpenFile(os.Getenv("GUARD_TEST_LOG"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line); err != nil {
		panic(err)
	}
}

// isolate gives the test its own HOME and git configuration, fixed
// identities, and removes anything a surrounding git (a test run from a
// hook) or an earlier test could leak in.
func isolate(t *testing.T) {
	t.Helper()
	gittest.Isolate(t, gittest.Options{
		Author:    gittest.Identity{Name: "Ada Author", Email: "ada@example.com"},
		Committer: gittest.Identity{Name: "Cy Committer", Email: "cy@example.com"},
	})
	for _, k := range []string{fakeGuardEnv, "GUARD_TEST_LOG", "GUARD_STANDIN_EXIT", "FOREIGN_EXIT"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("GUARD_TEST_LOG", filepath.Join(t.TempDir(), "log"))
}

// tryRun runs a command in dir, with stdin when it is not nil, and returns
// what it printed and how it ended.
func tryRun(dir string, stdin []byte, name string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// newRepo creates a repository with one commit and returns its root.
func newRepo(t *testing.T) string {
	t.Helper()
	dir := gittest.Repo(t)
	gittest.Commit(t, dir, "initial", "README.md", "hello\n")
	return dir
}

// hookRepo isolates git and makes a repository with one commit; it returns
// its root, the repository opened, and the folder git runs its hooks from.
func hookRepo(t *testing.T) (dir string, repo *gitx.Repo, hooks string) {
	t.Helper()
	isolate(t)
	dir = newRepo(t)
	return dir, open(t, dir), filepath.Join(dir, ".git", "hooks")
}

// pushToNewRemote pushes main to a new bare remote, origin, running the
// pre-push hook; it returns the remote's path and the commit pushed.
func pushToNewRemote(t *testing.T, dir string) (remote, head string) {
	t.Helper()
	remote = gittest.Bare(t)
	gittest.Git(t, dir, "remote", "add", "origin", remote)
	head = gittest.Git(t, dir, "rev-parse", "HEAD")
	gittest.Git(t, dir, "push", "-q", "origin", "main")
	return remote, head
}

func open(t *testing.T, dir string) *gitx.Repo {
	t.Helper()
	return gittest.Open(t, gitx.Open, dir)
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// standIn writes a stand-in guard at path: a shell script that logs its
// arguments (and, for pre-push, its stdin) to $GUARD_TEST_LOG and exits with
// $GUARD_STANDIN_EXIT.
func standIn(t *testing.T, path string) string {
	t.Helper()
	writeFile(t, path, `#!/bin/sh
{
  printf 'standin'
  for a in "$@"; do printf ' [%s]' "$a"; done
  printf '\n'
  if [ "$2" = pre-push ]; then cat; fi
} >>"$GUARD_TEST_LOG"
exit "${GUARD_STANDIN_EXIT:-0}"
`, 0o755)
	return path
}

func logText(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(os.Getenv("GUARD_TEST_LOG"))
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func resetLog(t *testing.T) {
	t.Helper()
	if err := os.Remove(os.Getenv("GUARD_TEST_LOG")); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}

func mustInstall(t *testing.T, repo *gitx.Repo, opts Options) []Action {
	t.Helper()
	acts, err := Install(context.Background(), repo, opts)
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	return acts
}

func whats(acts []Action) string {
	var s []string
	for _, a := range acts {
		s = append(s, a.Hook+": "+a.What)
	}
	return strings.Join(s, "; ")
}

func samePath(t *testing.T, got, want string) {
	t.Helper()
	g, err := filepath.EvalSymlinks(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := filepath.EvalSymlinks(want)
	if err != nil {
		t.Fatal(err)
	}
	if g != w {
		t.Fatalf("path %s, want %s", got, want)
	}
}

func commit(t *testing.T, dir, file, msg string) {
	t.Helper()
	writeFile(t, filepath.Join(dir, file), msg+"\n", 0o644)
	gittest.Git(t, dir, "add", file)
	gittest.Git(t, dir, "commit", "-q", "-m", msg)
}
