// Package pristine builds a deploy from exactly one commit, never from the
// user's working directory: ignored, excluded and untracked files cannot
// reach the bundle.
//
// Contract:
//   - Create checks out the commit as a temporary linked worktree under the
//     common git directory (<common dir>/guard/checkouts/<name>), with no
//     hooks run, no sparse checkout and no line-ending conversion (the
//     files are the commit's bytes); each submodule is checked out at the
//     commit it records, from the user's clone of it (no network). Close removes it; a checkout left by a
//     process that died is removed by the next Create (each live checkout
//     holds a flock the kernel releases when its holder dies).
//   - Before anything runs in it, every tracked symlink is resolved inside
//     the checkout: one whose target leaves the checkout (an absolute path,
//     or ../ out of the repository) is refused with its path and target
//     (*EscapeError).
//   - InstallDeps installs the project's dependencies from its lockfile,
//     with the package manager the lockfile names, cached by the digest of
//     the lockfile and the manifests beside it (deps.go).
//   - Bundle reads the bundle wrangler wrote with --outdir and its esbuild
//     metafile: the SHA-256 of every output file, and the inputs that came
//     from outside the checkout and its dependencies (bundle.go).
package pristine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/ledger"
)

// Checkout is one commit checked out for a deploy.
type Checkout struct {
	// Dir is the checkout's root: the repository's root at Commit.
	Dir    string
	Commit string

	repo *gitx.Repo
	lock *ledger.Lock
	// subs are the submodule repositories holding worktrees of this
	// checkout, pruned on Close.
	subs []*gitx.Repo
}

// Dir is where checkouts live: under the common git directory, so they are
// never part of any work tree and share the repository's filesystem (the
// dependency cache is moved in and out of them).
func checkoutsDir(repo *gitx.Repo) string {
	return filepath.Join(repo.CommonDir, "guard", "checkouts")
}

// noHooks and friends make `git worktree add` produce the commit's bytes
// whatever the user's configuration says: no post-checkout hook runs (it
// would be the working directory's code), no sparse patterns, no CRLF.
var checkoutConfig = []string{
	"-c", "core.hooksPath=" + os.DevNull,
	"-c", "core.sparseCheckout=false",
	"-c", "core.autocrlf=false",
	"-c", "advice.detachedHead=false",
}

// Create checks out commit (a full hash) in a new temporary worktree. The
// caller must Close it.
func Create(ctx context.Context, repo *gitx.Repo, commit string) (*Checkout, error) {
	dir := checkoutsDir(repo)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pristine checkout: %w", err)
	}
	removeAbandoned(ctx, repo, dir)
	path, err := os.MkdirTemp(dir, "deploy-")
	if err != nil {
		return nil, fmt.Errorf("pristine checkout: %w", err)
	}
	name := filepath.Base(path)
	lock, err := ledger.AcquireLock(dir, name)
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("pristine checkout: %w", err)
	}
	c := &Checkout{Dir: path, Commit: commit, repo: repo, lock: lock}
	args := append(append([]string{}, checkoutConfig...), "worktree", "add", "--detach", "--quiet", path, commit)
	if _, err := repo.Git(ctx, args...); err != nil {
		c.Close()
		return nil, fmt.Errorf("pristine checkout of %s: %w", gitx.ShortHash(commit), err)
	}
	if err := c.submodules(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// submodules checks out each submodule of the commit at the commit it
// records, as a linked worktree of the submodule's repository in the
// user's clone: no network, and exactly the recorded commit. Without
// gitlinks it costs one ls-files.
func (c *Checkout) submodules(ctx context.Context) error {
	out, err := c.git(ctx, "ls-files", "--stage", "-z")
	if err != nil {
		return fmt.Errorf("pristine checkout: %w", err)
	}
	for _, rec := range strings.Split(string(out), "\x00") {
		meta, path, ok := strings.Cut(rec, "\t")
		if !ok || !strings.HasPrefix(meta, "160000 ") {
			continue
		}
		f := strings.Fields(meta)
		if len(f) < 2 {
			continue
		}
		commit := f[1]
		sub := &gitx.Repo{Root: filepath.Join(c.repo.Root, filepath.FromSlash(path))}
		if _, err := sub.Git(ctx, "cat-file", "-e", commit+"^{commit}"); err != nil {
			return fmt.Errorf("pristine checkout: submodule %s: commit %s is not in the working directory's clone of it: %w", path, gitx.ShortHash(commit), err)
		}
		dst := filepath.Join(c.Dir, filepath.FromSlash(path))
		if err := os.RemoveAll(dst); err != nil {
			return fmt.Errorf("pristine checkout: %w", err)
		}
		args := append(append([]string{}, checkoutConfig...), "worktree", "add", "--detach", "--quiet", dst, commit)
		if _, err := sub.Git(ctx, args...); err != nil {
			return fmt.Errorf("pristine checkout: submodule %s at %s: %w", path, gitx.ShortHash(commit), err)
		}
		c.subs = append(c.subs, sub)
	}
	return nil
}

func (c *Checkout) git(ctx context.Context, args ...string) ([]byte, error) {
	return (&gitx.Repo{Root: c.Dir}).Git(ctx, args...)
}

// Close removes the checkout and its worktree registration. Closing twice
// is harmless.
func (c *Checkout) Close() error {
	if c == nil || c.lock == nil {
		return nil
	}
	err := removeCheckout(context.Background(), c.repo, c.Dir)
	for _, sub := range c.subs {
		_, _ = sub.Git(context.Background(), "worktree", "prune")
	}
	c.lock.Release()
	os.Remove(c.lock.Path())
	c.lock = nil
	return err
}

func removeCheckout(ctx context.Context, repo *gitx.Repo, path string) error {
	// node_modules may be a link into the dependency cache; neither git
	// nor RemoveAll follows links, so the cache stays.
	_, gerr := repo.Git(ctx, "worktree", "remove", "--force", "--force", path)
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("removing the pristine checkout %s: %w", path, err)
	}
	if gerr != nil {
		if _, err := repo.Git(ctx, "worktree", "prune"); err != nil {
			return fmt.Errorf("removing the pristine checkout %s: %w", path, errors.Join(gerr, err))
		}
	}
	return nil
}

// removeAbandoned removes checkouts whose holder died (their flock is
// free).
func removeAbandoned(ctx context.Context, repo *gitx.Repo, dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "deploy-") {
			continue
		}
		lk, err := ledger.AcquireLock(dir, e.Name())
		if err != nil {
			continue // in use by a running deploy
		}
		_ = removeCheckout(ctx, repo, filepath.Join(dir, e.Name()))
		lk.Release()
		os.Remove(lk.Path())
	}
}

// Path maps a path of the repository's work tree (absolute) to the same
// path in the checkout. A path outside the work tree is an error.
func (c *Checkout) Path(p string) (string, error) {
	rel, err := c.Rel(p)
	if err != nil {
		return "", err
	}
	return filepath.Join(c.Dir, rel), nil
}

// Rel is p relative to the repository's root, refused when p lies outside
// it.
func (c *Checkout) Rel(p string) (string, error) {
	root := c.repo.Root
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		// The user's path may go through a symlink git resolved.
		if real, rerr := filepath.EvalSymlinks(filepath.Dir(p)); rerr == nil {
			if rr, rerr := filepath.EvalSymlinks(root); rerr == nil {
				rel, err = filepath.Rel(rr, filepath.Join(real, filepath.Base(p)))
			}
		}
	}
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is outside the repository %s: a deploy reads only the commit's files", p, root)
	}
	return rel, nil
}

// EscapeError lists tracked symlinks whose targets leave the checkout.
type EscapeError struct {
	Commit string
	Links  []Link
}

// Link is one tracked symlink and where it points.
type Link struct {
	Path, Target string
}

func (e *EscapeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "commit %s has %d tracked symlink(s) pointing outside the repository; nothing was deployed:", gitx.ShortHash(e.Commit), len(e.Links))
	for _, l := range e.Links {
		fmt.Fprintf(&b, "\n  %s -> %s", l.Path, l.Target)
	}
	return b.String()
}

// CheckSymlinks refuses tracked symlinks (mode 120000, submodules
// included) that resolve outside the checkout, following chains of links
// the way the bundler will. A dangling link inside the checkout is left
// for wrangler to report.
func (c *Checkout) CheckSymlinks(ctx context.Context) error {
	out, err := c.git(ctx, "ls-files", "--stage", "-z", "--recurse-submodules")
	if err != nil {
		// --recurse-submodules refuses some index states; the top level
		// alone is still worth checking.
		if out, err = c.git(ctx, "ls-files", "--stage", "-z"); err != nil {
			return fmt.Errorf("pristine checkout: listing symlinks: %w", err)
		}
	}
	root, err := filepath.EvalSymlinks(c.Dir)
	if err != nil {
		return fmt.Errorf("pristine checkout: %w", err)
	}
	var bad []Link
	for _, rec := range strings.Split(string(out), "\x00") {
		meta, path, ok := strings.Cut(rec, "\t")
		if !ok || !strings.HasPrefix(meta, "120000 ") {
			continue
		}
		full := filepath.Join(c.Dir, filepath.FromSlash(path))
		target, err := os.Readlink(full)
		if err != nil {
			continue
		}
		real, err := filepath.EvalSymlinks(full)
		if err != nil {
			// Dangling: judge where the link's text points.
			base := filepath.Dir(full)
			if r, err := filepath.EvalSymlinks(base); err == nil {
				base = r
			}
			real = target
			if !filepath.IsAbs(target) {
				real = filepath.Join(base, target)
			}
		}
		if !within(root, real) {
			bad = append(bad, Link{Path: path, Target: target})
		}
	}
	if len(bad) > 0 {
		return &EscapeError{Commit: c.Commit, Links: bad}
	}
	return nil
}

// within reports whether path (absolute, cleaned) is dir or below it.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, filepath.Clean(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
