package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/guardcm/guard/config"
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

// evidenceLock reads the lock rules of an R2 store's bucket and returns
// the one that retains what guard writes there for [evidence] retention;
// otherwise an *evidence.LockError, or the API's error (404: no bucket).
func evidenceLock(env *Env, cfg *config.Config, r2s *evidence.R2Store) (*cfapi.LockRule, error) {
	now, err := evidenceNow()
	if err != nil {
		return nil, err
	}
	rules, err := r2s.API.BucketLockRules(env.Ctx, r2s.Bucket)
	if err != nil {
		return nil, err
	}
	return evidence.CoveringRule(r2s.Location(), r2s.Bucket, r2s.Prefix, rules, cfg.Evidence.Retention.Duration, now)
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
	rule, err := evidenceLock(env, cfg, r2s)
	var le *evidence.LockError
	switch {
	case errors.As(err, &le):
		return fail.Refused(err, le.Hint())
	case cfapi.IsNotFound(err):
		return fail.Usage(fmt.Errorf("%s: R2 bucket %q does not exist: %w", st.Location(), r2s.Bucket, err),
			"create it with 'wrangler r2 bucket create "+r2s.Bucket+"' and add a lock rule")
	case err != nil:
		return storeError(err)
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

// doctorEvidence checks each R2 evidence store guard.toml names ([deploy]
// evidence, [evidence] store): the bucket exists and a lock rule retains
// what guard writes there for [evidence] retention. Folders need no check.
func doctorEvidence(d *doctor, cfg *config.Config) {
	seen := map[string]bool{}
	for _, loc := range []string{cfg.Deploy.Evidence, cfg.Evidence.Store} {
		if !evidence.IsR2(loc) || seen[loc] {
			continue
		}
		seen[loc] = true
		st, err := d.env.EvidenceStore(loc)
		if err != nil {
			d.problem(hintOf(err), "evidence store %s: %v", loc, errText(err))
			continue
		}
		r2s := st.(*evidence.R2Store)
		if err := r2s.API.Bucket(d.env.Ctx, r2s.Bucket); err != nil {
			if cfapi.IsNotFound(err) {
				d.problem("wrangler r2 bucket create "+r2s.Bucket, "evidence store %s: R2 bucket %q does not exist", loc, r2s.Bucket)
			} else {
				d.problem("check CLOUDFLARE_API_TOKEN (\"Workers R2 Storage: Edit\") and the network", "evidence store %s: %v", loc, err)
			}
			continue
		}
		rule, err := evidenceLock(d.env, cfg, r2s)
		var le *evidence.LockError
		switch {
		case errors.As(err, &le):
			d.problem(le.Hint(), "%v", err)
			continue
		case err != nil:
			d.problem("check CLOUDFLARE_API_TOKEN (\"Workers R2 Storage: Edit\") and the network", "evidence store %s: %v", loc, err)
			continue
		}
		d.ok("evidence store %s: bucket exists, %s", st.Location(), evidence.DescribeRule(rule))
	}
}

// hintOf and errText split a fail.Error into its message and first hint.
func hintOf(err error) string {
	var fe *fail.Error
	if errors.As(err, &fe) && len(fe.Hints) > 0 {
		return fe.Hints[0]
	}
	return ""
}

func errText(err error) string {
	var fe *fail.Error
	if errors.As(err, &fe) {
		return fe.Err.Error()
	}
	return err.Error()
}
