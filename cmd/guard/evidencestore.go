package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/guardcm/guard/deploy"
	"github.com/guardcm/guard/evidence"
	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/fail"
)

// EvidenceStore opens the evidence store an --out flag, a verify argument
// or guard.toml names: a folder, or r2://BUCKET/PREFIX reached through the
// Cloudflare API with CLOUDFLARE_API_TOKEN.
func (e *Env) EvidenceStore(location string) (evidence.Store, error) {
	if strings.TrimSpace(location) == "" {
		return nil, fail.Usage(errors.New("no evidence store given"))
	}
	if !evidence.IsR2(location) {
		return evidence.DirStore{Dir: location}, nil
	}
	if _, _, err := evidence.ParseR2(location); err != nil {
		return nil, fail.Usage(err)
	}
	api, err := e.r2API()
	if err != nil {
		return nil, err
	}
	st, err := evidence.NewR2Store(api, location)
	if err != nil {
		return nil, fail.Usage(err)
	}
	return st, nil
}

// r2API is the API client for R2: the token, and the account from
// CLOUDFLARE_ACCOUNT_ID or else the wrangler configuration's account_id.
func (e *Env) r2API() (*cfapi.Client, error) {
	token := os.Getenv(tokenEnv)
	if token == "" {
		return nil, fail.Usage(errors.New("CLOUDFLARE_API_TOKEN is not set"),
			"an R2 evidence store is written with the Cloudflare API token: give it \"Workers R2 Storage: Edit\" and export it as CLOUDFLARE_API_TOKEN")
	}
	account := os.Getenv(accountEnv)
	if account == "" {
		if repo, cfg, err := e.Workspace(); err == nil {
			if t, err := deploy.ResolveTarget(repo.Root, cfg, "", "", ""); err == nil {
				account = t.Account
			}
		}
	}
	if account == "" {
		return nil, fail.Usage(errors.New("no Cloudflare account for the R2 evidence store"), "export CLOUDFLARE_ACCOUNT_ID, or set account_id in the wrangler configuration")
	}
	return cfapi.New(token, account), nil
}

// checkEvidenceLock refuses (exit 1, before anything is written) an R2
// store that no enabled bucket lock rule covers with the configured
// retention, and says how to add one; a folder is not checked.
func checkEvidenceLock(env *Env, st evidence.Store) error {
	r2s, ok := st.(*evidence.R2Store)
	if !ok {
		return nil
	}
	_, cfg, err := env.Workspace()
	if err != nil {
		return err
	}
	now, err := evidenceNow()
	if err != nil {
		return err
	}
	rules, err := r2s.API.BucketLockRules(env.Ctx, r2s.Bucket)
	if err != nil {
		if cfapi.IsNotFound(err) {
			return fail.Usage(fmt.Errorf("%s: R2 bucket %q does not exist: %w", st.Location(), r2s.Bucket, err),
				"create it with 'wrangler r2 bucket create "+r2s.Bucket+"' and add a lock rule")
		}
		return storeError(err)
	}
	rule, err := evidence.CoveringRule(st.Location(), r2s.Bucket, r2s.Prefix, rules, cfg.Evidence.Retention.Duration, now)
	var le *evidence.LockError
	if errors.As(err, &le) {
		return fail.Refused(err, le.Hint())
	}
	fmt.Fprintf(env.Stderr, "guard: %s: %s\n", st.Location(), evidence.DescribeRule(rule))
	return nil
}

// storePath names an object of a store for the user: a path in a folder,
// a URL in a bucket.
func storePath(st evidence.Store, name string) string {
	if d, ok := st.(evidence.DirStore); ok {
		return filepath.Join(d.Dir, filepath.FromSlash(name))
	}
	return st.Location() + name
}

// storeError maps a store's failure to guard's exit codes: the API's
// refusal of the token is a usage problem with a hint, the rest external.
func storeError(err error) error {
	if cfapi.IsUnauthorized(err) {
		return fail.External(err, "check CLOUDFLARE_API_TOKEN: an R2 evidence store needs \"Workers R2 Storage: Edit\"")
	}
	return fail.External(err)
}
