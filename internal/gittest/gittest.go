// Package gittest runs the real git for guard's tests and benchmarks, in an
// environment of their own. It is for tests only: it imports "testing",
// every helper fails the test (tb.Fatal) instead of returning an error, and
// only _test.go files and test-support packages (internal/benchrepo) may
// import it.
//
// Contract:
//   - An isolated environment (Isolate, Environ) has its own HOME holding
//     the global configuration (WriteConfig: default branch main, the
//     identity as [user], no automatic gc), no system configuration, none
//     of the GIT_* variables of the process that started the test (a test
//     run from a git hook inherits GIT_DIR and GIT_INDEX_FILE), no
//     repository discovery above the test's temporary folders, no terminal
//     prompt, the C locale and UTC, and fixed author and committer
//     identities; with Options.Date, fixed commit dates too, so hashes are
//     the same on every run.
//   - A missing git fails the test: nothing here skips.
//   - It imports no other guard package, so that every package's tests
//     (internal/gitx's and internal/proc's included) can use it. Open takes
//     the opener (gitx.Open) as a parameter for that reason.
package gittest

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Identity names who writes commits.
type Identity struct{ Name, Email string }

// Ada is the identity of a test that asks for none.
var Ada = Identity{Name: "Ada", Email: "ada@example.com"}

// Options shape an isolated environment. The zero value commits as Ada, at
// the time of the commit.
type Options struct {
	// Author writes the commits, and commits them unless Committer is set.
	// It is also the global configuration's [user], which is what
	// `git config user.email` answers. Zero means Ada.
	Author Identity
	// Committer, when set, commits instead of Author (environment only).
	Committer Identity
	// Date, when set (RFC 3339), is every commit's author and committer
	// date.
	Date string
}

func (o Options) author() Identity {
	if o.Author == (Identity{}) {
		return Ada
	}
	return o.Author
}

func (o Options) committer() Identity {
	if o.Committer == (Identity{}) {
		return o.author()
	}
	return o.Committer
}

// vars are the variables of the environment rooted at home.
func (o Options) vars(home string) []string {
	a, c := o.author(), o.committer()
	vars := []string{
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + filepath.Join(home, ".gitconfig"),
		"GIT_CEILING_DIRECTORIES=" + filepath.Dir(home),
		"GIT_TERMINAL_PROMPT=0",
		"LC_ALL=C",
		"TZ=UTC",
		"GIT_AUTHOR_NAME=" + a.Name,
		"GIT_AUTHOR_EMAIL=" + a.Email,
		"GIT_COMMITTER_NAME=" + c.Name,
		"GIT_COMMITTER_EMAIL=" + c.Email,
	}
	return append(vars, At(o.Date)...)
}

// leaks reports the variables of the surrounding process that would reach
// into an isolated environment: git's own, the locale, the time zone.
func leaks(key string) bool {
	return strings.HasPrefix(key, "GIT_") || strings.HasPrefix(key, "LC_") ||
		key == "LANG" || key == "LANGUAGE" || key == "TZ" || key == "HOME" || key == "XDG_CONFIG_HOME"
}

// At returns the variables that date a commit at date (RFC 3339), for Run;
// nil when date is "".
func At(date string) []string {
	if date == "" {
		return nil
	}
	return []string{"GIT_AUTHOR_DATE=" + date, "GIT_COMMITTER_DATE=" + date}
}

// config is the global configuration of every isolated environment.
func config(o Options) string {
	a := o.author()
	return "[init]\n\tdefaultBranch = main\n" +
		"[user]\n\tname = " + a.Name + "\n\temail = " + a.Email + "\n" +
		"[advice]\n\tdetachedHead = false\n" +
		"[protocol \"file\"]\n\tallow = always\n" +
		"[gc]\n\tauto = 0\n" +
		"[maintenance]\n\tauto = false\n"
}

func requireGit(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		tb.Fatalf("git is required: %v", err)
	}
}

// WriteConfig writes the global configuration of an isolated environment
// into home (created when missing).
func WriteConfig(tb testing.TB, home string, o Options) {
	tb.Helper()
	WriteFile(tb, filepath.Join(home, ".gitconfig"), config(o))
}

// Environ returns the process's environment without the variables that
// would leak into git, plus those of the isolated environment rooted at
// home: for an exec.Cmd's Env, when the test cannot change its own
// environment. home needs WriteConfig.
func Environ(home string, o Options) []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !leaks(k) {
			env = append(env, kv)
		}
	}
	return append(env, o.vars(home)...)
}

// Isolate gives tb an isolated environment through tb.Setenv (so every
// child process inherits it, git run by the code under test included):
// a new HOME in a temporary folder, with WriteConfig's configuration. It
// returns HOME. The variables are restored when tb ends.
func Isolate(tb testing.TB, o Options) string {
	tb.Helper()
	requireGit(tb)
	home := tb.TempDir()
	WriteConfig(tb, home, o)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); leaks(k) {
			tb.Setenv(k, "") // registers the old value for restoring
			os.Unsetenv(k)
		}
	}
	for _, kv := range o.vars(home) {
		k, v, _ := strings.Cut(kv, "=")
		tb.Setenv(k, v)
	}
	return home
}

// Run runs git in dir ("" is the test's working directory) with env
// ("K=V") added to the process's environment, and returns its standard
// output without surrounding space. A failure fails tb with git's stderr.
func Run(tb testing.TB, env []string, dir string, args ...string) string {
	tb.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("git %s (in %s): %v\n%s%s", strings.Join(args, " "), dir, err, stdout.Bytes(), stderr.Bytes())
	}
	return strings.TrimSpace(stdout.String())
}

// Git runs git in dir; see Run.
func Git(tb testing.TB, dir string, args ...string) string {
	tb.Helper()
	return Run(tb, nil, dir, args...)
}

// WriteFile writes content to path (mode 0644), creating its folders.
func WriteFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// Repo creates an empty repository (branch main) in a new temporary folder
// and returns its root.
func Repo(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "repo")
	Git(tb, "", "init", "--quiet", "--initial-branch=main", dir)
	return dir
}

// Bare creates an empty bare repository (branch main) in a new temporary
// folder, to serve as a remote, and returns its path.
func Bare(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "remote.git")
	Git(tb, "", "init", "--quiet", "--bare", "--initial-branch=main", dir)
	return dir
}

// Clone clones remote into a new temporary folder (its origin) and returns
// the clone's root.
func Clone(tb testing.TB, remote string) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "work")
	Git(tb, "", "clone", "--quiet", remote, dir)
	return dir
}

// Commit writes files (path, content pairs relative to dir), stages them
// and commits them (or nothing) with msg; it returns the new commit's hash.
func Commit(tb testing.TB, dir, msg string, files ...string) string {
	tb.Helper()
	return CommitAt(tb, dir, "", msg, files...)
}

// CommitAt is Commit dated date (RFC 3339; "" is the environment's date).
func CommitAt(tb testing.TB, dir, date, msg string, files ...string) string {
	tb.Helper()
	if len(files)%2 != 0 {
		tb.Fatalf("gittest.Commit: files are path, content pairs, got %d strings", len(files))
	}
	for i := 0; i < len(files); i += 2 {
		WriteFile(tb, filepath.Join(dir, files[i]), files[i+1])
		Git(tb, dir, "add", "--", files[i])
	}
	Run(tb, At(date), dir, "commit", "--quiet", "--allow-empty", "-m", msg)
	return Git(tb, dir, "rev-parse", "HEAD")
}

// Remote creates a bare repository whose main branch holds one commit of
// files (path, content pairs) with msg, and returns its path and the
// commit's hash.
func Remote(tb testing.TB, msg string, files ...string) (remote, commit string) {
	tb.Helper()
	remote = Bare(tb)
	seed := Clone(tb, remote)
	commit = Commit(tb, seed, msg, files...)
	Git(tb, seed, "push", "--quiet", "origin", "HEAD:main")
	return remote, commit
}

// Open opens the repository at dir with open (gitx.Open) and closes it when
// tb ends.
func Open[R io.Closer](tb testing.TB, open func(context.Context, string) (R, error), dir string) R {
	tb.Helper()
	r, err := open(context.Background(), dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	return r
}
