// Package install writes, updates, inspects and removes guard's git hooks.
//
// Contract:
//   - Hooks go where git looks for them: `git rev-parse --git-path hooks`,
//     which honours core.hooksPath and, from a linked worktree, answers the
//     common directory, so installing there protects the main checkout too.
//   - A hooks folder inside the work tree and not ignored (husky's .husky,
//     husky 9's .husky/_ counting as .husky, a committed .githooks) is
//     shared through git: there guard adds a marked, portable block to each
//     hook (see tracked.go) and never writes a machine's path; everything
//     below about scripts and .pre-guard files is for private folders.
//   - A guard hook is a small POSIX sh script that execs an absolute, baked-in
//     binary path (GUI git clients run hooks with another PATH) and fails with
//     a reinstall hint when that binary is gone. Its second line carries a
//     fingerprint, the SHA-256 of the file with the fingerprint blanked: the
//     marker says the file is guard's, the value says whether it was edited
//     (by hand: sed 's/guard-fingerprint: [0-9a-f]*/guard-fingerprint: /' HOOK | sha256sum).
//   - A hook guard did not write is never lost. Install moves it to
//     <name>.pre-guard (same bytes, mode and inode; a symlink stays a
//     symlink), RunPrevious runs it before guard's checks, and Uninstall puts
//     it back. When <name> and <name>.pre-guard are both foreign, Install
//     refuses before touching any file.
//   - Install is idempotent: it writes only when a hook's content or
//     executability differs, and every write is a temp file renamed into
//     place, so git never runs a half-written hook.
package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/proc"
)

// PreviousSuffix names where a foreign hook is kept: <hooksdir>/<name>.pre-guard.
// git ignores the name, so the file only runs through RunPrevious.
const PreviousSuffix = ".pre-guard"

// What an Action did. Install may also report "preserved previous hook as
// <file>" (see Preserved).
const (
	Installed     = "installed"
	Updated       = "updated"
	UpToDate      = "up to date"
	Removed       = "removed"
	Restored      = "restored previous hook"
	NotGuards     = "not guard's, left alone"
	NotInstalled  = "not installed"
	preservedVerb = "preserved previous hook as "
)

// Preserved is the Action.What for a foreign hook moved to file (a base name).
func Preserved(file string) string { return preservedVerb + file }

// DefaultHooks are the hooks guard manages unless told otherwise.
func DefaultHooks() []string { return []string{"commit-msg", "pre-push"} }

// Options configure Install.
type Options struct {
	// Binary is the absolute path of the guard binary the hooks exec; ""
	// means DefaultBinary().
	Binary string
	// Hooks are the hook names to install; nil means DefaultHooks().
	Hooks []string
}

// Action is one change (or non-change) made to a hook.
type Action struct {
	Hook string
	// Path is the file acted on: the hook, or for a preservation the
	// <name>.pre-guard file.
	Path string
	What string
}

// HookState is what Inspect finds for one hook.
type HookState struct {
	Hook string
	Path string
	// Present: a file (or symlink, even dangling) exists at Path.
	Present bool
	// Executable: git would run it (the execute bit is set).
	Executable bool
	// Guard: it carries guard's marker; Edited: its fingerprint no longer
	// matches its content.
	Guard  bool
	Edited bool
	// Binary is the path a guard hook execs ("" when unreadable), and
	// BinaryOK whether that is an executable file.
	Binary   string
	BinaryOK bool
	// Previous is the path of the preserved <name>.pre-guard, or "".
	Previous string
	// Tracked: the hook lives in a folder inside the work tree (husky's,
	// a committed .githooks), where guard's part is a portable block that
	// runs the guard on PATH (Binary is then what PATH finds).
	Tracked bool
	// MachineSpecific: a tracked folder holds a script an older guard
	// wrote, with one machine's binary path in it.
	MachineSpecific bool
}

// HooksDir is the absolute folder git runs hooks from for repo.
func HooksDir(ctx context.Context, repo *gitx.Repo) (string, error) {
	if repo.HooksDir != "" {
		return repo.HooksDir, nil // answered by gitx.Open's rev-parse
	}
	dir, err := repo.GitPath(ctx, "hooks")
	if err != nil {
		return "", fmt.Errorf("locating the hooks folder: %w", err)
	}
	return dir, nil
}

// Install writes guard's hooks into the folder git uses, preserving any
// foreign hook, and reports what it did per hook. Nothing is changed when a
// hook cannot be installed without losing a file.
func Install(ctx context.Context, repo *gitx.Repo, opts Options) ([]Action, error) {
	hooks, dir, err := locateHooks(ctx, repo, opts.Hooks)
	if err != nil {
		return nil, err
	}
	if l, err := Locate(ctx, repo); err != nil {
		return nil, err
	} else if l.Tracked {
		return installTracked(l, hooks) // runs the guard on PATH: no binary to check
	}
	bin := opts.Binary
	if bin == "" {
		if bin, err = DefaultBinary(); err != nil {
			return nil, err
		}
	}
	if err := checkBinary(bin); err != nil {
		return nil, err
	}

	// Look at every hook before changing any, so a conflict on the second
	// hook does not leave the first half-installed.
	type step struct {
		hook, path, prev string
		cur              fileState
		want             []byte
	}
	var steps []step
	var conflicts []string
	for _, h := range hooks {
		s := step{hook: h, path: filepath.Join(dir, h), prev: filepath.Join(dir, h+PreviousSuffix), want: script(bin, h)}
		if s.cur, err = readHook(s.path); err != nil {
			return nil, err
		}
		if s.cur.present && !s.cur.p.guard {
			if ok, err := exists(s.prev); err != nil {
				return nil, err
			} else if ok {
				conflicts = append(conflicts, h)
			}
		}
		steps = append(steps, s)
	}
	if len(conflicts) > 0 {
		return nil, conflictError(dir, conflicts)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the hooks folder: %w", err)
	}

	var actions []Action
	for _, s := range steps {
		switch {
		case s.cur.present && s.cur.p.guard:
			if s.cur.regular && s.cur.exec && bytes.Equal(s.cur.data, s.want) {
				actions = append(actions, Action{s.hook, s.path, UpToDate})
				continue
			}
			if err := writeAtomic(dir, s.hook, s.want); err != nil {
				return actions, err
			}
			actions = append(actions, Action{s.hook, s.path, Updated})
		case !s.cur.present:
			if err := writeAtomic(dir, s.hook, s.want); err != nil {
				return actions, err
			}
			actions = append(actions, Action{s.hook, s.path, Installed})
		default:
			if err := replacePreserving(dir, s.hook, s.cur.symlink, s.want); err != nil {
				return actions, err
			}
			actions = append(actions,
				Action{s.hook, s.prev, Preserved(filepath.Base(s.prev))},
				Action{s.hook, s.path, Installed})
		}
	}
	return actions, nil
}

func conflictError(dir string, hooks []string) error {
	var files []string
	for _, h := range hooks {
		files = append(files, fmt.Sprintf("%s and %s", h, h+PreviousSuffix))
	}
	return fail.Usage(
		fmt.Errorf("%s: %s are both hooks guard did not write; installing would lose one of them", dir, strings.Join(files, "; ")),
		fmt.Sprintf("merge what you need into <hook>%s, delete <hook>, then run 'guard install' again (guard runs <hook>%s before its own checks)", PreviousSuffix, PreviousSuffix),
	)
}

// Uninstall removes guard's hooks and puts back what was there before. A
// hook that is not guard's is left alone and reported.
func Uninstall(ctx context.Context, repo *gitx.Repo, hooks []string) ([]Action, error) {
	hooks, dir, err := locateHooks(ctx, repo, hooks)
	if err != nil {
		return nil, err
	}
	if l, err := Locate(ctx, repo); err != nil {
		return nil, err
	} else if l.Tracked {
		return uninstallTracked(l, hooks)
	}
	var actions []Action
	for _, h := range hooks {
		path := filepath.Join(dir, h)
		prev := path + PreviousSuffix
		cur, err := readHook(path)
		if err != nil {
			return actions, err
		}
		hasPrev, err := exists(prev)
		if err != nil {
			return actions, err
		}
		switch {
		case cur.present && !cur.p.guard:
			actions = append(actions, Action{h, path, NotGuards})
		case hasPrev:
			// One rename replaces guard's hook with the original: same
			// inode, so the same bytes and mode, and no moment without a hook.
			if err := os.Rename(prev, path); err != nil {
				return actions, fmt.Errorf("restoring %s: %w", prev, err)
			}
			actions = append(actions, Action{h, path, Restored})
		case cur.present:
			if err := os.Remove(path); err != nil {
				return actions, fmt.Errorf("removing %s: %w", path, err)
			}
			actions = append(actions, Action{h, path, Removed})
		default:
			actions = append(actions, Action{h, path, NotInstalled})
		}
	}
	return actions, nil
}

// Inspect reports the state of each hook (nil means DefaultHooks()).
func Inspect(ctx context.Context, repo *gitx.Repo, hooks []string) ([]HookState, error) {
	hooks, dir, err := locateHooks(ctx, repo, hooks)
	if err != nil {
		return nil, err
	}
	if l, err := Locate(ctx, repo); err != nil {
		return nil, err
	} else if l.Tracked {
		return inspectTracked(l, hooks)
	}
	var res []HookState
	for _, h := range hooks {
		path := filepath.Join(dir, h)
		cur, err := readHook(path)
		if err != nil {
			return nil, err
		}
		st := HookState{Hook: h, Path: path, Present: cur.present, Executable: cur.exec,
			Guard: cur.p.guard, Edited: cur.p.edited, Binary: cur.p.binary}
		if filepath.IsAbs(st.Binary) {
			st.BinaryOK = executableFile(st.Binary)
		}
		prev := path + PreviousSuffix
		if ok, err := exists(prev); err != nil {
			return nil, err
		} else if ok {
			st.Previous = prev
		}
		res = append(res, st)
	}
	return res, nil
}

// RunPrevious runs <hooksDir>/<hook>.pre-guard, the hook guard preserved at
// install, with the arguments and stdin guard's hook received, in the current
// directory (where git started the hook) and guard's environment. ran=false
// when there is none; a preserved hook without the execute bit is skipped
// with git's own hint on stderr, as git would skip it. A non-zero exit is
// returned as a refusal: the hook it chains to fails with it.
func RunPrevious(ctx context.Context, hooksDir, hook string, args []string, stdin []byte, stdout, stderr io.Writer) (ran bool, err error) {
	path, err := filepath.Abs(filepath.Join(hooksDir, hook+PreviousSuffix))
	if err != nil {
		return false, err
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !fi.Mode().IsRegular() {
		return false, fail.Usagef("%s is not a regular file, so it cannot run as the previous %s hook", path, hook)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		if stderr != nil {
			fmt.Fprintf(stderr, "hint: The '%s' hook was ignored because it's not set as executable.\n", path)
		}
		return false, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	if parseHook(data).guard {
		// It would exec guard, which would run it again, without end.
		return false, fail.Usage(fmt.Errorf("%s is itself a guard hook, so running it would loop", path),
			fmt.Sprintf("delete %s; 'guard install' writes the real hook", path))
	}

	run := func(name string, argv []string) error {
		_, err := proc.Run(ctx, proc.Cmd{Name: name, Args: argv, Stdin: bytes.NewReader(stdin), Stdout: stdout, Stderr: stderr})
		return err
	}
	err = run(path, args)
	if errors.Is(err, syscall.ENOEXEC) {
		// A script without a #! line: git hands it to sh, and so do we.
		err = run("/bin/sh", append([]string{path}, args...))
	}
	if err == nil {
		return true, nil
	}
	if ctx.Err() != nil {
		return true, err
	}
	var ee *proc.ExitError
	if errors.As(err, &ee) {
		var msg string
		switch {
		case ee.Code > 0:
			msg = fmt.Sprintf("the previous %s hook (%s) exited with status %d", hook, path, ee.Code)
		case ee.Err != nil:
			msg = fmt.Sprintf("the previous %s hook (%s) failed: %v", hook, path, ee.Err)
		default:
			msg = fmt.Sprintf("the previous %s hook (%s) failed", hook, path)
		}
		if stderr == nil && ee.Stderr != "" {
			// Not streamed to the user, so say what it said.
			msg += ": " + ee.Stderr
		}
		e := &previousError{msg: msg, err: err}
		if ee.Code > 0 {
			return true, fail.Refused(e, fmt.Sprintf("this is the hook that was installed before guard; fix what it reports, or move %s away to stop running it", path))
		}
		return true, fail.External(e)
	}
	return true, fail.External(fmt.Errorf("running the previous %s hook (%s): %w", hook, path, err))
}

// previousError words a preserved hook's failure without repeating the
// stderr the user already saw, and unwraps to the *proc.ExitError.
type previousError struct {
	msg string
	err error
}

func (e *previousError) Error() string { return e.msg }
func (e *previousError) Unwrap() error { return e.err }

// DefaultBinary is the running guard's own path, symlinks resolved. It
// refuses a binary inside a `go run` (or `go test`) temporary build folder,
// since that folder is deleted when the command exits and every hook pointing
// there would break.
func DefaultBinary() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fail.External(fmt.Errorf("cannot find the path of the running guard binary: %w", err),
			"run 'guard install' from an installed guard binary")
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	if inGoBuildDir(exe) {
		return "", fail.Usage(fmt.Errorf("guard is running from %s, a temporary build that `go run` deletes when it exits; hooks pointing there would break", exe),
			"build guard first (go build -o ~/.local/bin/guard ./cmd/guard), then run that binary's 'install'")
	}
	return exe, nil
}

// inGoBuildDir reports whether p lies under a go tool build folder
// ($GOTMPDIR or $TMPDIR/go-build<digits>/..., from os.MkdirTemp).
func inGoBuildDir(p string) bool {
	for _, el := range strings.Split(filepath.ToSlash(filepath.Dir(p)), "/") {
		digits, ok := strings.CutPrefix(el, "go-build")
		if ok && digits != "" && strings.Trim(digits, "0123456789") == "" {
			return true
		}
	}
	return false
}

// checkBinary accepts what the hook script can exec without PATH.
func checkBinary(bin string) error {
	if !filepath.IsAbs(bin) {
		return fail.Usagef("the guard binary path %q is not absolute; hooks must find guard without PATH", bin)
	}
	if strings.ContainsAny(bin, "\x00\n\r") {
		return fail.Usagef("the guard binary path %q contains a NUL or line break, which a hook file cannot hold", bin)
	}
	if !executableFile(bin) {
		return fail.Usage(fmt.Errorf("%s is not an executable file", bin), "build or install guard, then run 'guard install' with that binary")
	}
	return nil
}

// gitHooks are the names githooks(5) documents; anything else is a typo that
// would install a file git never runs.
var gitHooks = []string{
	"applypatch-msg", "pre-applypatch", "post-applypatch", "pre-commit",
	"pre-merge-commit", "prepare-commit-msg", "commit-msg", "post-commit",
	"pre-rebase", "post-checkout", "post-merge", "pre-push", "pre-receive",
	"update", "proc-receive", "post-receive", "post-update",
	"reference-transaction", "push-to-checkout", "pre-auto-gc", "post-rewrite",
	"sendemail-validate", "fsmonitor-watchman", "p4-changelist",
	"p4-prepare-changelist", "p4-post-changelist", "p4-pre-submit",
	"post-index-change",
}

// locateHooks checks the hook names (nil means DefaultHooks()) and finds
// the folder git runs them from.
func locateHooks(ctx context.Context, repo *gitx.Repo, hooks []string) ([]string, string, error) {
	hooks, err := checkHooks(hooks)
	if err != nil {
		return nil, "", err
	}
	dir, err := HooksDir(ctx, repo)
	if err != nil {
		return nil, "", err
	}
	return hooks, dir, nil
}

func checkHooks(hooks []string) ([]string, error) {
	if hooks == nil {
		return DefaultHooks(), nil
	}
	var res []string
	for _, h := range hooks {
		if !slices.Contains(gitHooks, h) {
			return nil, fail.Usagef("%q is not a git hook name (see githooks(5))", h)
		}
		if !slices.Contains(res, h) {
			res = append(res, h)
		}
	}
	return res, nil
}

// fileState is one hook path as found on disk.
type fileState struct {
	present bool // something is at the path, even a dangling symlink
	symlink bool
	regular bool // after following symlinks
	exec    bool
	data    []byte
	p       parsed
}

// readHook reads the hook at path as git would run it, through symlinks. A
// dangling symlink is present but foreign: it is still the user's file.
func readHook(path string) (fileState, error) {
	lfi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileState{}, nil
	}
	if err != nil {
		return fileState{}, err
	}
	st := fileState{present: true, symlink: lfi.Mode()&fs.ModeSymlink != 0}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if !fi.Mode().IsRegular() {
		return st, fail.Usagef("%s is not a regular file; a hook must be one", path)
	}
	st.regular = true
	st.exec = fi.Mode().Perm()&0o111 != 0
	if st.data, err = os.ReadFile(path); err != nil {
		return st, err
	}
	st.p = parseHook(st.data)
	return st, nil
}

func exists(path string) (bool, error) {
	_, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func executableFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// writeTemp writes data to a new file in dir, mode 0755, flushed to disk,
// named so that git never takes it for a hook.
func writeTemp(dir, hook string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, "."+hook+".guard-tmp-*")
	if err != nil {
		return "", fmt.Errorf("writing the %s hook: %w", hook, err)
	}
	name := f.Name()
	_, err = f.Write(data)
	if err == nil {
		// Chmod, not the create mode, so the umask cannot drop the x bits.
		err = f.Chmod(0o755)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("writing the %s hook: %w", hook, err)
	}
	return name, nil
}

// writeAtomic replaces dir/hook with data in one rename.
func writeAtomic(dir, hook string, data []byte) error {
	tmp, err := writeTemp(dir, hook, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, hook)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing the %s hook: %w", hook, err)
	}
	return nil
}

// replacePreserving moves the foreign dir/hook to dir/hook.pre-guard and puts
// guard's hook in its place. A regular file is hard-linked first, which fails
// rather than overwrite an existing .pre-guard and leaves no moment without
// a hook; a symlink (or a filesystem without hard links) is renamed.
func replacePreserving(dir, hook string, symlink bool, data []byte) error {
	path := filepath.Join(dir, hook)
	prev := path + PreviousSuffix
	tmp, err := writeTemp(dir, hook, data)
	if err != nil {
		return err
	}
	linked := false
	if !symlink {
		err := os.Link(path, prev)
		if err == nil {
			linked = true
		} else if errors.Is(err, fs.ErrExist) {
			os.Remove(tmp)
			return conflictError(dir, []string{hook})
		}
	}
	if !linked {
		if ok, err := exists(prev); err != nil || ok {
			os.Remove(tmp)
			if err != nil {
				return err
			}
			return conflictError(dir, []string{hook})
		}
		if err := os.Rename(path, prev); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("preserving %s: %w", path, err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		if linked {
			os.Remove(prev)
		} else {
			os.Rename(prev, path)
		}
		return fmt.Errorf("writing the %s hook: %w", hook, err)
	}
	return nil
}
