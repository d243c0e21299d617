package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/guardcm/guard/install"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gitx"
)

// InstallCmd installs guard's hooks.
type InstallCmd struct {
	Binary string `help:"Absolute path of the guard binary the hooks run (default: this binary)." placeholder:"PATH" type:"path"`
}

// Run installs the hooks into the folder git really uses.
func (c *InstallCmd) Run(env *Env) error {
	repo, err := env.Repo()
	if err != nil {
		return err
	}
	if _, err := env.Config(); err != nil {
		return err
	}
	bin := c.Binary
	if bin != "" && !filepath.IsAbs(bin) {
		return fail.Usagef("--binary must be an absolute path, not %q", bin)
	}
	actions, err := install.Install(env.Ctx, repo, install.Options{Binary: bin})
	if err != nil {
		return err
	}
	for _, a := range actions {
		fmt.Fprintf(env.Stderr, "guard: %s: %s (%s)\n", a.Hook, a.What, a.Path)
	}
	return trackedHints(env, repo)
}

// trackedHints tells what to do when the hooks live in a folder the
// repository shares (husky): commit what guard changed there, and have
// guard on PATH, which the portable block runs.
func trackedHints(env *Env, repo *gitx.Repo) error {
	l, err := install.Locate(env.Ctx, repo)
	if err != nil || !l.Tracked {
		return err
	}
	var files []string
	for _, h := range install.DefaultHooks() {
		rel, err := filepath.Rel(repo.Root, filepath.Join(l.Files, h))
		if err != nil {
			continue
		}
		out, err := repo.Git(env.Ctx, "status", "--porcelain", "--", filepath.ToSlash(rel))
		if err != nil {
			return fail.External(err)
		}
		if len(strings.TrimSpace(string(out))) > 0 {
			files = append(files, filepath.ToSlash(rel))
		}
	}
	what := "the hooks folder"
	if l.Husky {
		what = "husky's folder"
	}
	if len(files) > 0 {
		fmt.Fprintf(env.Stderr, "guard: the hooks are in %s %s, shared through git: guard added a portable block that runs the guard on PATH (no machine's path)\n", what, relOr(repo.Root, l.Files))
		fmt.Fprintf(env.Stderr, "guard: hint: commit it through a pull request so every clone runs the checks: git add %s && git commit -m 'chore: run guard from the git hooks'\n", strings.Join(files, " "))
	}
	if _, err := exec.LookPath("guard"); err != nil {
		fmt.Fprintln(env.Stderr, "guard: warning: guard is not on PATH here, so the hooks will refuse to run until it is")
		fmt.Fprintln(env.Stderr, "guard: hint: put guard on PATH (go install ./cmd/guard from guard's clone puts it in $(go env GOPATH)/bin)")
	}
	return nil
}

func relOr(root, p string) string {
	if rel, err := filepath.Rel(root, p); err == nil && filepath.IsLocal(rel) {
		return filepath.ToSlash(rel)
	}
	return p
}

// UninstallCmd removes guard's hooks.
type UninstallCmd struct{}

// Run removes guard's hooks and restores what they replaced.
func (c *UninstallCmd) Run(env *Env) error {
	repo, err := env.Repo()
	if err != nil {
		return err
	}
	actions, err := install.Uninstall(env.Ctx, repo, nil)
	if err != nil {
		return err
	}
	for _, a := range actions {
		fmt.Fprintf(env.Stderr, "guard: %s: %s (%s)\n", a.Hook, a.What, a.Path)
	}
	return nil
}
