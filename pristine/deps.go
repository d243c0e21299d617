package pristine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/proc"
)

// lockfiles name the package manager that wrote them and the command that
// installs exactly what they pin, failing when the manifest disagrees.
var lockfiles = []struct {
	name    string
	manager string
	args    []string
}{
	{"package-lock.json", "npm", []string{"ci", "--no-audit", "--no-fund"}},
	{"npm-shrinkwrap.json", "npm", []string{"ci", "--no-audit", "--no-fund"}},
	{"pnpm-lock.yaml", "pnpm", []string{"install", "--frozen-lockfile"}},
	{"yarn.lock", "yarn", []string{"install", "--immutable"}},
	{"bun.lock", "bun", []string{"install", "--frozen-lockfile"}},
	{"bun.lockb", "bun", []string{"install", "--frozen-lockfile"}},
}

// installInputs are the files beside a lockfile that change what an install
// produces; they enter the cache key with the lockfile.
var installInputs = []string{"package.json", ".npmrc", ".yarnrc", ".yarnrc.yml", "pnpm-workspace.yaml", ".pnpmfile.cjs", "bunfig.toml"}

// Deps describes the dependencies of a pristine checkout.
type Deps struct {
	// Manager is npm, pnpm, yarn or bun; Lockfile is relative to the
	// checkout (slash separated); Dir is the directory holding it, in the
	// checkout.
	Manager, Lockfile, Dir string
	// Command is the install command as run (or as it would have run).
	Command []string
	// Digest keys the cache: the SHA-256 of the lockfile and the manifests
	// beside it.
	Digest string
	// Cached reports that the install came from the cache: nothing ran.
	Cached bool
	// NotCached says why a fresh install could not be kept for the next
	// deploy ("" when it was kept or came from the cache).
	NotCached string
	// NodeModules is the real directory of the installed packages.
	NodeModules string
}

// depsDir holds the cached installs, one directory per digest.
func (c *Checkout) depsDir() string { return filepath.Join(c.repo.CommonDir, "guard", "deps") }

// findLockfile looks for a lockfile from dir up to the checkout's root and
// returns the directory and its entry. Two lockfiles in one directory are
// ambiguous: a usage error.
func (c *Checkout) findLockfile(dir string) (string, int, error) {
	for d := dir; ; d = filepath.Dir(d) {
		found := -1
		for i, lf := range lockfiles {
			if _, err := os.Lstat(filepath.Join(d, lf.name)); err == nil {
				if found >= 0 && lockfiles[found].manager != lf.manager {
					rel, _ := filepath.Rel(c.Dir, d)
					return "", 0, fail.Usage(fmt.Errorf("%s has both %s and %s: guard cannot tell which package manager installs the dependencies",
						filepath.ToSlash(filepath.Join(rel, ".")), lockfiles[found].name, lf.name), "delete the lockfile of the package manager you do not use")
				}
				if found < 0 {
					found = i
				}
			}
		}
		if found >= 0 {
			return d, found, nil
		}
		if d == c.Dir || !within(c.Dir, d) {
			return "", -1, nil
		}
	}
}

// InstallDeps installs the dependencies of the project at projectDir (a
// directory of the checkout) from the nearest lockfile at or above it,
// with the package manager that lockfile names, and returns what it did;
// nil when there is no lockfile and package.json declares no dependencies.
// A package.json with dependencies but no lockfile is a usage error: what
// would ship would depend on the day. A warm cache (same digest) links the
// cached node_modules in without running anything.
func (c *Checkout) InstallDeps(ctx context.Context, projectDir string, stdout, stderr io.Writer) (*Deps, error) {
	dir, idx, err := c.findLockfile(projectDir)
	if err != nil {
		return nil, err
	}
	if idx < 0 {
		return nil, c.requireLockfile(projectDir)
	}
	lf := lockfiles[idx]
	rel, _ := filepath.Rel(c.Dir, filepath.Join(dir, lf.name))
	d := &Deps{Manager: lf.manager, Lockfile: filepath.ToSlash(rel), Dir: dir, Command: append([]string{lf.manager}, lf.args...)}
	nm := filepath.Join(dir, "node_modules")
	if _, err := os.Lstat(nm); err == nil {
		// Committed node_modules: the commit vendors its dependencies.
		d.NodeModules, d.NotCached = nm, "node_modules is part of the commit"
		return d, nil
	}
	if d.Digest, err = digestInstall(dir, lf.manager, d.Lockfile, lf.name); err != nil {
		return nil, err
	}
	cached := filepath.Join(c.depsDir(), d.Digest)
	if _, err := os.Stat(filepath.Join(cached, "complete")); err == nil {
		if err := os.Symlink(filepath.Join(cached, "node_modules"), nm); err != nil {
			return nil, fmt.Errorf("linking the cached dependencies: %w", err)
		}
		d.Cached, d.NodeModules = true, filepath.Join(cached, "node_modules")
		return d, nil
	}
	_, err = proc.Run(ctx, proc.Cmd{Name: lf.manager, Args: lf.args, Dir: dir, Stdout: stdout, Stderr: stderr, Tethered: true})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("installing the dependencies of %s (%s): %w", d.Lockfile, strings.Join(d.Command, " "), err)
	}
	d.NodeModules = nm
	if why := linksLeaving(nm); why != "" {
		d.NotCached = why
		return d, nil
	}
	if err := c.store(nm, cached); err != nil {
		d.NotCached = err.Error()
		return d, nil
	}
	d.NodeModules = filepath.Join(cached, "node_modules")
	return d, nil
}

// requireLockfile refuses a package.json that declares dependencies
// without a lockfile pinning them.
func (c *Checkout) requireLockfile(projectDir string) error {
	for d := projectDir; within(c.Dir, d); d = filepath.Dir(d) {
		data, err := os.ReadFile(filepath.Join(d, "package.json"))
		if err == nil {
			var pkg map[string]json.RawMessage
			if json.Unmarshal(data, &pkg) != nil {
				return nil // wrangler reports a broken package.json itself
			}
			for _, k := range []string{"dependencies", "devDependencies", "optionalDependencies"} {
				if v, ok := pkg[k]; ok && len(strings.Trim(strings.TrimSpace(string(v)), "{}")) > 0 {
					rel, _ := filepath.Rel(c.Dir, filepath.Join(d, "package.json"))
					return fail.Usage(fmt.Errorf("%s declares %s but the commit has no lockfile: a deploy installs exactly what a lockfile pins", filepath.ToSlash(rel), k),
						"commit the lockfile your package manager writes (package-lock.json, pnpm-lock.yaml, yarn.lock or bun.lock)")
				}
			}
			return nil
		}
		if d == c.Dir {
			break
		}
	}
	return nil
}

// digestInstall hashes what decides an install: the manager, where the
// lockfile is, and the bytes of the lockfile and the manifests beside it.
func digestInstall(dir, manager, relLockfile, lockfile string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "guard-deps-v1\x00%s\x00%s\x00", manager, relLockfile)
	for _, name := range append([]string{lockfile}, installInputs...) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("dependencies: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// linksLeaving reports why an installed node_modules cannot move to the
// cache: a symlink in it that points outside it (a workspace package, a
// file: dependency) would point elsewhere once moved.
func linksLeaving(nm string) string {
	why := ""
	_ = filepath.WalkDir(nm, func(p string, e fs.DirEntry, err error) error {
		if err != nil || why != "" {
			return filepath.SkipDir
		}
		if e.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		t, err := os.Readlink(p)
		if err != nil {
			return nil
		}
		if filepath.IsAbs(t) || !within(nm, filepath.Join(filepath.Dir(p), t)) {
			rel, _ := filepath.Rel(nm, p)
			why = fmt.Sprintf("node_modules/%s links outside node_modules (workspace or file: dependency); installed in the checkout instead", filepath.ToSlash(rel))
		}
		return nil
	})
	return why
}

// store moves a fresh install into the cache and links it back. A racing
// deploy that stored the same digest first wins; its copy is used.
func (c *Checkout) store(nm, cached string) error {
	if err := os.MkdirAll(c.depsDir(), 0o755); err != nil {
		return fmt.Errorf("dependency cache: %w", err)
	}
	tmp, err := os.MkdirTemp(c.depsDir(), ".tmp-")
	if err != nil {
		return fmt.Errorf("dependency cache: %w", err)
	}
	if err := os.Rename(nm, filepath.Join(tmp, "node_modules")); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("dependency cache: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "complete"), nil, 0o644); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("dependency cache: %w", err)
	}
	if err := os.Rename(tmp, cached); err != nil {
		if _, serr := os.Stat(filepath.Join(cached, "complete")); serr != nil {
			// Put the install back where the deploy expects it.
			_ = os.Rename(filepath.Join(tmp, "node_modules"), nm)
			os.RemoveAll(tmp)
			return fmt.Errorf("dependency cache: %w", err)
		}
		os.RemoveAll(tmp)
	}
	return os.Symlink(filepath.Join(cached, "node_modules"), nm)
}
