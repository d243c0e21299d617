package main

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/alecthomas/kong"

	"github.com/guardcm/guard/deploy"
	"github.com/guardcm/guard/hooks"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/rollout"
)

// DeployCmd is the guarded deploy (the policy's deploy-guarded.sh).
type DeployCmd struct {
	WorkerFlags
	NoFetch        bool   `help:"Compare with the last fetched remote branch instead of fetching it first."`
	AllowUntracked bool   `help:"Deploy although untracked files exist (they are not deployed) and list them in the deploy record."`
	RollbackOnFail bool   `help:"Roll back automatically when verification fails."`
	BreakLock      bool   `help:"Take over the team lock when its lease has expired (recorded in the deploy's record)."`
	DryRun         bool   `help:"Print the plan and stop: the worker, the tree check, the commits and categories that would ship, the wrangler command. No wrangler, no record; with CLOUDFLARE_API_TOKEN set the Cloudflare API is read (what serves now, the base of what ships), never written."`
	Gradual        bool   `help:"Deploy progressively: upload, smoke-test at 0% with the health checks pinned to the new version, then raise it step by step ([deploy.rollout] makes every deploy gradual)."`
	Steps          string `help:"Steps of a gradual deploy, as percentages (implies --gradual; default [deploy.rollout] steps, else 0,10,50,100)." placeholder:"0,25,100"`
	Resume         bool   `help:"Finish a gradual deploy that stopped (crash or interrupt) from the step production is at." xor:"finish"`
	Abort          bool   `help:"Undo a gradual deploy that stopped: the previous version at 100% again." xor:"finish"`
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
	var steps []float64
	if c.Steps != "" {
		if steps, err = rollout.ParseSteps(c.Steps); err != nil {
			return fail.Usage(err)
		}
	}
	o := deploy.Options{
		Repo:           repo,
		Config:         cfg,
		Env:            wenv,
		WranglerConfig: wcfg,
		Token:          os.Getenv(tokenEnv),
		AccountID:      os.Getenv(accountEnv),
		Interrupted:    interruptedRollout(env),
		Stdout:         env.Stdout,
		Stderr:         env.Stderr,
	}
	if c.Resume || c.Abort {
		if c.Gradual || steps != nil || c.RollbackOnFail || c.AllowUntracked || c.DryRun || len(c.Args) > 0 {
			return fail.Usage(errors.New("--resume and --abort take only --worker, --env, --config and --break-lock: they finish the gradual deploy the ledger records"))
		}
		o.BreakLock = c.BreakLock
		res, err := deploy.Finish(env.Ctx, o, c.Abort)
		return publishDeployEvidence(env, res, err)
	}
	o.NoFetch, o.AllowUntracked = c.NoFetch, c.AllowUntracked
	o.ExtraArgs, o.MigrationCheck = c.Args, hooks.MigrationFindings
	o.Gradual, o.Steps = c.Gradual, steps
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
	o.RollbackOnFail, o.BreakLock = c.RollbackOnFail, c.BreakLock
	res, err := deploy.Run(env.Ctx, o)
	return publishDeployEvidence(env, res, err)
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

// interruptedRollout asks, on a terminal, whether an interrupted gradual
// deploy goes back to the previous version now; without a terminal it
// always does (nobody is there to finish it later).
func interruptedRollout(env *Env) func() bool {
	return func() bool {
		if !isTerminal(env.Stdin) {
			return true
		}
		back, err := confirm(env.Stdin, env.Stderr, "\nguard: the gradual deploy was interrupted. Go back to the previous version at 100% now? [y/N: leave it for guard deploy --resume or --abort] ")
		return err != nil || back
	}
}
