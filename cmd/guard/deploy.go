package main

import (
	"os"

	"github.com/guardcm/guard/deploy"
	"github.com/guardcm/guard/hooks"
)

// DeployCmd is the guarded deploy (the policy's deploy-guarded.sh).
type DeployCmd struct {
	Env            string   `help:"Deploy this wrangler environment (wrangler's --env)." placeholder:"ENV"`
	Config         string   `help:"The wrangler configuration file (default: [deploy] config, else wrangler.json, wrangler.jsonc or wrangler.toml at the root)." placeholder:"FILE"`
	NoFetch        bool     `help:"Compare with the last fetched remote branch instead of fetching it first."`
	AllowUntracked bool     `help:"Deploy although untracked files exist (they are not deployed) and list them in the deploy record."`
	RollbackOnFail bool     `help:"Roll back automatically when verification fails."`
	BreakLock      bool     `help:"Take over the team lock when its lease has expired (recorded in the deploy's record)."`
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
	_, err = deploy.Run(env.Ctx, deploy.Options{
		Repo:           repo,
		Config:         cfg,
		Env:            c.Env,
		WranglerConfig: wcfg,
		NoFetch:        c.NoFetch,
		AllowUntracked: c.AllowUntracked,
		BreakLock:      c.BreakLock,
		RollbackOnFail: c.RollbackOnFail,
		Rollback:       onFail,
		ExtraArgs:      args,
		Token:          os.Getenv(tokenEnv),
		AccountID:      os.Getenv(accountEnv),
		MigrationCheck: hooks.MigrationFindings,
		Stdout:         env.Stdout,
		Stderr:         env.Stderr,
	})
	return err
}
