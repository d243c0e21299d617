package install

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gittest"
	"github.com/guardcm/guard/internal/proc"
)

var ctx = context.Background()

func TestInstallFreshRepoHooksFireOnCommitAndPush(t *testing.T) {
	isolate(t)
	dir := newRepo(t)
	repo := open(t, dir)
	bin := standIn(t, filepath.Join(t.TempDir(), "bin", "guard"))

	acts := mustInstall(t, repo, Options{Binary: bin})
	if got, want := whats(acts), "commit-msg: installed; pre-push: installed"; got != want {
		t.Fatalf("actions %q, want %q", got, want)
	}
	for _, h := range DefaultHooks() {
		p := filepath.Join(dir, ".git", "hooks", h)
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o755 {
			t.Errorf("%s mode %v, want 0755", h, fi.Mode().Perm())
		}
		if got := readFile(t, p); got != string(script(bin, h)) {
			t.Errorf("%s content:\n%s", h, got)
		}
		if acts[slices.IndexFunc(acts, func(a Action) bool { return a.Hook == h })].Path != p {
			t.Errorf("%s action path, want %s", h, p)
		}
	}

	commit(t, dir, "a.txt", "add a")
	if got, want := logText(t), "standin [hook] [commit-msg] [.git/COMMIT_EDITMSG]\n"; got != want {
		t.Fatalf("commit-msg log %q, want %q", got, want)
	}

	resetLog(t)
	remote, head := pushToNewRemote(t, dir)
	want := "standin [hook] [pre-push] [origin] [" + remote + "]\n" +
		"refs/heads/main " + head + " refs/heads/main " + strings.Repeat("0", 40) + "\n"
	if got := logText(t); got != want {
		t.Fatalf("pre-push log %q, want %q", got, want)
	}

	// A failing guard fails the commit.
	t.Setenv("GUARD_STANDIN_EXIT", "1")
	writeFile(t, filepath.Join(dir, "b.txt"), "b\n", 0o644)
	gittest.Git(t, dir, "add", "b.txt")
	if _, _, err := tryRun(dir, nil, "git", "commit", "-q", "-m", "add b"); err == nil {
		t.Fatal("commit succeeded although the hook's binary exited 1")
	}
}

func TestInstallHooksPath(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value func(t *testing.T, root string) (config, want string)
	}{
		{"relative", func(t *testing.T, root string) (string, string) {
			return "tools/githooks", filepath.Join(root, "tools", "githooks")
		}},
		{"absolute", func(t *testing.T, root string) (string, string) {
			d := filepath.Join(t.TempDir(), "shared", "hooks")
			return d, d
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isolate(t)
			dir := newRepo(t)
			config, want := tc.value(t, dir)
			gittest.Git(t, dir, "config", "core.hooksPath", config)
			repo := open(t, dir)
			bin := standIn(t, filepath.Join(t.TempDir(), "guard"))
			// Inside the work tree the hooks run the guard on PATH.
			t.Setenv("PATH", filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))

			got, err := HooksDir(ctx, repo)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("HooksDir %s, want %s", got, want)
			}
			// The folder does not exist yet: Install creates it.
			if _, err := os.Stat(want); !os.IsNotExist(err) {
				t.Fatalf("hooks folder exists before install: %v", err)
			}
			acts := mustInstall(t, repo, Options{Binary: bin})
			for _, a := range acts {
				if filepath.Dir(a.Path) != want {
					t.Errorf("%s written to %s, want under %s", a.Hook, a.Path, want)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, ".git", "hooks", "commit-msg")); !os.IsNotExist(err) {
				t.Errorf(".git/hooks/commit-msg exists although core.hooksPath is set: %v", err)
			}
			commit(t, dir, "a.txt", "add a")
			if got := logText(t); !strings.HasPrefix(got, "standin [hook] [commit-msg] ") {
				t.Fatalf("hook in core.hooksPath did not fire; log %q", got)
			}
		})
	}
}

func TestInstallFromLinkedWorktreeProtectsMainCheckout(t *testing.T) {
	isolate(t)
	main := newRepo(t)
	wt := filepath.Join(t.TempDir(), "wt")
	gittest.Git(t, main, "worktree", "add", "-q", "-b", "feature", wt)
	repo := open(t, wt)
	if repo.GitDir == repo.CommonDir {
		t.Fatalf("not a linked worktree: git dir %s", repo.GitDir)
	}
	bin := standIn(t, filepath.Join(t.TempDir(), "guard"))

	acts := mustInstall(t, repo, Options{Binary: bin})
	for _, a := range acts {
		samePath(t, filepath.Dir(a.Path), filepath.Join(main, ".git", "hooks"))
	}
	commit(t, main, "m.txt", "in main")
	if got := logText(t); !strings.HasPrefix(got, "standin [hook] [commit-msg] ") {
		t.Fatalf("hook did not fire in the main checkout; log %q", got)
	}
	resetLog(t)
	commit(t, wt, "w.txt", "in worktree")
	if got := logText(t); !strings.HasPrefix(got, "standin [hook] [commit-msg] ") {
		t.Fatalf("hook did not fire in the linked worktree; log %q", got)
	}
	// Inspect from the main checkout sees the same hooks.
	states, err := Inspect(ctx, open(t, main), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if !s.Guard || s.Binary != bin || !s.BinaryOK {
			t.Errorf("from main: %+v", s)
		}
	}
}

// foreignHook is a hook guard did not write: it records its arguments and
// stdin and exits with $FOREIGN_EXIT. CRLF, a tab and a byte that is not UTF-8
// make "byte for byte" mean something.
const foreignHook = "#!/bin/sh\n# the team's own hook \xff\t\r\n" +
	"{ printf 'foreign'; for a in \"$@\"; do printf ' [%s]' \"$a\"; done; printf ' stdin='; cat; printf '\\n'; } >>\"$GUARD_TEST_LOG\"\n" +
	"exit \"${FOREIGN_EXIT:-0}\"\n"

func TestForeignHookPreservedRunFirstAndRestored(t *testing.T) {
	_, repo, hooks := hookRepo(t)
	path := filepath.Join(hooks, "commit-msg")
	writeFile(t, path, foreignHook, 0o750)
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	bin := standIn(t, filepath.Join(t.TempDir(), "guard"))

	acts := mustInstall(t, repo, Options{Binary: bin})
	want := []Action{
		{"commit-msg", path + ".pre-guard", "preserved previous hook as commit-msg.pre-guard"},
		{"commit-msg", path, "installed"},
		{"pre-push", filepath.Join(hooks, "pre-push"), "installed"},
	}
	if !slices.Equal(acts, want) {
		t.Fatalf("actions\n%q\nwant\n%q", acts, want)
	}
	prev, err := os.Stat(path + ".pre-guard")
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path+".pre-guard"); got != foreignHook {
		t.Fatalf("preserved hook changed: %q", got)
	}
	if prev.Mode() != before.Mode() || !os.SameFile(prev, before) {
		t.Fatalf("preserved hook mode %v (was %v), same file %v", prev.Mode(), before.Mode(), os.SameFile(prev, before))
	}
	st, err := Inspect(ctx, repo, []string{"commit-msg"})
	if err != nil {
		t.Fatal(err)
	}
	if st[0].Previous != path+".pre-guard" || !st[0].Guard {
		t.Fatalf("inspect %+v", st[0])
	}

	// RunPrevious: same arguments, same stdin, output streamed.
	var stdout, stderr bytes.Buffer
	ran, err := RunPrevious(ctx, hooks, "commit-msg", []string{"x y", "it's"}, []byte("line1\nline2"), &stdout, &stderr)
	if err != nil || !ran {
		t.Fatalf("RunPrevious: ran=%v err=%v stderr=%s", ran, err, stderr.String())
	}
	if got, want := logText(t), "foreign [x y] [it's] stdin=line1\nline2\n"; got != want {
		t.Fatalf("previous hook saw %q, want %q", got, want)
	}

	// Its failure is returned as a refusal carrying its exit status.
	t.Setenv("FOREIGN_EXIT", "3")
	ran, err = RunPrevious(ctx, hooks, "commit-msg", []string{"m"}, nil, &stdout, &stderr)
	if !ran || err == nil {
		t.Fatalf("failing previous hook: ran=%v err=%v", ran, err)
	}
	var ee *proc.ExitError
	if !errors.As(err, &ee) || ee.Code != 3 {
		t.Fatalf("error %v does not carry exit status 3", err)
	}
	if fail.KindOf(err) != fail.KindRefused {
		t.Fatalf("kind %v, want refused", fail.KindOf(err))
	}
	if !strings.Contains(err.Error(), "exited with status 3") || !strings.Contains(err.Error(), path+".pre-guard") {
		t.Fatalf("error %q does not name the hook and status", err)
	}
	t.Setenv("FOREIGN_EXIT", "0")

	// Uninstall restores it byte for byte, with its mode and inode.
	acts, err = Uninstall(ctx, repo, nil)
	if err != nil {
		t.Fatal(err)
	}
	want = []Action{
		{"commit-msg", path, "restored previous hook"},
		{"pre-push", filepath.Join(hooks, "pre-push"), "removed"},
	}
	if !slices.Equal(acts, want) {
		t.Fatalf("uninstall actions\n%q\nwant\n%q", acts, want)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != foreignHook {
		t.Fatalf("restored hook changed: %q", got)
	}
	if after.Mode() != before.Mode() || !os.SameFile(after, before) {
		t.Fatalf("restored mode %v, want %v", after.Mode(), before.Mode())
	}
	for _, p := range []string{path + ".pre-guard", filepath.Join(hooks, "pre-push")} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s still exists after uninstall: %v", p, err)
		}
	}
}

// TestChainWithRealCommit runs the whole chain: git commit → guard's hook
// script → a binary calling RunPrevious → the preserved hook, first, with
// git's arguments; the preserved hook's failure fails the commit.
func TestChainWithRealCommit(t *testing.T) {
	dir, repo, hooks := hookRepo(t)
	writeFile(t, filepath.Join(hooks, "commit-msg"), foreignHook, 0o755)
	writeFile(t, filepath.Join(hooks, "pre-push"), foreignHook, 0o700)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	mustInstall(t, repo, Options{Binary: self})
	t.Setenv(fakeGuardEnv, "1")

	commit(t, dir, "a.txt", "add a")
	want := "foreign [.git/COMMIT_EDITMSG] stdin=\n" +
		"guard commit-msg ran-previous=true args=[\".git/COMMIT_EDITMSG\"] stdin=\"\"\n"
	if got := logText(t); got != want {
		t.Fatalf("log\n%s\nwant\n%s", got, want)
	}

	resetLog(t)
	remote, head := pushToNewRemote(t, dir)
	refLine := "refs/heads/main " + head + " refs/heads/main " + strings.Repeat("0", 40) + "\n"
	want = "foreign [origin] [" + remote + "] stdin=" + refLine + "\n" +
		"guard pre-push ran-previous=true args=[\"origin\" \"" + remote + "\"] stdin=\"" + strings.TrimSuffix(refLine, "\n") + "\\n\"\n"
	if got := logText(t); got != want {
		t.Fatalf("log\n%s\nwant\n%s", got, want)
	}

	resetLog(t)
	t.Setenv("FOREIGN_EXIT", "5")
	writeFile(t, filepath.Join(dir, "b.txt"), "b\n", 0o644)
	gittest.Git(t, dir, "add", "b.txt")
	_, stderr, err := tryRun(dir, nil, "git", "commit", "-q", "-m", "add b")
	if err == nil {
		t.Fatal("commit succeeded although the preserved hook failed")
	}
	if !strings.Contains(stderr, "guard: the previous commit-msg hook") || !strings.Contains(stderr, "exited with status 5") {
		t.Fatalf("stderr %q does not explain the failure", stderr)
	}
	if got := logText(t); strings.Contains(got, "guard commit-msg") {
		t.Fatalf("guard went on after the preserved hook failed: %q", got)
	}
}

func TestInstallRefusesToLoseAForeignHook(t *testing.T) {
	_, repo, hooks := hookRepo(t)
	writeFile(t, filepath.Join(hooks, "pre-push"), "#!/bin/sh\necho mine\n", 0o755)
	writeFile(t, filepath.Join(hooks, "pre-push.pre-guard"), "#!/bin/sh\necho older\n", 0o700)
	bin := standIn(t, filepath.Join(t.TempDir(), "guard"))

	_, err := Install(ctx, repo, Options{Binary: bin})
	if err == nil {
		t.Fatal("install succeeded although both pre-push and pre-push.pre-guard are foreign")
	}
	if fail.KindOf(err) != fail.KindUsage {
		t.Errorf("kind %v, want usage", fail.KindOf(err))
	}
	var fe *fail.Error
	if !errors.As(err, &fe) || len(fe.Hints) == 0 || !strings.Contains(err.Error(), "pre-push and pre-push.pre-guard") {
		t.Fatalf("error %q lacks the files or a hint", err)
	}
	if got := readFile(t, filepath.Join(hooks, "pre-push")); got != "#!/bin/sh\necho mine\n" {
		t.Errorf("pre-push changed: %q", got)
	}
	if got := readFile(t, filepath.Join(hooks, "pre-push.pre-guard")); got != "#!/bin/sh\necho older\n" {
		t.Errorf("pre-push.pre-guard changed: %q", got)
	}
	// Nothing was installed, not even the hook without a conflict.
	if _, err := os.Lstat(filepath.Join(hooks, "commit-msg")); !os.IsNotExist(err) {
		t.Errorf("commit-msg installed despite the refusal: %v", err)
	}
	entries, _ := os.ReadDir(hooks)
	for _, e := range entries {
		if strings.Contains(e.Name(), "guard-tmp") {
			t.Errorf("temp file left behind: %s", e.Name())
		}
	}
}

func TestInstallKeepsAnOrphanPreviousHook(t *testing.T) {
	_, repo, hooks := hookRepo(t)
	// guard's hook was deleted by hand; the preserved one is still there.
	writeFile(t, filepath.Join(hooks, "commit-msg.pre-guard"), foreignHook, 0o755)
	bin := standIn(t, filepath.Join(t.TempDir(), "guard"))
	acts := mustInstall(t, repo, Options{Binary: bin, Hooks: []string{"commit-msg"}})
	if got := whats(acts); got != "commit-msg: installed" {
		t.Fatalf("actions %q", got)
	}
	if got := readFile(t, filepath.Join(hooks, "commit-msg.pre-guard")); got != foreignHook {
		t.Fatalf("preserved hook changed")
	}
}

func TestInstallIsIdempotent(t *testing.T) {
	_, repo, hooks := hookRepo(t)
	bin := standIn(t, filepath.Join(t.TempDir(), "guard"))
	mustInstall(t, repo, Options{Binary: bin})

	// Backdate the files so any rewrite shows in the mtime.
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	before := map[string]string{}
	for _, h := range DefaultHooks() {
		p := filepath.Join(hooks, h)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		before[h] = readFile(t, p)
	}
	names := func() []string {
		es, err := os.ReadDir(hooks)
		if err != nil {
			t.Fatal(err)
		}
		var n []string
		for _, e := range es {
			n = append(n, e.Name())
		}
		return n
	}
	listing := names()

	acts := mustInstall(t, repo, Options{Binary: bin})
	if got, want := whats(acts), "commit-msg: up to date; pre-push: up to date"; got != want {
		t.Fatalf("actions %q, want %q", got, want)
	}
	for _, h := range DefaultHooks() {
		p := filepath.Join(hooks, h)
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(old) {
			t.Errorf("%s rewritten: mtime %v", h, fi.ModTime())
		}
		if readFile(t, p) != before[h] {
			t.Errorf("%s content changed", h)
		}
	}
	if got := names(); !slices.Equal(got, listing) {
		t.Errorf("hooks folder changed: %v, was %v", got, listing)
	}
}

func TestInstallUpdates(t *testing.T) {
	dir, repo, hooks := hookRepo(t)
	tmp := t.TempDir() // outlives the subtests
	first := standIn(t, filepath.Join(tmp, "old", "guard"))
	mustInstall(t, repo, Options{Binary: first})

	t.Run("moved binary", func(t *testing.T) {
		moved := standIn(t, filepath.Join(tmp, "new", "guard"))
		acts := mustInstall(t, repo, Options{Binary: moved})
		if got, want := whats(acts), "commit-msg: updated; pre-push: updated"; got != want {
			t.Fatalf("actions %q, want %q", got, want)
		}
		st, err := Inspect(ctx, repo, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range st {
			if s.Binary != moved || s.Edited || !s.BinaryOK {
				t.Errorf("after update: %+v", s)
			}
		}
		commit(t, dir, "a.txt", "add a")
		if !strings.HasPrefix(logText(t), "standin [hook] [commit-msg]") {
			t.Fatalf("updated hook did not run the new binary: %q", logText(t))
		}
		first = moved
	})

	t.Run("edited hook", func(t *testing.T) {
		p := filepath.Join(hooks, "commit-msg")
		writeFile(t, p, readFile(t, p)+"# my tweak\n", 0o755)
		st, err := Inspect(ctx, repo, []string{"commit-msg"})
		if err != nil {
			t.Fatal(err)
		}
		if !st[0].Guard || !st[0].Edited {
			t.Fatalf("edit not detected: %+v", st[0])
		}
		acts := mustInstall(t, repo, Options{Binary: first, Hooks: []string{"commit-msg"}})
		if got := whats(acts); got != "commit-msg: updated" {
			t.Fatalf("actions %q", got)
		}
		if readFile(t, p) != string(script(first, "commit-msg")) {
			t.Fatal("edited hook not rewritten")
		}
	})

	t.Run("lost execute bit", func(t *testing.T) {
		p := filepath.Join(hooks, "pre-push")
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
		st, _ := Inspect(ctx, repo, []string{"pre-push"})
		if st[0].Executable {
			t.Fatalf("inspect says executable: %+v", st[0])
		}
		acts := mustInstall(t, repo, Options{Binary: first})
		if got := whats(acts); got != "commit-msg: up to date; pre-push: updated" {
			t.Fatalf("actions %q", got)
		}
		fi, _ := os.Stat(p)
		if fi.Mode().Perm() != 0o755 {
			t.Fatalf("mode %v", fi.Mode().Perm())
		}
	})
}

// TestHookScriptQuotingAndMissingBinary runs the real hook script with a
// binary whose path holds a space, a single quote and other characters sh
// would otherwise interpret, then with that binary gone.
func TestHookScriptQuotingAndMissingBinary(t *testing.T) {
	isolate(t)
	dir := newRepo(t)
	repo := open(t, dir)
	bin := standIn(t, filepath.Join(t.TempDir(), `it's a "dir" $HOME \n`+"`x`", "gu ard"))
	mustInstall(t, repo, Options{Binary: bin})
	hook := filepath.Join(dir, ".git", "hooks", "commit-msg")

	commit(t, dir, "a.txt", "add a")
	if got, want := logText(t), "standin [hook] [commit-msg] [.git/COMMIT_EDITMSG]\n"; got != want {
		t.Fatalf("log %q, want %q", got, want)
	}
	st, err := Inspect(ctx, repo, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st[0].Binary != bin || !st[0].BinaryOK || st[0].Edited {
		t.Fatalf("inspect %+v", st[0])
	}

	if err := os.Remove(bin); err != nil {
		t.Fatal(err)
	}
	resetLog(t)
	_, stderr, err := tryRun(dir, nil, "sh", hook, ".git/COMMIT_EDITMSG")
	var xe *exec.ExitError
	if !errors.As(err, &xe) || xe.ExitCode() != 1 {
		t.Fatalf("hook with a missing binary: err %v, want exit 1", err)
	}
	want := "guard: the commit-msg hook cannot run: " + bin + " is missing or not executable\n" +
		"guard: hint: reinstall guard, then run 'guard install' in this repository\n"
	if stderr != want {
		t.Fatalf("stderr\n%q\nwant\n%q", stderr, want)
	}
	// git itself refuses the commit with that message.
	writeFile(t, filepath.Join(dir, "b.txt"), "b\n", 0o644)
	gittest.Git(t, dir, "add", "b.txt")
	_, stderr, err = tryRun(dir, nil, "git", "commit", "-q", "-m", "add b")
	if err == nil || !strings.Contains(stderr, "guard install") {
		t.Fatalf("commit with a missing binary: err %v, stderr %q", err, stderr)
	}
	st, _ = Inspect(ctx, repo, []string{"commit-msg"})
	if st[0].BinaryOK || st[0].Binary != bin {
		t.Fatalf("inspect after removal %+v", st[0])
	}
}

func TestInspect(t *testing.T) {
	_, repo, hooks := hookRepo(t)

	st, err := Inspect(ctx, repo, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []HookState{
		{Hook: "commit-msg", Path: filepath.Join(hooks, "commit-msg")},
		{Hook: "pre-push", Path: filepath.Join(hooks, "pre-push")},
	}
	if !slices.Equal(st, want) {
		t.Fatalf("fresh repo\n%+v\nwant\n%+v", st, want)
	}

	writeFile(t, filepath.Join(hooks, "pre-push"), foreignHook, 0o755)
	bin := standIn(t, filepath.Join(t.TempDir(), "guard"))
	mustInstall(t, repo, Options{Binary: bin, Hooks: []string{"commit-msg"}})
	st, err = Inspect(ctx, repo, nil)
	if err != nil {
		t.Fatal(err)
	}
	want = []HookState{
		{Hook: "commit-msg", Path: filepath.Join(hooks, "commit-msg"), Present: true, Executable: true, Guard: true, Binary: bin, BinaryOK: true},
		{Hook: "pre-push", Path: filepath.Join(hooks, "pre-push"), Present: true, Executable: true},
	}
	if !slices.Equal(st, want) {
		t.Fatalf("installed\n%+v\nwant\n%+v", st, want)
	}

	// A non-executable binary is not OK.
	if err := os.Chmod(bin, 0o644); err != nil {
		t.Fatal(err)
	}
	st, _ = Inspect(ctx, repo, []string{"commit-msg"})
	if st[0].BinaryOK {
		t.Fatalf("non-executable binary reported OK")
	}
}

func TestUninstallLeavesForeignHooksAlone(t *testing.T) {
	_, repo, hooks := hookRepo(t)
	bin := standIn(t, filepath.Join(t.TempDir(), "guard"))
	mustInstall(t, repo, Options{Binary: bin})
	// The user replaced guard's pre-push with their own.
	writeFile(t, filepath.Join(hooks, "pre-push"), "#!/bin/sh\nexit 0\n", 0o755)

	acts, err := Uninstall(ctx, repo, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := whats(acts), "commit-msg: removed; pre-push: not guard's, left alone"; got != want {
		t.Fatalf("actions %q, want %q", got, want)
	}
	if got := readFile(t, filepath.Join(hooks, "pre-push")); got != "#!/bin/sh\nexit 0\n" {
		t.Fatalf("foreign hook changed: %q", got)
	}
	acts, err = Uninstall(ctx, repo, []string{"commit-msg"})
	if err != nil {
		t.Fatal(err)
	}
	if got := whats(acts); got != "commit-msg: not installed" {
		t.Fatalf("second uninstall %q", got)
	}

	// guard's hook deleted by hand: uninstall still restores the preserved one.
	writeFile(t, filepath.Join(hooks, "commit-msg.pre-guard"), foreignHook, 0o711)
	acts, err = Uninstall(ctx, repo, []string{"commit-msg"})
	if err != nil {
		t.Fatal(err)
	}
	if got := whats(acts); got != "commit-msg: restored previous hook" {
		t.Fatalf("actions %q", got)
	}
	fi, err := os.Stat(filepath.Join(hooks, "commit-msg"))
	if err != nil || fi.Mode().Perm() != 0o711 || readFile(t, filepath.Join(hooks, "commit-msg")) != foreignHook {
		t.Fatalf("restore: %v %v", fi, err)
	}
}

func TestSymlinkHooksArePreservedAsSymlinks(t *testing.T) {
	dir, repo, hooks := hookRepo(t)
	writeFile(t, filepath.Join(dir, "scripts", "commit-msg"), foreignHook, 0o755)
	// A relative link, as repositories that version their hooks make.
	if err := os.Symlink("../../scripts/commit-msg", filepath.Join(hooks, "commit-msg")); err != nil {
		t.Fatal(err)
	}
	// A dangling link is still the user's file.
	if err := os.Symlink("../../nowhere", filepath.Join(hooks, "pre-push")); err != nil {
		t.Fatal(err)
	}
	bin := standIn(t, filepath.Join(t.TempDir(), "guard"))
	acts := mustInstall(t, repo, Options{Binary: bin})
	if got, want := whats(acts), "commit-msg: preserved previous hook as commit-msg.pre-guard; commit-msg: installed; pre-push: preserved previous hook as pre-push.pre-guard; pre-push: installed"; got != want {
		t.Fatalf("actions %q", got)
	}
	for h, target := range map[string]string{"commit-msg": "../../scripts/commit-msg", "pre-push": "../../nowhere"} {
		got, err := os.Readlink(filepath.Join(hooks, h+".pre-guard"))
		if err != nil || got != target {
			t.Fatalf("%s.pre-guard link %q %v, want %q", h, got, err, target)
		}
	}
	// The preserved link still resolves and runs.
	ran, err := RunPrevious(ctx, hooks, "commit-msg", []string{"m"}, nil, nil, nil)
	if !ran || err != nil {
		t.Fatalf("RunPrevious through a symlink: %v %v", ran, err)
	}
	// A dangling preserved hook is skipped, as git skips a dangling hook.
	ran, err = RunPrevious(ctx, hooks, "pre-push", nil, nil, nil, nil)
	if ran || err != nil {
		t.Fatalf("RunPrevious of a dangling link: %v %v", ran, err)
	}
	if _, err := Uninstall(ctx, repo, nil); err != nil {
		t.Fatal(err)
	}
	for h, target := range map[string]string{"commit-msg": "../../scripts/commit-msg", "pre-push": "../../nowhere"} {
		got, err := os.Readlink(filepath.Join(hooks, h))
		if err != nil || got != target {
			t.Fatalf("%s restored as %q %v, want link to %q", h, got, err, target)
		}
	}
}

func TestRunPrevious(t *testing.T) {
	isolate(t)
	hooks := t.TempDir()

	t.Run("absent", func(t *testing.T) {
		ran, err := RunPrevious(ctx, hooks, "commit-msg", nil, nil, nil, nil)
		if ran || err != nil {
			t.Fatalf("ran=%v err=%v", ran, err)
		}
	})

	t.Run("not executable", func(t *testing.T) {
		p := filepath.Join(hooks, "pre-push.pre-guard")
		writeFile(t, p, "#!/bin/sh\necho ran >>\"$GUARD_TEST_LOG\"\n", 0o644)
		var stderr bytes.Buffer
		ran, err := RunPrevious(ctx, hooks, "pre-push", nil, nil, nil, &stderr)
		if ran || err != nil {
			t.Fatalf("ran=%v err=%v", ran, err)
		}
		if got, want := stderr.String(), "hint: The '"+p+"' hook was ignored because it's not set as executable.\n"; got != want {
			t.Fatalf("stderr %q, want %q", got, want)
		}
		if logText(t) != "" {
			t.Fatal("a non-executable hook ran")
		}
	})

	t.Run("no shebang runs under sh like git", func(t *testing.T) {
		writeFile(t, filepath.Join(hooks, "commit-msg.pre-guard"), "echo \"plain $1 $GUARD\" >>\"$GUARD_TEST_LOG\"\n", 0o755)
		ran, err := RunPrevious(ctx, hooks, "commit-msg", []string{"msgfile"}, nil, nil, nil)
		if !ran || err != nil {
			t.Fatalf("ran=%v err=%v", ran, err)
		}
		if got := logText(t); got != "plain msgfile 1\n" {
			t.Fatalf("log %q", got)
		}
	})

	t.Run("relative hooks dir", func(t *testing.T) {
		resetLog(t)
		t.Chdir(filepath.Dir(hooks))
		ran, err := RunPrevious(ctx, filepath.Base(hooks), "commit-msg", []string{"rel"}, nil, nil, nil)
		if !ran || err != nil || logText(t) != "plain rel 1\n" {
			t.Fatalf("ran=%v err=%v log=%q", ran, err, logText(t))
		}
	})

	t.Run("stderr in error when not streamed", func(t *testing.T) {
		writeFile(t, filepath.Join(hooks, "commit-msg.pre-guard"), "#!/bin/sh\necho 'no ticket number' >&2\nexit 1\n", 0o755)
		_, err := RunPrevious(ctx, hooks, "commit-msg", nil, nil, nil, nil)
		if err == nil || !strings.Contains(err.Error(), "no ticket number") {
			t.Fatalf("err %v", err)
		}
		var stderr bytes.Buffer
		_, err = RunPrevious(ctx, hooks, "commit-msg", nil, nil, nil, &stderr)
		if err == nil || strings.Contains(err.Error(), "no ticket number") || stderr.String() != "no ticket number\n" {
			t.Fatalf("streamed: err %v stderr %q", err, stderr.String())
		}
	})

	t.Run("a guard hook as previous would loop", func(t *testing.T) {
		writeFile(t, filepath.Join(hooks, "commit-msg.pre-guard"), string(script("/bin/true", "commit-msg")), 0o755)
		ran, err := RunPrevious(ctx, hooks, "commit-msg", nil, nil, nil, nil)
		if ran || err == nil || fail.KindOf(err) != fail.KindUsage {
			t.Fatalf("ran=%v err=%v", ran, err)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		writeFile(t, filepath.Join(hooks, "commit-msg.pre-guard"), "#!/bin/sh\nexec sleep 5\n", 0o755)
		c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := RunPrevious(c, hooks, "commit-msg", nil, nil, nil, nil)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v, want deadline exceeded", err)
		}
	})
}

func TestOptionsValidation(t *testing.T) {
	isolate(t)
	dir := newRepo(t)
	repo := open(t, dir)
	bin := standIn(t, filepath.Join(t.TempDir(), "guard"))
	notExec := filepath.Join(t.TempDir(), "guard")
	writeFile(t, notExec, "#!/bin/sh\n", 0o644)
	for _, tc := range []struct {
		name string
		opts Options
		msg  string
	}{
		{"relative binary", Options{Binary: "bin/guard"}, "not absolute"},
		{"missing binary", Options{Binary: filepath.Join(t.TempDir(), "nope")}, "not an executable file"},
		{"non-executable binary", Options{Binary: notExec}, "not an executable file"},
		{"directory binary", Options{Binary: t.TempDir()}, "not an executable file"},
		{"newline in binary", Options{Binary: "/tmp/a\nb"}, "line break"},
		{"unknown hook", Options{Binary: bin, Hooks: []string{"commit-mgs"}}, `"commit-mgs" is not a git hook name`},
		{"path as hook", Options{Binary: bin, Hooks: []string{"../x"}}, "not a git hook name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Install(ctx, repo, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.msg) || fail.KindOf(err) != fail.KindUsage {
				t.Fatalf("err %v, want usage error containing %q", err, tc.msg)
			}
		})
	}
	if es, _ := os.ReadDir(filepath.Join(dir, ".git", "hooks")); slices.ContainsFunc(es, func(e os.DirEntry) bool {
		return e.Name() == "commit-msg" || e.Name() == "pre-push"
	}) {
		t.Fatal("a rejected install wrote hooks")
	}

	acts := mustInstall(t, repo, Options{Binary: bin, Hooks: []string{"pre-commit", "pre-commit"}})
	if got := whats(acts); got != "pre-commit: installed" {
		t.Fatalf("actions %q", got)
	}
}

func TestDefaultBinary(t *testing.T) {
	for p, want := range map[string]bool{
		"/tmp/go-build1234/b001/exe/guard":     true,
		"/var/folders/x/T/go-build99/b1/guard": true,
		"/home/me/.local/bin/guard":            false,
		"/usr/local/bin/go-build-tools-guard":  false, // only folders count
		"/opt/guard/bin/guard":                 false,
		"/tmp/testscript-main123/bin/guard":    false,
		"/home/me/src/go-buildkite/bin/guard":  false,
		"/home/me/go-build/bin/guard":          false,
	} {
		if got := inGoBuildDir(p); got != want {
			t.Errorf("inGoBuildDir(%s) = %v, want %v", p, got, want)
		}
	}

	// The test binary itself lives where `go test` built it.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe, err = filepath.EvalSymlinks(exe)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DefaultBinary()
	if inGoBuildDir(exe) {
		if err == nil || fail.KindOf(err) != fail.KindUsage || !strings.Contains(err.Error(), "go run") {
			t.Fatalf("DefaultBinary from %s: %q, %v; want a usage error", exe, got, err)
		}
	} else if err != nil || got != exe {
		t.Fatalf("DefaultBinary = %q, %v; want %s", got, err, exe)
	}
}
