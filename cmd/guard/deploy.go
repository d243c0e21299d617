package main

import (
	"errors"
	"os"

	"github.com/guardcm/guard/deploy"
	"github.com/guardcm/guard/hooks"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/rollout"
)

// DeployCmd is the guarded deploy (the policy's deploy-guarded.sh).
type DeployCmd struct {
	Env            string   `help:"Deploy this wrangler environment (wrangler's --env)." placeholder:"ENV"`
	Config         string   `help:"The wrangler configuration file (default: [deploy] config, else wrangler.json, wrangler.jsonc or wrangler.toml at the root)." placeholder:"FILE"`
	NoFetch        bool     `help:"Compare with the last fetched remote branch instead of fetching it first."`
	AllowUntracked bool     `help:"Deploy although untracked files exist (they are not deployed) and list them in the deploy record."`
	RollbackOnFail bool     `help:"Roll back automatically when verification fails."`
	BreakLock      bool     `help:"Take over the team lock when its lease has expired (recorded in the deploy's record)."`
	Gradual        bool     `help:"Deploy progressively: upload, smoke-test at 0% with the health checks pinned to the new version, then raise it step by step ([deploy.rollout] makes every deploy gradual)."`
	Steps          string   `help:"Steps of a gradual deploy, as percentages (implies --gradual; default [deploy.rollout] steps, else 0,10,50,100)." placeholder:"0,25,100"`
	Resume         bool     `help:"Finish a gradual deploy that stopped (crash or interrupt) from the step production is at." xor:"finish"`
	Abort          bool     `help:"Undo a gradual deploy that stopped: the previous version at 100% again." xor:"finish"`
	Args           []string `arg:"" optional:"" passthrough:"" help:"Extra arguments for wrangler deploy, after --." placeholder:"WRANGLER-ARGS"`
}

// Run deploys.
func (c *DeployCmd) Run(env *Env) error {
	repo, cfg, err := env.Workspace()
	if err != nil {
		return err
	}
	wcfg, err := wranglerConfigFlag(c.Config)
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
		Env:            c.Env,
		WranglerConfig: wcfg,
		Token:          os.Getenv(tokenEnv),
		AccountID:      os.Getenv(accountEnv),
		Interrupted:    interruptedRollout(env),
		Stdout:         env.Stdout,
		Stderr:         env.Stderr,
	}
	if c.Resume || c.Abort {
		if c.Gradual || steps != nil || c.RollbackOnFail || c.AllowUntracked || len(c.Args) > 0 {
			return fail.Usage(errors.New("--resume and --abort take only --env, --config and --break-lock: they finish the gradual deploy the ledger records"))
		}
		o.BreakLock = c.BreakLock
		res, err := deploy.Finish(env.Ctx, o, c.Abort)
		return publishDeployEvidence(env, res, err)
	}
	var onFail deploy.RollbackFunc
	if c.RollbackOnFail {
		if onFail, err = deployRollback(env, repo, cfg); err != nil {
			return err
		}
	}
	args := c.Args
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	o.NoFetch, o.AllowUntracked, o.BreakLock = c.NoFetch, c.AllowUntracked, c.BreakLock
	o.RollbackOnFail, o.Rollback = c.RollbackOnFail, onFail
	o.ExtraArgs, o.MigrationCheck = args, hooks.MigrationFindings
	o.Gradual, o.Steps = c.Gradual, steps
	res, err := deploy.Run(env.Ctx, o)
	return publishDeployEvidence(env, res, err)
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
