package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/proc"
	"github.com/guardcm/guard/internal/wrangler"
	"github.com/guardcm/guard/pristine"
)

// Build is where wrangler builds and deploys from, and what it runs.
type Build struct {
	// Root is the pristine checkout's root, or the repository's root with
	// isolation = "checkout"; wrangler runs there.
	Root string
	// Config is the wrangler configuration inside Root, always passed to
	// wrangler with --config so guard and wrangler read one file.
	Config string
	// Wrangler is the command that runs wrangler.
	Wrangler []string
	// OutDir and Metafile receive wrangler's bundle and esbuild's
	// metadata (temporary, removed by Close); Metafile is "" with
	// isolation "checkout".
	OutDir, Metafile string
	// Checkout is the pristine checkout (nil with isolation "checkout").
	Checkout *pristine.Checkout
	// allowed are the directories the bundle's inputs may come from.
	allowed []string
	tmp     string
}

// Close removes the checkout and the bundle directory.
func (b *Build) Close() {
	if b == nil {
		return
	}
	if b.Checkout != nil {
		_ = b.Checkout.Close()
	}
	if b.tmp != "" {
		_ = os.RemoveAll(b.tmp)
	}
}

// Prepare makes the tree a deploy of commit builds from: with isolation
// "pristine" (the default) a temporary checkout of exactly that commit
// (pristine.Create), its tracked symlinks checked, its dependencies
// installed from the lockfile (cached by digest) and the [deploy] build
// command run in it; with isolation "checkout" the working directory.
// Progressive deploys reuse it: run wrangler with Build.Wrangler in
// Build.Root with --config=Build.Config. The caller must Close it.
func Prepare(ctx context.Context, repo *gitx.Repo, cfg *config.Config, t *Target, commit string, stdout, stderr io.Writer) (*Build, error) {
	return prepare(ctx, repo, cfg, t, commit, stdout, stderr)
}

func (d *deployer) prepare(ctx context.Context) (*Build, error) {
	return prepare(ctx, d.repo, d.cfg, d.t, d.res.Commit, d.o.Stdout, d.stderr)
}

func prepare(ctx context.Context, repo *gitx.Repo, cfg *config.Config, t *Target, commit string, stdout, stderr io.Writer) (_ *Build, err error) {
	b := &Build{Root: repo.Root, Config: t.ConfigPath}
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	if b.tmp, err = os.MkdirTemp("", "guard-bundle-"); err != nil {
		return nil, fail.External(err)
	}
	b.OutDir, b.Metafile = filepath.Join(b.tmp, "dist"), filepath.Join(b.tmp, "meta.json")
	if cfg.Deploy.Isolation == config.IsolationCheckout {
		if b.Wrangler, err = wrangler.Locate(repo.Root, cfg.Deploy.Wrangler); err != nil {
			return nil, fail.Usage(err, "fix [deploy] wrangler in guard.toml")
		}
		b.Metafile = "" // inputs are the working directory's by choice
		return b, nil
	}
	if b.Checkout, err = pristine.Create(ctx, repo, commit); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fail.External(err)
	}
	b.Root = b.Checkout.Dir
	if err := b.Checkout.CheckSymlinks(ctx); err != nil {
		var esc *pristine.EscapeError
		if errors.As(err, &esc) {
			return nil, fail.Refused(err, "replace the symlinks by the files themselves, or point them inside the repository")
		}
		return nil, fail.External(err)
	}
	if b.Config, err = b.Checkout.Path(t.ConfigPath); err != nil {
		return nil, fail.Usage(err)
	}
	projectDir := filepath.Dir(b.Config)
	deps, err := b.Checkout.InstallDeps(ctx, projectDir, stderr, stderr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var fe *fail.Error
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, fail.External(err, "the install ran in a pristine checkout of the commit: check that the lockfile is committed and current")
	}
	b.allowed = []string{b.Checkout.Dir}
	if deps != nil {
		b.allowed = append(b.allowed, deps.NodeModules)
		if deps.NotCached != "" {
			fmt.Fprintf(stderr, "guard: dependencies installed with %s, not cached: %s\n", strings.Join(deps.Command, " "), deps.NotCached)
		}
	}
	if cfg.Deploy.Build != "" {
		fmt.Fprintf(stderr, "guard: building: %s\n", cfg.Deploy.Build)
		if err := proc.Shell(ctx, b.Checkout.Dir, cfg.Deploy.Build, stdout, stderr, "GUARD_COMMIT="+commit, "GUARD_WORKER="+t.Worker, "GUARD_ENV="+t.Env); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fail.External(fmt.Errorf("[deploy] build failed in the pristine checkout of %s: %w", gitx.ShortHash(commit), err))
		}
	}
	b.Wrangler, err = locatePristineWrangler(repo.Root, b.Checkout, deps, cfg.Deploy.Wrangler)
	if err != nil {
		return nil, err
	}
	if pkg := wranglerPackageRoot(b.Wrangler); pkg != "" {
		// wrangler adds its own shims (node compatibility, middleware)
		// to the bundle from its installation.
		b.allowed = append(b.allowed, pkg)
	}
	return b, nil
}

// locatePristineWrangler picks the wrangler a pristine deploy runs: the
// configured command (a relative path is taken in the checkout), else the
// one the lockfile installed, else the repository's own
// node_modules/.bin/wrangler or npx (the tool, not the code: it bundles
// only the checkout).
func locatePristineWrangler(userRoot string, co *pristine.Checkout, deps *pristine.Deps, configured string) ([]string, error) {
	if strings.TrimSpace(configured) != "" {
		w, err := wrangler.Locate(co.Dir, configured)
		if err != nil {
			return nil, fail.Usage(err, "fix [deploy] wrangler in guard.toml")
		}
		return w, nil
	}
	if deps != nil {
		bin := filepath.Join(deps.Dir, "node_modules", ".bin", "wrangler")
		if fi, err := os.Stat(bin); err == nil && !fi.IsDir() {
			return []string{bin}, nil
		}
	}
	w, err := wrangler.Locate(userRoot, "")
	if err != nil {
		return nil, fail.Usage(err)
	}
	return w, nil
}

// wranglerPackageRoot is the node_modules directory holding the wrangler
// package that command runs, "" when it cannot be told (npx).
func wranglerPackageRoot(command []string) string {
	if len(command) != 1 {
		return ""
	}
	real, err := filepath.EvalSymlinks(command[0])
	if err != nil {
		return ""
	}
	for d := filepath.Dir(real); d != filepath.Dir(d); d = filepath.Dir(d) {
		if filepath.Base(d) == "node_modules" {
			return d
		}
	}
	return ""
}

// Bundle hashes what wrangler wrote into OutDir and checks esbuild's
// inputs against the checkout and its dependencies. It returns nil
// without an error when wrangler wrote no bundle (it failed before
// building); a missing metafile leaves the inputs unchecked, with a
// warning.
func (b *Build) Bundle() (*pristine.Bundle, []string, error) {
	if _, err := os.Stat(b.OutDir); err != nil {
		return nil, nil, nil
	}
	var warnings []string
	meta := b.Metafile
	if meta != "" {
		if _, err := os.Stat(meta); err != nil {
			warnings = append(warnings, "wrangler wrote no esbuild metafile (--no-bundle?): the bundle's inputs were not checked")
			meta = ""
		}
	}
	bundle, err := pristine.ReadBundle(b.OutDir, meta, filepath.Dir(b.Config), b.allowed)
	return bundle, warnings, err
}

// readBundle is Build.Bundle for a deploy: failures are warnings (the
// deploy happened either way).
func (d *deployer) readBundle(b *Build) *pristine.Bundle {
	bundle, warnings, err := b.Bundle()
	for _, w := range warnings {
		d.voice.Warn("%s", w)
	}
	if err != nil {
		d.voice.Warn("the bundle's SHA-256 is not recorded: %v", err)
	}
	return bundle
}

// IgnoredInProject lists the ignored files under dir (the wrangler
// project) that a deploy from the working directory could read: every
// ignored path except node_modules/ and .wrangler/ directories. With
// isolation = "checkout" they are divergences like untracked files.
func IgnoredInProject(ctx context.Context, repo *gitx.Repo, dir string) ([]Divergence, error) {
	rel, err := filepath.Rel(repo.Root, dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		rel = "."
	}
	out, err := repo.Git(ctx, "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory", "--", filepath.ToSlash(rel))
	if err != nil {
		return nil, err
	}
	var divs []Divergence
	for _, p := range bytes.Split(out, []byte{0}) {
		path := string(p)
		if path == "" || isToolDir(path) {
			continue
		}
		divs = append(divs, Divergence{Path: path, Reason: ReasonIgnored})
	}
	return divs, nil
}

// isToolDir reports whether path is inside (or is) a node_modules or
// .wrangler directory.
func isToolDir(path string) bool {
	for _, seg := range strings.Split(strings.TrimSuffix(path, "/"), "/") {
		if seg == "node_modules" || seg == wranglerDir {
			return true
		}
	}
	return false
}

// wranglerDir is wrangler's own cache, written into the project on every
// run: never a difference.
const wranglerDir = ".wrangler"

// inWranglerDir reports whether path lies in a .wrangler directory.
func inWranglerDir(path string) bool {
	for _, seg := range strings.Split(strings.TrimSuffix(path, "/"), "/") {
		if seg == wranglerDir {
			return true
		}
	}
	return false
}
