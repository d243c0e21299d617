package main

import (
	"os"
	"path/filepath"

	"github.com/guardcm/guard/deploy"
	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/fail"
)

// The variables the commands that reach Cloudflare read: wrangler's own
// names, so one export serves guard and wrangler.
const (
	tokenEnv   = "CLOUDFLARE_API_TOKEN"
	accountEnv = "CLOUDFLARE_ACCOUNT_ID"
)

// cloudflare is what a command that reads the Cloudflare API works on: the
// worker and account its wrangler configuration and environment name, and
// the API token.
type cloudflare struct {
	Target *deploy.Target
	Token  string
}

// API is the Cloudflare API client for the target's account.
func (c *cloudflare) API() *cfapi.Client { return cfapi.New(c.Token, c.Target.Account) }

// Cloudflare resolves the target of guard history, rollback and evidence
// deployments: a missing token first (nothing can be read without it),
// then the worker the flags choose (chooseWorker: --worker, --config,
// --env, or the only worker). Errors carry guard's exit codes.
func (e *Env) Cloudflare(f WorkerFlags) (*cloudflare, error) {
	repo, cfg, err := e.Workspace()
	if err != nil {
		return nil, err
	}
	token := os.Getenv(tokenEnv)
	if token == "" {
		return nil, deploy.TokenMissing()
	}
	wcfg, wranglerEnv, err := e.chooseWorker(f)
	if err != nil {
		return nil, err
	}
	t, err := deploy.ResolveTarget(repo.Root, cfg, wcfg, wranglerEnv, os.Getenv(accountEnv))
	if err != nil {
		return nil, err
	}
	return &cloudflare{Target: t, Token: token}, nil
}

// wranglerConfigFlag makes a --config flag absolute: it names a file
// relative to the working directory (-C applied), while guard resolves
// relative paths from the repository root.
func wranglerConfigFlag(p string) (string, error) {
	if p == "" || filepath.IsAbs(p) {
		return p, nil
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fail.Usage(err)
	}
	return abs, nil
}
