package main

import (
	"fmt"
	"path"
	"path/filepath"

	"github.com/guardcm/guard/hooks"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/report"
)

// MigrationsCmd groups the D1 migration commands.
type MigrationsCmd struct {
	Check MigrationsCheckCmd `cmd:"" help:"Check D1 migrations: numbering, append-only, destructive and failing changes."`
}

// MigrationsCheckCmd replays the migrations on SQLite and applies the rules.
type MigrationsCheckCmd struct {
	Dir    string `help:"The migrations folder (default: guard.toml's, plus the wrangler configuration's migrations_dir)." placeholder:"DIR"`
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
	var findings []report.Finding
	if c.Dir != "" {
		dir := c.Dir
		if filepath.IsAbs(dir) {
			rel, err := filepath.Rel(repo.Root, dir)
			if err != nil {
				return fail.Usage(err)
			}
			dir = rel
		}
		findings, err = hooks.CheckMigrationDirs(env.Ctx, repo, cfg, []string{path.Clean(filepath.ToSlash(dir))}, baseHash, head)
	} else {
		findings, err = hooks.MigrationFindings(env.Ctx, repo, cfg, baseHash, head)
	}
	if err != nil {
		return fail.Usage(err)
	}
	if err := writeFindings(env, c.Format, findings); err != nil {
		return err
	}
	if report.HasErrors(findings) {
		return fail.AlreadyReported(fail.KindRefused, "migrations check failed")
	}
	if c.Format == "text" && len(findings) == 0 {
		fmt.Fprintln(env.Stderr, "guard: migrations ok")
	}
	return nil
}
