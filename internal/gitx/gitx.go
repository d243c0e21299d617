// Package gitx is the one place guard runs git.
//
// It drives the real git CLI (through internal/proc: context, GUARD=1,
// stderr in errors) rather than go-git for everything that walks the working
// tree or the object store in bulk: `git status` is ~14× faster than
// go-git's Worktree.Status on a 13k-file tree, and a cold go-git pack read
// costs ~140 ms where git answers in a few. Blob contents are read through a
// single long-lived `git cat-file --batch` per repository, started lazily,
// so a hook that never needs file contents never pays for it.
package gitx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"io"
	"path/filepath"
	"strings"
	"sync"

	"github.com/guardcm/guard/internal/proc"
)

// ErrNotRepo is returned by Open outside a git work tree.
var ErrNotRepo = errors.New("not inside a git repository")

// Repo is a git work tree.
type Repo struct {
	// Root is the top of the work tree (absolute).
	Root string
	// GitDir is this work tree's git directory (absolute); for a linked
	// worktree it differs from CommonDir.
	GitDir string
	// CommonDir holds what all worktrees share: refs, objects, config, hooks.
	CommonDir string
	// HooksDir is where git runs hooks from (`git rev-parse --git-path
	// hooks`: honours core.hooksPath and linked worktrees), absolute.
	HooksDir string

	// lazy guards the two helpers below, opened on first use: one Repo is
	// used from several goroutines at once (a deploy fetches the branch
	// and the deploy notes together).
	lazy  sync.Mutex
	blobs *batch
	refs  *filesystem.Storage // go-git's view of the refs
}

// Open finds the repository containing dir.
func Open(ctx context.Context, dir string) (*Repo, error) {
	// git answers some paths relative to where it ran; anchor them to an
	// absolute dir so the fields are absolute whatever the caller passed.
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	out, err := proc.Run(ctx, proc.Cmd{Name: "git", Args: []string{"rev-parse", "--show-toplevel", "--absolute-git-dir", "--git-common-dir", "--git-path", "hooks"}, Dir: dir, Env: proc.Env("LC_ALL=C")})
	if err != nil {
		var ee *proc.ExitError
		if errors.As(err, &ee) && strings.Contains(ee.Stderr, "not a git repository") {
			return nil, ErrNotRepo
		}
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != 4 {
		return nil, fmt.Errorf("git rev-parse: unexpected output %q", out)
	}
	r := &Repo{Root: lines[0], GitDir: lines[1], CommonDir: lines[2], HooksDir: lines[3]}
	// Relative answers are relative to where rev-parse ran.
	if !filepath.IsAbs(r.CommonDir) {
		r.CommonDir = filepath.Join(dir, r.CommonDir)
	}
	if !filepath.IsAbs(r.HooksDir) {
		r.HooksDir = filepath.Join(dir, r.HooksDir)
	}
	r.CommonDir = filepath.Clean(r.CommonDir)
	r.HooksDir = filepath.Clean(r.HooksDir)
	return r, nil
}

// Close stops the background cat-file process, if one was started.
func (r *Repo) Close() error {
	r.lazy.Lock()
	defer r.lazy.Unlock()
	if r.blobs != nil {
		err := r.blobs.close()
		r.blobs = nil
		return err
	}
	return nil
}

// Git runs git with args in the work tree and returns its stdout.
func (r *Repo) Git(ctx context.Context, args ...string) ([]byte, error) {
	return proc.Run(ctx, proc.Cmd{Name: "git", Args: args, Dir: r.Root})
}

// GitInput runs git with stdin read from in and returns its stdout: for
// lists of revisions or objects too long, or too untrusted, to pass as
// arguments.
func (r *Repo) GitInput(ctx context.Context, in io.Reader, args ...string) ([]byte, error) {
	return proc.Run(ctx, proc.Cmd{Name: "git", Args: args, Dir: r.Root, Stdin: in})
}

// GitStream runs git with its output streamed (used for fetch and push, whose
// progress the user should see).
func (r *Repo) GitStream(ctx context.Context, stdout, stderr interface{ Write([]byte) (int, error) }, args ...string) error {
	_, err := proc.Run(ctx, proc.Cmd{Name: "git", Args: args, Dir: r.Root, Stdout: stdout, Stderr: stderr})
	return err
}

// GitLine runs git and returns stdout's first line, trimmed.
func (r *Repo) GitLine(ctx context.Context, args ...string) (string, error) {
	out, err := r.Git(ctx, args...)
	if err != nil {
		return "", err
	}
	s := string(out)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s), nil
}

// ResolveCommit returns the full hash of rev, or ok=false when it does not
// name a commit.
func (r *Repo) ResolveCommit(ctx context.Context, rev string) (hash string, ok bool, err error) {
	out, err := r.GitFixed(ctx, []string{rev}, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if err != nil {
		var ee *proc.ExitError
		if errors.As(err, &ee) && ee.Code == 1 {
			return "", false, nil
		}
		return "", false, err
	}
	return strings.TrimSpace(string(out)), true, nil
}

// ConfigValue reads one git config value; ok=false when unset.
func (r *Repo) ConfigValue(ctx context.Context, key string) (string, bool, error) {
	return ConfigValueIn(ctx, r.Root, key)
}

// ConfigValueIn is ConfigValue for the repository around dir, for callers
// that must not wait for Open.
func ConfigValueIn(ctx context.Context, dir, key string) (string, bool, error) {
	out, err := proc.Run(ctx, proc.Cmd{Name: "git", Args: []string{"config", "--get", key}, Dir: dir})
	if err != nil {
		var ee *proc.ExitError
		if errors.As(err, &ee) && ee.Code == 1 {
			return "", false, nil
		}
		return "", false, err
	}
	return strings.TrimRight(string(out), "\n"), true, nil
}

// GitPath answers `git rev-parse --git-path NAME` as an absolute path. It
// honours core.hooksPath for "hooks" and maps shared paths of a linked
// worktree to the common directory, which is where git itself looks.
func (r *Repo) GitPath(ctx context.Context, name string) (string, error) {
	p, err := r.GitLine(ctx, "rev-parse", "--git-path", name)
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(r.Root, p)
	}
	return filepath.Clean(p), nil
}

// Status is one entry of `git status --porcelain=v2`.
type Status struct {
	// Code is the two-letter XY code ("M.", ".D", "??", "!!", ...) or "u"
	// for unmerged entries.
	Code string
	Path string
	// Orig is the source path of a rename or copy.
	Orig string
	// Submodule is "N..." for files, or "S<c><m><u>" for submodules.
	Submodule string
}

// StatusAll lists every changed, untracked (not ignored) and unmerged path,
// including dirty submodules.
func (r *Repo) StatusAll(ctx context.Context) ([]Status, error) {
	out, err := r.Git(ctx, "status", "--porcelain=v2", "-z", "--untracked-files=all", "--ignore-submodules=none")
	if err != nil {
		return nil, err
	}
	return parseStatusV2(out)
}

func parseStatusV2(out []byte) ([]Status, error) {
	var res []Status
	fields := bytes.Split(out, []byte{0})
	for i := 0; i < len(fields); i++ {
		f := string(fields[i])
		if f == "" {
			continue
		}
		switch f[0] {
		case '1':
			// 1 XY sub mH mI mW hH hI path
			parts := strings.SplitN(f, " ", 9)
			if len(parts) < 9 {
				return nil, fmt.Errorf("git status: malformed entry %q", f)
			}
			res = append(res, Status{Code: parts[1], Submodule: parts[2], Path: parts[8]})
		case '2':
			// 2 XY sub mH mI mW hH hI Xscore path NUL origPath
			parts := strings.SplitN(f, " ", 10)
			if len(parts) < 10 || i+1 >= len(fields) {
				return nil, fmt.Errorf("git status: malformed entry %q", f)
			}
			i++
			res = append(res, Status{Code: parts[1], Submodule: parts[2], Path: parts[9], Orig: string(fields[i])})
		case 'u':
			parts := strings.SplitN(f, " ", 11)
			if len(parts) < 11 {
				return nil, fmt.Errorf("git status: malformed entry %q", f)
			}
			res = append(res, Status{Code: "u", Submodule: parts[2], Path: parts[10]})
		case '?':
			res = append(res, Status{Code: "??", Path: strings.TrimPrefix(f, "? ")})
		case '!':
			res = append(res, Status{Code: "!!", Path: strings.TrimPrefix(f, "! ")})
		case '#':
		default:
			return nil, fmt.Errorf("git status: unknown entry %q", f)
		}
	}
	return res, nil
}

// FileChange is one path of a diff between two trees.
type FileChange struct {
	// Kind is 'A', 'M', 'D', 'R', 'C' or 'T'.
	Kind    byte
	Path    string
	OldPath string // for renames and copies; otherwise equal to Path
}

// parseNameStatusZ parses `git diff --name-status -z` output.
func parseNameStatusZ(out []byte) ([]FileChange, error) {
	var res []FileChange
	fields := bytes.Split(out, []byte{0})
	for i := 0; i < len(fields); i++ {
		if len(fields[i]) == 0 {
			continue
		}
		fc, next, err := nameStatusEntry(fields, i, fields[i])
		if err != nil {
			return nil, fmt.Errorf("git diff: %w", err)
		}
		res = append(res, fc)
		i = next
	}
	return res, nil
}

// nameStatusEntry reads the entry whose status field st is fields[i]: the
// status, then one path, or two (source, destination) for a rename or a
// copy. next is the index of the entry's last field.
func nameStatusEntry(fields [][]byte, i int, st []byte) (fc FileChange, next int, err error) {
	kind := st[0]
	switch kind {
	case 'R', 'C':
		if i+2 >= len(fields) {
			return fc, i, fmt.Errorf("truncated rename entry %q", st)
		}
		return FileChange{Kind: kind, OldPath: string(fields[i+1]), Path: string(fields[i+2])}, i + 2, nil
	default:
		if kind < 'A' || kind > 'Z' {
			return fc, i, fmt.Errorf("unknown status %q", st)
		}
		if i+1 >= len(fields) {
			return fc, i, fmt.Errorf("truncated entry %q", st)
		}
		p := string(fields[i+1])
		return FileChange{Kind: kind, Path: p, OldPath: p}, i + 1, nil
	}
}

// StagedChanges lists what the index changes against HEAD (against the empty
// tree before the first commit), with renames detected.
func (r *Repo) StagedChanges(ctx context.Context) ([]FileChange, error) {
	return StagedChangesIn(ctx, r.Root)
}

// StagedChangesIn is StagedChanges for the repository around dir, for
// callers that must not wait for Open.
func StagedChangesIn(ctx context.Context, dir string) ([]FileChange, error) {
	// Without a commit argument git diffs against HEAD, or shows every
	// staged file on an unborn branch: no separate HEAD lookup needed.
	out, err := proc.Run(ctx, proc.Cmd{Name: "git", Args: []string{"diff", "--cached", "--name-status", "-z", "-M", "--no-ext-diff", "--no-textconv"}, Dir: dir})
	if err != nil {
		return nil, err
	}
	return parseNameStatusZ(out)
}

// EmptyTree is git's well-known empty tree object (SHA-1 repositories).
const EmptyTree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

// DiffWorkTree lists the changes from commit from to the tracked files on
// disk, renames detected.
func (r *Repo) DiffWorkTree(ctx context.Context, from string) ([]FileChange, error) {
	out, err := r.Git(ctx, "diff", "--name-status", "-z", "-M", "--no-ext-diff", "--no-textconv", from, "--")
	if err != nil {
		return nil, err
	}
	return parseNameStatusZ(out)
}

// DiffTrees lists the changes from one tree-ish to another.
func (r *Repo) DiffTrees(ctx context.Context, from, to string, paths ...string) ([]FileChange, error) {
	args := []string{"diff", "--name-status", "-z", "-M", "--no-ext-diff", "--no-textconv", from, to}
	if len(paths) > 0 {
		args = append(append(args, "--"), paths...)
	}
	out, err := r.GitFixed(ctx, []string{from, to}, args...)
	if err != nil {
		return nil, err
	}
	return parseNameStatusZ(out)
}

// Commit is one commit with what a policy check needs.
type Commit struct {
	Hash    string
	Parents []string
	// Message is the message as committed, byte for byte (git re-encodes
	// it to UTF-8 only for a commit whose header names another encoding).
	Message []byte
	Subject string
	// Changes against the first parent (the empty tree for a root commit);
	// nil for merge commits, which the policy exempts.
	Changes     []FileChange
	AuthorEmail string
	AuthorTime  string // strict ISO 8601
	CommitTime  string
}

// IsMerge reports whether c has more than one parent.
func (c *Commit) IsMerge() bool { return len(c.Parents) > 1 }

// Short is the abbreviated hash used in messages.
func (c *Commit) Short() string { return ShortHash(c.Hash) }

// ShortHash abbreviates a commit hash to the 12 characters guard shows in
// every message, record and file name.
func ShortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// recordMark starts each commit's record in Log's output. The record is the
// header fields, one per line (none can hold a newline), then the message,
// which ends at the NUL git writes after it (a message cannot hold a NUL);
// the commit's name-status entries follow, each field NUL-terminated. The
// output is parsed field by field, so the mark only has to differ from a
// status letter: a message containing the mark cannot start a record.
const recordMark = "\x1eguard-commit\x1f"

// Log lists the commits that `git rev-list <revs...>` selects, oldest first,
// each with its message and its own changes — all in one git process, so a
// push of 100 commits costs one fork, not 100.
func (r *Repo) Log(ctx context.Context, revs ...string) ([]Commit, error) {
	// --root: a root commit's changes are listed even when the user's
	// log.showRoot is false, or a first push would look empty.
	args := []string{"log", "--reverse", "-z", "--root", "--name-status", "-M", "--no-ext-diff", "--no-textconv",
		"--format=" + recordMark + "%H %P%n%ae%n%aI%n%cI%n%B"}
	args = append(args, revs...)
	args = append(args, "--")
	out, err := r.Git(ctx, args...)
	if err != nil {
		return nil, err
	}
	return parseLog(out)
}

func parseLog(out []byte) ([]Commit, error) {
	var res []Commit
	fields := bytes.Split(out, []byte{0})
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if rec, ok := bytes.CutPrefix(f, []byte(recordMark)); ok {
			c, err := parseLogHeader(rec)
			if err != nil {
				return nil, err
			}
			res = append(res, c)
			continue
		}
		// git writes a newline between the message's NUL and the first
		// name-status entry.
		f = bytes.TrimPrefix(f, []byte("\n"))
		if len(f) == 0 {
			continue // after the last NUL
		}
		if len(res) == 0 {
			return nil, fmt.Errorf("git log: output does not start with a commit record")
		}
		fc, next, err := nameStatusEntry(fields, i, f)
		if err != nil {
			return nil, fmt.Errorf("git log: commit %s: %w", res[len(res)-1].Short(), err)
		}
		i = next
		// Merges are exempt: git lists their changes only with options
		// like --first-parent, and they are not the merge's own.
		if c := &res[len(res)-1]; !c.IsMerge() {
			c.Changes = append(c.Changes, fc)
		}
	}
	return res, nil
}

// parseLogHeader reads "H P1 P2\nae\naI\ncI\nBODY".
func parseLogHeader(rec []byte) (Commit, error) {
	parts := bytes.SplitN(rec, []byte("\n"), 5)
	if len(parts) != 5 {
		return Commit{}, fmt.Errorf("git log: malformed record")
	}
	ids := strings.Fields(string(parts[0]))
	if len(ids) == 0 {
		return Commit{}, fmt.Errorf("git log: record without hash")
	}
	c := Commit{Hash: ids[0], Parents: ids[1:], AuthorEmail: string(parts[1]), AuthorTime: string(parts[2]), CommitTime: string(parts[3])}
	c.Message = parts[4] // %B is the message as committed
	c.Subject = subject(c.Message)
	return c, nil
}

// subject is the message's first paragraph on one line, as git's %s:
// leading blank lines skipped, CRLF line ends allowed.
func subject(msg []byte) string {
	var words []string
	for _, line := range strings.Split(string(msg), "\n") {
		fs := strings.Fields(line)
		if len(fs) == 0 {
			if len(words) > 0 {
				break
			}
			continue
		}
		words = append(words, fs...)
	}
	return strings.Join(words, " ")
}

// Blob reads the content of path at rev ("HEAD", a hash, or ":" for the
// index). ok=false when the path does not exist there.
func (r *Repo) Blob(ctx context.Context, rev, path string) (data []byte, ok bool, err error) {
	r.lazy.Lock()
	if r.blobs == nil {
		b, err := startBatch(ctx, r.Root)
		if err != nil {
			r.lazy.Unlock()
			return nil, false, err
		}
		r.blobs = b
	}
	blobs := r.blobs
	r.lazy.Unlock()
	spec := rev + ":" + path
	if rev == ":" || rev == "" {
		spec = ":" + path
	}
	return blobs.read(spec)
}

// MergeBase returns the best common ancestor of a and b; ok=false when
// they share no history.
func (r *Repo) MergeBase(ctx context.Context, a, b string) (string, bool, error) {
	out, err := r.Git(ctx, "merge-base", a, b)
	if err != nil {
		var ee *proc.ExitError
		if errors.As(err, &ee) && ee.Code == 1 {
			return "", false, nil
		}
		return "", false, err
	}
	return strings.TrimSpace(string(out)), true, nil
}

// LsTree lists the blob paths under dir at rev (non-recursive into
// subfolders when recursive is false).
func (r *Repo) LsTree(ctx context.Context, rev, dir string, recursive bool) ([]string, error) {
	args := []string{"ls-tree", "-z", "--name-only"}
	if recursive {
		args = append(args, "-r")
	}
	dir = strings.TrimSuffix(dir, "/")
	args = append(args, rev, "--", dir+"/")
	out, err := r.GitFixed(ctx, []string{rev}, args...)
	if err != nil {
		return nil, err
	}
	var res []string
	for _, f := range bytes.Split(out, []byte{0}) {
		if len(f) > 0 {
			res = append(res, string(f))
		}
	}
	return res, nil
}
