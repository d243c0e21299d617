package main

import (
	"fmt"
	"os"
	"slices"

	"github.com/alecthomas/kong"

	"github.com/guardcm/guard/deploy"
	"github.com/guardcm/guard/hooks"
	"github.com/guardcm/guard/internal/fail"
)

// DeployCmd is the guarded deploy (the policy's deploy-guarded.sh).
type DeployCmd struct {
	WorkerFlags
	NoFetch        bool `help:"Compare with the last fetched remote branch instead of fetching it first."`
	AllowUntracked bool `help:"Ship untracked (not ignored) files and list them in the deploy record."`
	RollbackOnFail bool `help:"Roll back automatically when verification fails."`
	DryRun         bool `help:"Print the plan and stop: the worker, the tree check, the commits and categories that would ship, the wrangler command. No wrangler, no API, no token, no record."`
	// Not passthrough: kong then rejects an unknown flag (a typo of a
	// guard flag must never reach wrangler), and wrangler's own arguments
	// are only those after "--" (checked in Run).
	Args []string `arg:"" optional:"" help:"Extra arguments for wrangler deploy, after --." placeholder:"-- WRANGLER-ARGS"`
}

// Run deploys.
func (c *DeployCmd) Run(env *Env, kctx *kong.Context) error {
	if err := afterDoubleDash(kctx.Args, c.Args); err != nil {
		return err
	}
	repo, cfg, err := env.Workspace()
	if err != nil {
		return err
	}
	wcfg, wenv, err := env.chooseWorker(c.WorkerFlags)
	if err != nil {
		return err
	}
	o := deploy.Options{
		Repo:           repo,
		Config:         cfg,
		Env:            wenv,
		WranglerConfig: wcfg,
		NoFetch:        c.NoFetch,
		AllowUntracked: c.AllowUntracked,
		RollbackOnFail: c.RollbackOnFail,
		ExtraArgs:      c.Args,
		Token:          os.Getenv(tokenEnv),
		AccountID:      os.Getenv(accountEnv),
		MigrationCheck: hooks.MigrationFindings,
		Stdout:         env.Stdout,
		Stderr:         env.Stderr,
	}
	if c.DryRun {
		p, err := deploy.DryRun(env.Ctx, o)
		if err != nil {
			return err
		}
		p.Write(env.Stdout)
		if len(p.Divergences) > 0 {
			return fail.Refused(fmt.Errorf("dry run: the deploy would be refused: %d difference(s) from %s/%s", len(p.Divergences), cfg.Remote, cfg.Branch))
		}
		fmt.Fprintln(env.Stderr, "guard: dry run: nothing was deployed or recorded")
		return nil
	}
	if c.RollbackOnFail {
		if o.Rollback, err = deployRollback(env, repo, cfg); err != nil {
			return err
		}
	}
	_, err = deploy.Run(env.Ctx, o)
	return err
}

// afterDoubleDash refuses positional arguments given before "--": only
// what follows "--" is for wrangler, so `guard deploy minify` (a forgotten
// "--") is a usage error rather than something handed on.
func afterDoubleDash(raw, positional []string) error {
	if len(positional) == 0 {
		return nil
	}
	i := slices.Index(raw, "--")
	after := 0
	if i >= 0 {
		after = len(raw) - i - 1
	}
	if after < len(positional) {
		return fail.Usage(fmt.Errorf("unexpected argument %q", positional[0]),
			"arguments for wrangler go after --, as in: guard deploy -- --minify")
	}
	return nil
}
