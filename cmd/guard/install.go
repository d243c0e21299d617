package main

import (
	"fmt"
	"path/filepath"

	"github.com/guardcm/guard/install"
	"github.com/guardcm/guard/internal/fail"
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
	return nil
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
