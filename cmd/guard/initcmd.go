package main

import (
	"fmt"
	"path/filepath"

	"github.com/guardcm/guard/initrepo"
	"github.com/guardcm/guard/internal/fail"
)

// InitCmd writes the files a repository needs to adopt the policy.
type InitCmd struct{}

// Run writes guard.toml, the PR template, the threat-model and rollout
// placeholders and the CI workflow, never overwriting a file.
func (c *InitCmd) Run(env *Env) error {
	repo, err := env.Repo()
	if err != nil {
		return err
	}
	res, err := initrepo.Write(repo.Root, initrepo.Files(initrepo.Options{ProjectName: filepath.Base(repo.Root)}))
	if err != nil {
		return fail.External(err)
	}
	for _, p := range res.Written {
		fmt.Fprintf(env.Stderr, "guard: wrote %s\n", p)
	}
	for _, p := range res.Skipped {
		fmt.Fprintf(env.Stderr, "guard: kept %s (already there)\n", p)
	}
	// wrangler writes .wrangler/ into the project on every run.
	added, err := initrepo.EnsureIgnored(repo.Root, initrepo.WranglerIgnore)
	if err != nil {
		return fail.External(err)
	}
	for _, e := range added {
		fmt.Fprintf(env.Stderr, "guard: added %s to %s\n", e, initrepo.GitignorePath)
	}
	if len(res.Written) > 0 {
		fmt.Fprintln(env.Stderr, "guard: hint: review the files, commit them, then run 'guard install'")
	}
	return nil
}
