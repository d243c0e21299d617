package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/guardcm/guard/hooks"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/wranglercfg"
)

// MigrationsCmd groups the D1 migration commands.
type MigrationsCmd struct {
	Check MigrationsCheckCmd `cmd:"" help:"Check D1 migrations: numbering, append-only, destructive and failing changes."`
}

// MigrationsCheckCmd replays the migrations on SQLite and applies the rules.
type MigrationsCheckCmd struct {
	Dir    string `help:"Check only this migrations folder, relative to the working directory (default: every folder 'guard workers' lists)." placeholder:"DIR"`
	Base   string `help:"Compare with this ref for edited, removed and out-of-order files (default: <remote>/<branch>)." placeholder:"REF"`
	Head   string `help:"Check the folder at this ref instead of the working tree." placeholder:"REF"`
	Format string `help:"Output format: text, json or github." enum:"text,json,github" default:"text"`
}

// Run checks and prints the findings; exit 1 on any error finding.
func (c *MigrationsCheckCmd) Run(env *Env) error {
	repo, cfg, err := env.Workspace()
	if err != nil {
		return err
	}
	base := c.Base
	if base == "" {
		base = cfg.RemoteBranchRef()
	}
	baseHash, ok, err := repo.ResolveCommit(env.Ctx, base)
	if err != nil {
		return fail.External(err)
	}
	if !ok {
		if c.Base != "" {
			return fail.Usagef("base %q does not name a commit", c.Base)
		}
		fmt.Fprintf(env.Stderr, "guard: %s does not exist yet: every migration is checked as new\n", base)
		baseHash = ""
	}
	head := hooks.WorkTree
	if c.Head != "" {
		if head, err = resolveFlag(env, repo, "head", c.Head); err != nil {
			return err
		}
	}
	sc := hooks.MigrationScope{Base: baseHash, Head: head}
	if baseHash != "" {
		sc.BaseName = base
		if c.Base == "" {
			sc.BaseName = cfg.Remote + "/" + cfg.Branch
		}
	}
	if c.Dir != "" {
		dir, err := repoRelative(repo.Root, c.Dir)
		if err != nil {
			return err
		}
		sc.Dirs = []string{dir}
	}
	findings, cov, err := hooks.CheckMigrations(env.Ctx, repo, cfg, sc)
	if err != nil {
		if fail.KindOf(err) == fail.KindUsage {
			return err
		}
		var located *wranglercfg.Error
		if errors.As(err, &located) {
			return fail.Usage(err, "fix the wrangler configuration; 'guard workers' lists what guard found")
		}
		return fail.External(err)
	}
	if c.Format == "json" {
		if findings == nil {
			findings = []report.Finding{}
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Findings []report.Finding         `json:"findings"`
			Coverage *hooks.MigrationCoverage `json:"coverage"`
		}{findings, cov}); err != nil {
			return fail.External(err)
		}
	} else if err := writeFindings(env, c.Format, findings); err != nil {
		return err
	}
	for _, f := range cov.Folders {
		if f.MovedFrom != "" && c.Format != "json" {
			fmt.Fprintf(env.Stderr, "guard: %s moved from %s: compared file by file\n", f.Dir, f.MovedFrom)
		}
	}
	if report.HasErrors(findings) {
		if c.Format != "json" {
			fmt.Fprintf(env.Stderr, "guard: checked %s\n", cov)
		}
		return fail.AlreadyReported(fail.KindRefused, "migrations check failed")
	}
	if c.Format != "json" {
		if len(cov.Folders) == 0 {
			fmt.Fprintf(env.Stderr, "guard: no D1 migrations folder to check (%s; no d1_databases)\n", cov)
			fmt.Fprintln(env.Stderr, "guard: hint: 'guard workers' lists the wrangler configurations guard found; name others in guard.toml [[workers]]")
			return nil
		}
		fmt.Fprintf(env.Stderr, "guard: migrations ok: %s\n", cov)
	}
	return nil
}

// repoRelative turns a path given on the command line (relative to the
// working directory, -C applied) into one relative to the repository
// root, so a sub-folder behaves as the root does. A path outside the
// repository is a usage error.
func repoRelative(root, p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fail.Usage(err)
	}
	// The root comes from git with symlinks resolved; resolve the path the
	// same way when it exists.
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	} else if r, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(r, filepath.Base(abs))
	}
	rootReal := root
	if r, err := filepath.EvalSymlinks(root); err == nil {
		rootReal = r
	}
	rel, err := filepath.Rel(rootReal, abs)
	if err != nil || !filepath.IsLocal(rel) {
		if rel == "." {
			return ".", nil
		}
		return "", fail.Usagef("%s is outside the repository %s", p, root)
	}
	return filepath.ToSlash(rel), nil
}
