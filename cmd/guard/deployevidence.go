package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/guardcm/guard/deploy"
	"github.com/guardcm/guard/evidence"
	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/fail"
)

// publishDeployEvidence is the policy's "post-deploy evidence check": with
// [deploy] evidence set, once a deploy has created a deployment (verified
// good or bad) the deployments document of its UTC day so far is published
// into that store, so the deploy is in the evidence at once. deployErr is
// the deploy's own outcome and wins over a publication failure, which is
// reported either way: the deploy happened, the evidence of it did not.
func publishDeployEvidence(env *Env, res *deploy.Result, deployErr error) error {
	_, cfg, err := env.Workspace()
	if err != nil || cfg.Deploy.Evidence == "" || res == nil || res.DeploymentID == "" {
		return deployErr
	}
	now, err := evidenceNow()
	if err == nil {
		api := cfapi.New(os.Getenv(tokenEnv), res.Account)
		err = collectDeployments(env, res.Worker, res.Env, res.Account, api, evidence.DayPeriod(now), false, cfg.Deploy.Evidence)
	}
	if err == nil {
		return deployErr
	}
	fmt.Fprintf(env.Stderr, "guard: error: deployment %s is live, but its evidence was not published into %s ([deploy] evidence)\n", res.DeploymentID, cfg.Deploy.Evidence)
	if deployErr != nil {
		var fe *fail.Error
		if errors.As(err, &fe) {
			err = fe.Err
		}
		fmt.Fprintf(env.Stderr, "guard: error: %v\n", err)
		return deployErr
	}
	return err
}
