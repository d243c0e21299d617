package main

import (
	"fmt"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/guardcm/guard/initrepo"
	"github.com/guardcm/guard/internal/fail"
)

// InitCmd writes the files a repository needs to adopt the policy.
type InitCmd struct {
	GuardRef string `help:"The guard commit or tag the CI workflow builds (default: the commit this guard was built from)." placeholder:"REF"`
}

// guardPin is what the generated workflow pins guard to: the module
// version this binary was installed at (go install ...@vX), else the commit
// it was built from (go install ./cmd/guard in a clone records it).
func guardPin() (version, revision string, modified bool) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "", "", false
	}
	if v := bi.Main.Version; strings.HasPrefix(v, "v") {
		return v, "", false
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	return "", revision, modified
}

// Run writes guard.toml, the PR template, the threat-model and rollout
// placeholders and the CI workflow, never overwriting a file.
func (c *InitCmd) Run(env *Env) error {
	repo, err := env.Repo()
	if err != nil {
		return err
	}
	proj, err := initrepo.Detect(repo.Root)
	if err != nil {
		return fail.Usage(err, "fix package.json, then run guard init again")
	}
	opts := initrepo.Options{ProjectName: filepath.Base(repo.Root), GuardRef: c.GuardRef}
	if opts.GuardRef == "" {
		var modified bool
		opts.GuardVersion, opts.GuardRef, modified = guardPin()
		if modified {
			fmt.Fprintf(env.Stderr, "guard: warning: this guard was built from %s with uncommitted changes; the CI workflow builds the commit without them\n", opts.GuardRef)
		}
	}
	opts.Commands, opts.CommandNotes, opts.Verify, opts.VerifyNotes = proj.Commands()
	res, err := initrepo.Write(repo.Root, initrepo.Files(opts))
	if err != nil {
		return fail.External(err)
	}
	switch {
	case proj.Manager == "":
		fmt.Fprintln(env.Stderr, "guard: no package.json at the root: guard.toml lists no pre-push command (examples are commented)")
	case proj.Lockfile == "":
		fmt.Fprintf(env.Stderr, "guard: package manager %s (no lockfile found)\n", proj.Manager)
	default:
		fmt.Fprintf(env.Stderr, "guard: package manager %s (from %s)\n", proj.Manager, proj.Lockfile)
	}
	if proj.Manager != "" && !proj.Installed {
		fmt.Fprintf(env.Stderr, "guard: warning: %s is not installed here: its commands are written as comments in guard.toml\n", proj.Manager)
	}
	for _, c := range opts.Commands {
		fmt.Fprintf(env.Stderr, "guard: pre-push runs: %s\n", c)
	}
	for _, c := range opts.Verify {
		fmt.Fprintf(env.Stderr, "guard: deploy verifies with: %s\n", c)
	}
	for _, p := range res.Written {
		fmt.Fprintf(env.Stderr, "guard: wrote %s\n", p)
	}
	for _, p := range res.Skipped {
		fmt.Fprintf(env.Stderr, "guard: kept %s (already there)\n", p)
	}
	if opts.GuardVersion == "" && opts.GuardRef == "" && slices.Contains(res.Written, initrepo.WorkflowPath) {
		fmt.Fprintf(env.Stderr, "guard: warning: %s names no guard commit to build (this guard was built without version information): CI fails until you set it\n", initrepo.WorkflowPath)
		fmt.Fprintf(env.Stderr, "guard: hint: guard init --guard-ref COMMIT, or replace %s in the file\n", initrepo.UnpinnedRef)
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
