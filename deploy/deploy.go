// Package deploy is guard's guarded deploy: it refuses to ship anything but
// the remote branch, wraps `wrangler deploy`, confirms through the
// Cloudflare API what went out, verifies it, and records it.
//
// Contract (Run):
//  1. Nothing leaves the machine before the checks pass: with a missing
//     token, a bad configuration, a held lock or a divergent tree, Run
//     returns before wrangler or the API is called. Past those, until
//     the bundle and migration checks pass, the API is only read (what
//     serves: item 6).
//  2. The tree is compared with <remote>/<branch> after `git fetch`
//     (unless NoFetch) by `git status --porcelain=v2` and
//     `git rev-list --left-right --count`; every divergent path and commit
//     is listed with its reason (Divergence) and the deploy is refused
//     (exit 1). Untracked files are refused too unless AllowUntracked, and
//     then recorded.
//  3. One deploy per worker at a time: LockWorker, a flock under the common
//     git directory (ledger.AcquireLock, name history.LockName(worker)),
//     released by the kernel if guard dies; guard rollback takes it too.
//  4. A pending ledger record is written before wrangler runs and an
//     outcome record (Ref = the pending Seq) after; the outcome is also
//     added as a git note on the deployed commit and pushed (ledger.Share),
//     bounded by [deploy] fetch_timeout (a failed push is a warning). A
//     crash, an interrupt or an API failure after wrangler leaves the
//     record pending, for history.Load to reconcile.
//  5. wrangler runs non-interactively (internal/wrangler) with
//     --message "<subject> [guard <short sha> <category>]" and
//     --tag <full sha>; the version ID comes from its output file and is
//     confirmed through the API (the newest deployment serving it at 100%).
//  6. What ships is counted from what Cloudflare serves: the commit in the
//     workers/tag of the version(s) the worker's active deployment serves
//     (history.Serving), read once the tree check passed, while the build
//     is prepared. Its categories, D1 migration checks and rollout plans
//     are those of that commit..HEAD. A deploy record (ledger or notes)
//     naming another commit is a warning, kept in the outcome record; it
//     never narrows the range. With no deployment the API lists serving a
//     commit this clone has, every commit reachable from HEAD counts.
//  7. Errors carry guard's exit codes (internal/fail): refusals 1, usage
//     and configuration 2, wrangler and API failures 3. A deploy verified
//     bad returns a refusal whose hint is the exact rollback command.
//  8. The API token is passed to wrangler's environment and to
//     internal/cfapi only; it is never printed, logged or stored.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/history"
	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/internal/wrangler"
	"github.com/guardcm/guard/ledger"
	"github.com/guardcm/guard/pristine"
	"github.com/guardcm/guard/rollout"
	"github.com/guardcm/guard/wranglercfg"
)

// RollbackRequest is what a deploy verified bad hands the rollback hook.
type RollbackRequest struct {
	Worker         string
	Env            string
	WranglerConfig string // absolute path of the wrangler configuration
	Account        string
	// FromVersion and FromCommit are what was just deployed (bad).
	FromVersion string
	FromCommit  string
	// Reason is a one-line reason for the rollback record.
	Reason string
}

// RollbackFunc rolls the worker back after a deploy verified bad. It is the
// hook point for --rollback-on-fail: the rollback package provides one, and
// cmd/guard passes it in Options.Rollback. It is called with the deploy lock
// still held by the caller, so it must not take history.LockName(worker)
// itself.
type RollbackFunc func(ctx context.Context, req RollbackRequest) error

// Options are the inputs of one deploy.
type Options struct {
	Repo   *gitx.Repo
	Config *config.Config
	// Env is wrangler's --env ("" = the top-level worker).
	Env string
	// WranglerConfig is the wrangler configuration file (absolute, or
	// relative to the repository root); "" means [deploy] config, else the
	// first of wrangler.json, wrangler.jsonc, wrangler.toml at the root.
	WranglerConfig string
	NoFetch        bool
	AllowUntracked bool
	// BreakLock takes over the team lock when its lease has expired (or
	// its holder is a dead process of this host); recorded.
	BreakLock bool
	// RollbackOnFail rolls back with Rollback when verification is bad.
	RollbackOnFail bool
	Rollback       RollbackFunc
	// ExtraArgs are passed to `wrangler deploy` after guard's own.
	ExtraArgs []string
	// Token is the Cloudflare API token (CLOUDFLARE_API_TOKEN).
	Token string
	// AccountID is CLOUDFLARE_ACCOUNT_ID; "" means the wrangler
	// configuration's account_id.
	AccountID string
	// MigrationCheck is the D1 migration checker (hooks.MigrationFindings),
	// run over base..head before migrations are applied; base is the last
	// deployed commit ("" when unknown). Required when [[deploy.d1]] is set.
	MigrationCheck func(ctx context.Context, repo *gitx.Repo, cfg *config.Config, base, head string) ([]report.Finding, error)
	// APIOptions configure the Cloudflare API client (tests).
	APIOptions []cfapi.Option
	// Verifier adjusts the verification (tests); nil means defaults.
	Verifier func(*Verifier)
	// Gradual makes the deploy progressive (gradual.go): also implied by
	// Steps, by [deploy.rollout], and by the rollout plan of a major change.
	Gradual bool
	// Steps replace the configured rollout steps (--steps).
	Steps []float64
	// Interrupted is asked, once an interrupt stopped a gradual deploy,
	// whether to go back to the previous version now (true) or leave the
	// rollout for --resume/--abort; nil means go back.
	Interrupted func() bool
	// Sleep waits a rollout's holds; nil means a timer (tests shorten it).
	Sleep func(ctx context.Context, d time.Duration) error
	// Stdout receives wrangler's and the verify commands' output; Stderr
	// guard's messages and their errors.
	Stdout, Stderr io.Writer
}

// Timing splits a deploy's wall time: guard's own work before wrangler's
// deploy starts (including `wrangler --version`), wrangler's deploy, and
// guard's work after it exits (confirmation, ledger, notes; verification
// is reported separately because its time is the user's checks').
type Timing struct {
	Before, Wrangler, After, Verify time.Duration
	// Total is Run's whole wall time, cleanup included (the pristine
	// checkout's removal, the team lock's release).
	Total time.Duration
}

// Own is guard's own time around wrangler: the whole deploy but
// wrangler's deploy and the user's verification.
func (t Timing) Own() time.Duration { return t.Total - t.Wrangler - t.Verify }

// Result describes a deploy that got as far as wrangler.
type Result struct {
	Worker, Env, Account string
	WranglerConfig       string
	Commit, Tree         string
	Categories           []string
	Message              string
	VersionID            string
	DeploymentID         string
	Verified             string
	Verification         *Verification
	// Isolation is where wrangler built from: "pristine" or "checkout".
	Isolation string
	// TeamLock says whether the team-wide lease was held.
	TeamLock TeamLockState
	// Final is the outcome record as written to the ledger.
	Final ledger.Record
	// RollbackCommand is printed when the deploy was verified bad.
	RollbackCommand string
	Warnings        []string
	Timing          Timing
	// Rollout is a gradual deploy's final state.
	Rollout *rollout.State
}

// forbiddenExtra are wrangler flags guard sets itself or that would make
// the record wrong, with what to do instead.
var forbiddenExtra = map[string]string{
	"--env": "guard sets it: use guard deploy --env or --worker", "-e": "guard sets it: use guard deploy --env or --worker",
	"--config": "guard sets it: use guard deploy --config or --worker", "-c": "guard sets it: use guard deploy --config or --worker",
	"--name":       "it would deploy another worker than the one guard records: use guard deploy --worker",
	"--message":    "guard sets it to the commit's subject and its marker",
	"--tag":        "guard sets it to the deployed commit",
	"--account-id": "guard records the account: export CLOUDFLARE_ACCOUNT_ID or set account_id in the wrangler configuration",
	"--dry-run":    "a wrangler dry run deploys nothing while guard would record a deploy: guard deploy --dry-run prints the plan",
	"--outdir":     "guard sets it to build what it ships in its own folder",
	"--metafile":   "guard sets it to record what was bundled",
}

// CheckExtraArgs refuses pass-through arguments that would contradict what
// guard records (another worker, config, message or tag) or deploy nothing.
func CheckExtraArgs(args []string) error {
	for _, a := range args {
		name, _, _ := strings.Cut(a, "=")
		if why, ok := forbiddenExtra[name]; ok {
			return fmt.Errorf("wrangler argument %q is not allowed after --: %s", a, why)
		}
	}
	return nil
}

// Target is the worker a wrangler configuration and env deploy to.
type Target struct {
	// ConfigPath is the wrangler configuration's absolute path.
	ConfigPath string
	Config     *wranglercfg.Config
	Env        string
	Worker     string
	// Account is the account ID from the environment or the configuration.
	Account string
}

// wranglerConfigNames are the files wrangler reads by itself, in its order
// of preference.
var wranglerConfigNames = []string{"wrangler.json", "wrangler.jsonc", "wrangler.toml"}

// ResolveTarget finds and parses the wrangler configuration in the
// directory root and names the worker (wrangler's --env rules) and the
// account. Errors are usage errors.
func ResolveTarget(root string, cfg *config.Config, configPath, env, accountFromEnv string) (*Target, error) {
	return resolveTarget(root, "", cfg, configPath, env, accountFromEnv, func(rel string) ([]byte, error) {
		return os.ReadFile(filepath.Join(root, rel))
	})
}

// ResolveTargetAt is ResolveTarget on the files of commit rather than the
// work tree: what a pristine deploy of that commit reads. ConfigPath is
// still the file's path under repo.Root. A configuration that is not part
// of the commit (untracked, ignored) is a usage error.
func ResolveTargetAt(ctx context.Context, repo *gitx.Repo, commit string, cfg *config.Config, configPath, env, accountFromEnv string) (*Target, error) {
	return resolveTarget(repo.Root, commit, cfg, configPath, env, accountFromEnv, func(rel string) ([]byte, error) {
		data, ok, err := repo.Blob(ctx, commit, filepath.ToSlash(rel))
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, os.ErrNotExist
		}
		return data, nil
	})
}

func resolveTarget(root, commit string, cfg *config.Config, configPath, env, accountFromEnv string, read func(rel string) ([]byte, error)) (*Target, error) {
	where := root
	if commit != "" {
		where = "commit " + gitx.ShortHash(commit)
	}
	p := configPath
	if p == "" {
		p = cfg.Deploy.Config
	}
	var data []byte
	if p == "" {
		for _, n := range wranglerConfigNames {
			if b, err := read(n); err == nil {
				p, data = n, b
				break
			}
		}
		if p == "" {
			return nil, fail.Usage(fmt.Errorf("no wrangler configuration (%s) at the root of %s", strings.Join(wranglerConfigNames, ", "), where),
				"pass --config, or set [deploy] config in guard.toml")
		}
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(root, p)
	}
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		if commit != "" {
			return nil, fail.Usage(fmt.Errorf("wrangler configuration %s is outside the repository: a deploy reads only the commit's files", p))
		}
		rel = p
	}
	if data == nil {
		if data, err = read(rel); err != nil {
			if commit != "" && errors.Is(err, os.ErrNotExist) {
				return nil, fail.Usage(fmt.Errorf("wrangler configuration %s is not part of %s (untracked or ignored files are never deployed)", filepath.ToSlash(rel), where),
					"commit the configuration and push it, or pass --config with one that is")
			}
			return nil, fail.Usage(fmt.Errorf("wrangler configuration: %w", err))
		}
	}
	wc, err := wranglercfg.Parse(filepath.ToSlash(rel), data)
	if err != nil {
		return nil, fail.Usage(err)
	}
	if env != "" && !wc.HasEnv(env) {
		return nil, fail.Usage(fmt.Errorf("%s has no environment %q (environments: %s)", rel, env, listOrNone(wc.Envs)),
			fmt.Sprintf("add [env.%s] to %s, or deploy without --env", env, rel))
	}
	worker := wc.WorkerName(env)
	if worker == "" {
		return nil, fail.Usage(fmt.Errorf("%s has no worker name", rel), "set name in the wrangler configuration")
	}
	account := accountFromEnv
	if account == "" {
		account = wc.AccountID
	}
	if account == "" {
		return nil, fail.Usage(errors.New("no Cloudflare account ID"),
			fmt.Sprintf("export CLOUDFLARE_ACCOUNT_ID, or set account_id in %s", rel))
	}
	return &Target{ConfigPath: p, Config: wc, Env: env, Worker: worker, Account: account}, nil
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// TokenMissing is the usage error for a missing API token.
func TokenMissing() error {
	return fail.Usage(errors.New("CLOUDFLARE_API_TOKEN is not set"),
		"create an API token with the \"Edit Cloudflare Workers\" template (plus D1 edit for migrations) and export it as CLOUDFLARE_API_TOKEN")
}

// LockWorker takes the lock that lets one deploy or rollback of worker run
// at a time (history.LockName, under ledger.LockDir). A lock that another
// process holds is a refusal with hint; any other failure is external.
func LockWorker(repo *gitx.Repo, worker, hint string) (*ledger.Lock, error) {
	lock, err := ledger.AcquireLock(ledger.LockDir(repo), history.LockName(worker))
	if err != nil {
		var held *ledger.HeldError
		if errors.As(err, &held) {
			return nil, fail.Refused(err, hint)
		}
		return nil, fail.External(err)
	}
	return lock, nil
}

// deployer carries one Run's state.
type deployer struct {
	o      Options
	repo   *gitx.Repo
	cfg    *config.Config
	t      *Target
	ledger *ledger.Ledger
	sign   ledger.Signer // nil: shared records are not signed
	res    *Result
	stderr io.Writer
	start  time.Time
	voice  report.Voice
	// recWarning goes into the outcome record's warning.
	recWarning string
	// rollout is the state of a gradual deploy, nil for a plain one.
	rollout *rollout.State
	// team is the team lease, renewed through a rollout's holds.
	team *TeamLock
}

// Run performs one guarded deploy. See the package contract. The returned
// Result is non-nil once a worker was resolved, also with an error.
func Run(ctx context.Context, o Options) (*Result, error) {
	d := newDeployer(o)
	err := d.run(ctx)
	d.res.Timing.Total = time.Since(d.start)
	return d.res, err
}

func newDeployer(o Options) *deployer {
	d := &deployer{o: o, repo: o.Repo, cfg: o.Config, stderr: o.Stderr, start: time.Now()}
	if d.stderr == nil {
		d.stderr = io.Discard
	}
	if d.o.Stdout == nil {
		d.o.Stdout = io.Discard
	}
	d.res = &Result{Env: o.Env}
	d.voice = report.Voice{W: d.stderr, Warnings: &d.res.Warnings}
	return d
}

func (d *deployer) run(ctx context.Context) error {
	o, repo, cfg := d.o, d.repo, d.cfg
	if err := CheckExtraArgs(o.ExtraArgs); err != nil {
		return fail.Usage(err)
	}
	if o.RollbackOnFail && o.Rollback == nil {
		return fail.Usage(errors.New("--rollback-on-fail: no rollback handler is wired into this deploy"),
			"deploy without --rollback-on-fail; if verification fails guard prints the rollback command to run")
	}
	if o.Token == "" {
		return TokenMissing()
	}
	pristineMode := cfg.Deploy.Isolation != config.IsolationCheckout
	d.res.Isolation = cfg.Deploy.Isolation
	head, err := repo.GitLine(ctx, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
	if err != nil || head == "" {
		return fail.Usage(errors.New("HEAD does not name a commit (nothing committed yet?)"))
	}
	// The worker is what the commit's configuration names: in pristine
	// mode an ignored wrangler.json beside the tracked wrangler.toml is
	// never read.
	var t *Target
	if pristineMode {
		t, err = ResolveTargetAt(ctx, repo, head, cfg, o.WranglerConfig, o.Env, o.AccountID)
	} else {
		t, err = ResolveTarget(repo.Root, cfg, o.WranglerConfig, o.Env, o.AccountID)
	}
	if err != nil {
		return err
	}
	d.t = t
	d.res.Worker, d.res.Account, d.res.WranglerConfig = t.Worker, t.Account, t.ConfigPath
	d1s, err := d.d1Databases()
	if err != nil {
		return err
	}

	// 3. One deploy at a time, decided before anything slow.
	lock, err := LockWorker(repo, t.Worker, "wait for that deploy to finish; a lock left by a process that died is released by itself")
	if err != nil {
		return err
	}
	defer lock.Release()
	if ab := lock.Abandoned; ab != nil {
		d.voice.Warn("a previous deploy of %s (pid %d on %s, started %s) ended without releasing its lock; 'guard history' reconciles its record",
			t.Worker, ab.PID, ab.Host, ab.Started.UTC().Format(time.RFC3339))
	}
	team, teamState, err := LockTeam(ctx, repo, cfg, t.Worker, o.BreakLock, d.voice)
	if err != nil {
		return err
	}
	defer team.Release(d.voice)
	d.res.TeamLock, d.team = teamState, team

	// 1. Fetch the branch (and the team's deploy records) unless told not to.
	remoteRef := cfg.RemoteBranchRef()
	remoteName := cfg.Remote + "/" + cfg.Branch
	if !o.NoFetch {
		if err := d.fetch(ctx); err != nil {
			return err
		}
	}

	// 2. The tree must be exactly the remote branch.
	st, err := CheckTree(ctx, repo, remoteRef, remoteName, o.AllowUntracked)
	if err != nil {
		return fail.External(err)
	}
	var inProgress []string
	st.Divergences, inProgress = SetAsideRecords(st.Divergences, cfg.Rollback.RecordsDir)
	if len(inProgress) > 0 {
		d.voice.Say("%d emergency-change record(s) in progress are not deployed: %s (commit and push them to document the change)", len(inProgress), strings.Join(limitList(inProgress, 10), ", "))
	}
	if !pristineMode && len(st.Divergences) == 0 {
		ignored, err := IgnoredInProject(ctx, repo, filepath.Dir(t.ConfigPath))
		if err != nil {
			return fail.External(err)
		}
		st.Divergences = append(st.Divergences, ignored...)
	}
	if len(st.Divergences) > 0 {
		d.voice.Say("refusing to deploy %s: the checkout differs from %s:", t.Worker, remoteName)
		for _, dv := range st.Divergences {
			fmt.Fprintf(d.stderr, "guard:   %s\n", dv)
		}
		hint := fmt.Sprintf("deploy from a clean checkout of %s: commit and push through a pull request, or pull, or stash", remoteName)
		if !o.AllowUntracked {
			hint += "; --allow-untracked lets the deploy go on beside untracked files (they are not deployed) and records them"
		}
		return fail.Refused(fmt.Errorf("%d difference(s) from %s; nothing was deployed", len(st.Divergences), remoteName), hint)
	}
	if st.Head != head {
		return fail.External(fmt.Errorf("HEAD moved from %s to %s during the deploy's checks; nothing was deployed", gitx.ShortHash(head), gitx.ShortHash(st.Head)))
	}
	d.res.Commit, d.res.Tree = st.Head, st.Tree
	if len(st.Untracked) > 0 {
		if pristineMode {
			d.voice.Warn("%d untracked file(s) are not deployed (the deploy is built from commit %s), recorded in the ledger: %s",
				len(st.Untracked), gitx.ShortHash(st.Head), strings.Join(limitList(st.Untracked, 10), ", "))
		} else {
			d.voice.Warn("shipping %d untracked file(s) (isolation = \"checkout\"), recorded in the ledger: %s", len(st.Untracked), strings.Join(limitList(st.Untracked, 10), ", "))
		}
	}

	// What serves, asked while the build is prepared (and no longer once
	// the deploy stops early).
	api := cfapi.New(o.Token, t.Account, o.APIOptions...)
	servedCtx, stopServed := context.WithCancel(ctx)
	defer stopServed()
	served := d.readServed(servedCtx, api)

	// The tree wrangler builds from: the pristine checkout of the commit,
	// or (opt-out) the working directory.
	b, err := d.prepare(ctx)
	if err != nil {
		return err
	}
	defer b.Close()

	// What is being shipped: the categories since the last deploy.
	d.ledger = ledger.Open(ledger.DefaultPath(repo))
	if d.sign, err = ledger.SignerFor(ctx, repo, d.cfg.Ledger.Signing); err != nil {
		return err
	}
	answer := <-served
	base, _, err := d.sinceLastDeploy(ctx, st.Head, answer)
	if err != nil {
		return err
	}
	commits, err := CommitCategories(ctx, repo, base, st.Head)
	if err != nil {
		return fail.External(err)
	}
	names, highest := Categories(commits)
	subject, err := repo.GitLine(ctx, "log", "-1", "--format=%s", st.Head)
	if err != nil {
		return fail.External(err)
	}
	d.res.Categories = names
	d.res.Message = Message(subject, st.Head, highest)
	operator, _, _ := repo.ConfigValue(ctx, "user.email")
	plan, err := d.rolloutPlan(ctx, commits, base, st.Head)
	if err != nil {
		return err
	}

	// 8. D1: check the migrations and bookmark each database first.
	if plan != nil {
		if d.rollout, err = d.startRollout(plan, answer.deps); err != nil {
			return err
		}
	}
	bookmarks, err := d.d1Prepare(ctx, api, d1s, base, st.Head)
	if err != nil {
		return err
	}

	// 4. wrangler, checked before anything is recorded.
	runner := wrangler.ForAccount(b.Wrangler, b.Root, o.Token, t.Account, o.Stdout, d.stderr)
	wv, err := runner.CheckVersion(ctx)
	if err != nil {
		if wv != nil {
			return fail.Usage(err, "upgrade wrangler (npm install --save-dev wrangler@4)")
		}
		return fail.External(err, "install wrangler (npm install --save-dev wrangler), or set [deploy] wrangler in guard.toml")
	}

	// 6. The pending record, then the D1 migrations and the code.
	pending, err := d.ledger.Append(ledger.Record{
		Kind:            ledger.KindDeploy,
		Status:          ledger.StatusPending,
		Worker:          t.Worker,
		Env:             t.Env,
		Account:         t.Account,
		Commit:          st.Head,
		Tree:            st.Tree,
		Categories:      names,
		WranglerVersion: wv.String(),
		Operator:        operator,
		Isolation:       cfg.Deploy.Isolation,
		TeamLock:        d.res.TeamLock.State,
		BrokeLock:       d.res.TeamLock.Broke,
		Untracked:       st.Untracked,
		D1Bookmarks:     bookmarks,
		Rollout:         d.rollout.Clone(),
	})
	if err != nil {
		return fail.External(err)
	}
	var bundle *pristine.Bundle
	finish := func(status, versionID, deploymentID, verified string, cause error) (ledger.Record, error) {
		rec := ledger.Outcome(pending)
		rec.Status, rec.VersionID, rec.DeploymentID, rec.Verified = status, versionID, deploymentID, verified
		if bundle != nil {
			rec.BundleSHA256, rec.Bundle = bundle.SHA256, bundle.Files
		}
		rec.Warning = d.recWarning
		if cause != nil {
			rec.Error = Summarize(cause)
		}
		written, err := d.ledger.Append(rec)
		if err != nil {
			return rec, err
		}
		d.res.Final = written
		if err := ledger.Share(ctx, d.repo, d.cfg.Remote, d.cfg.Deploy.FetchTimeout.Duration, written, d.sign); err != nil {
			d.voice.Warn("%v", err)
		}
		return written, nil
	}
	failed := func(versionID string, cause error, hints ...string) error {
		// wrangler's stderr was streamed live: the error says it once.
		short := errors.New(Summarize(cause))
		if _, err := finish(ledger.StatusFailed, versionID, "", "", cause); err != nil {
			return fail.External(errors.Join(short, fmt.Errorf("and the failure could not be recorded: %w", err)), hints...)
		}
		return fail.External(short, hints...)
	}

	for _, db := range d1s {
		d.voice.Say("applying D1 migrations to %s (binding %s)", db.DatabaseName, db.Binding)
		err := runner.D1MigrationsApply(ctx, wrangler.D1Args{Config: b.Config, Env: t.Env, Database: db.DatabaseName, Remote: true})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err() // left pending: history reconciles it
			}
			return failed("", fmt.Errorf("applying the D1 migrations of %s failed; the code was not deployed: %w", db.DatabaseName, err),
				fmt.Sprintf("the bookmark taken before is in the ledger: wrangler d1 time-travel restore %s --bookmark=%s", db.DatabaseName, bookmarks[db.DatabaseName]))
		}
	}

	if d.rollout != nil {
		return d.gradual(ctx, runner, api, pending, b)
	}
	d.voice.Say("deploying %s from %s: %s", t.Worker, gitx.ShortHash(st.Head), d.res.Message)
	d.res.Timing.Before = time.Since(d.start)
	wstart := time.Now()
	dr, err := runner.Deploy(ctx, wrangler.DeployArgs{
		Config: b.Config, Env: t.Env, Message: d.res.Message, Tag: Tag(st.Head), Extra: o.ExtraArgs,
		OutDir: b.OutDir, Metafile: b.Metafile,
	})
	d.res.Timing.Wrangler = time.Since(wstart)
	after := time.Now()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		bundle = d.readBundle(b)
		return d.wranglerFailed(ctx, api, err, finish, failed)
	}
	bundle = d.readBundle(b)
	d.res.VersionID = dr.VersionID
	if dr.WorkerName != "" && dr.WorkerName != t.Worker {
		d.voice.Warn("wrangler deployed worker %q, guard expected %q", dr.WorkerName, t.Worker)
	}

	// 5. Confirm through the API.
	depID, err := d.confirm(ctx, api, dr.VersionID)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var nc *notConfirmed
		if errors.As(err, &nc) {
			return failed(dr.VersionID, err)
		}
		// wrangler succeeded; the API could not say so. Keep the record
		// pending, with the version, for history to reconcile.
		if _, ferr := finish(ledger.StatusPending, dr.VersionID, "", "", fmt.Errorf("not confirmed: %w", err)); ferr != nil {
			return fail.External(errors.Join(err, ferr))
		}
		return fail.External(fmt.Errorf("wrangler deployed version %s but the Cloudflare API could not confirm it: %w", dr.VersionID, err),
			"run 'guard history' once the API answers: it reconciles this deploy's record")
	}
	d.res.DeploymentID = depID
	d.res.Timing.After = time.Since(after)
	return d.settle(ctx, dr.VersionID, depID, bundle, finish)
}

// settle verifies a confirmed deploy and writes its outcome.
func (d *deployer) settle(ctx context.Context, versionID, depID string, bundle *pristine.Bundle, finish finishFunc) error {
	t := d.t
	// 7. Verify: the user's checks, and that the bundle came from the
	// commit alone.
	vstart := time.Now()
	ver, verr := d.verify(ctx)
	d.res.Timing.Verify = time.Since(vstart)
	if verr != nil {
		if ctx.Err() != nil {
			// Deployed but not judged: say so in the record.
			_, _ = finish(ledger.StatusSucceeded, versionID, depID, ledger.VerifiedUnverified, errors.New("verification interrupted"))
			return ctx.Err()
		}
		return fail.External(verr)
	}
	if bundle != nil && len(bundle.Outside) > 0 {
		ver.Checks = append(ver.Checks, Check{Name: "bundle inputs", OK: false,
			Detail: fmt.Sprintf("the bundle read %d file(s) from outside commit %s and its locked dependencies: %s",
				len(bundle.Outside), gitx.ShortHash(d.res.Commit), strings.Join(limitList(bundle.Outside, 10), ", "))})
		ver.Verified = ledger.VerifiedBad
	}
	d.res.Verification = ver
	d.res.Verified = ver.Verified
	after := time.Now()
	if _, err := finish(ledger.StatusSucceeded, versionID, depID, ver.Verified, nil); err != nil {
		return fail.External(fmt.Errorf("deployed version %s (deployment %s) but could not record it: %w", versionID, depID, err))
	}
	d.res.Timing.After += time.Since(after)

	d.voice.Say("deployed %s version %s (deployment %s), verified %s", t.Worker, versionID, depID, ver.Verified)
	if ver.Verified != ledger.VerifiedBad {
		return nil
	}
	return d.bad(ctx)
}

type finishFunc func(status, versionID, deploymentID, verified string, cause error) (ledger.Record, error)

// wranglerFailed decides what a non-zero wrangler exit means: wrangler
// may fail on a call it makes after the new deployment exists (the
// workers.dev subdomain, script settings), so the API says whether a
// deployment made since the pending record serves a version tagged with
// this commit at 100%. If one does, the deploy succeeded, with wrangler's
// error as a warning; otherwise it failed.
func (d *deployer) wranglerFailed(ctx context.Context, api *cfapi.Client, werr error, finish finishFunc, failed func(string, error, ...string) error) error {
	served, depID, err := d.servedSince(ctx, api)
	if err != nil {
		// Nobody can tell: leave the record pending for history.
		if _, ferr := finish(ledger.StatusPending, "", "", "", fmt.Errorf("wrangler failed and the API could not say what serves: %w", err)); ferr != nil {
			return fail.External(errors.Join(errors.New(Summarize(werr)), ferr))
		}
		return fail.External(fmt.Errorf("%s; the Cloudflare API could not say whether the new version serves: %w", Summarize(werr), err),
			"run 'guard history' once the API answers: it reconciles this deploy's record")
	}
	if served == "" {
		return failed("", werr)
	}
	d.voice.Warn("wrangler exited with an error, but the Cloudflare API shows version %s of commit %s serving at 100%% (deployment %s): recorded as succeeded; wrangler said: %s",
		served, gitx.ShortHash(d.res.Commit), depID, Summarize(werr))
	d.res.VersionID, d.res.DeploymentID = served, depID
	d.addRecordWarning("wrangler exited with an error after the deployment was made: " + Summarize(werr))
	return d.settle(ctx, served, depID, nil, finish)
}

// servedSince returns the version serving at 100% in the newest deployment
// when that deployment was made after this deploy started and its version
// carries this commit's tag ("" when not).
func (d *deployer) servedSince(ctx context.Context, api *cfapi.Client) (version, deployment string, err error) {
	deps, err := api.Deployments(ctx, d.t.Worker)
	if cfapi.IsNotFound(err) {
		return "", "", nil
	}
	if err != nil {
		return "", "", err
	}
	if len(deps) == 0 {
		return "", "", nil
	}
	dep := deps[0]
	if len(dep.Versions) != 1 || dep.Versions[0].Percentage != 100 || dep.CreatedOn.Before(d.start.Add(-clockSkew)) {
		return "", "", nil
	}
	v, err := api.Version(ctx, d.t.Worker, dep.Versions[0].VersionID)
	if err != nil {
		return "", "", err
	}
	if v.Tag != Tag(d.res.Commit) {
		return "", "", nil
	}
	return v.ID, dep.ID, nil
}

// clockSkew is how far before guard's clock Cloudflare may stamp a
// deployment guard made (clocks differ).
const clockSkew = time.Minute

// bad handles a deploy verified bad: the rollback command, and the hook.
func (d *deployer) bad(ctx context.Context) error {
	t := d.t
	// No target from the records here: they are claims (a pushed note can
	// say anything); guard rollback chooses among what Cloudflare and the
	// remote branch confirm.
	d.res.RollbackCommand = RollbackCommand("", t.Env, d.relConfig())
	for _, c := range d.res.Verification.Checks {
		if !c.OK {
			d.voice.Say("verify failed: %s: %s", c.Name, c.Detail)
		}
	}
	summary := fmt.Errorf("version %s of %s is deployed and verified bad", d.res.VersionID, t.Worker)
	if !d.o.RollbackOnFail {
		d.voice.Say("to roll back: %s", d.res.RollbackCommand)
		return fail.Refused(summary, "roll back with: "+d.res.RollbackCommand)
	}
	d.voice.Say("rolling back (--rollback-on-fail)")
	err := d.o.Rollback(ctx, RollbackRequest{
		Worker: t.Worker, Env: t.Env, WranglerConfig: t.ConfigPath, Account: t.Account,
		FromVersion: d.res.VersionID, FromCommit: d.res.Commit,
		Reason: fmt.Sprintf("guard deploy --rollback-on-fail: version %s verified bad", d.res.VersionID),
	})
	if err != nil {
		return fail.External(fmt.Errorf("%v, and the automatic rollback failed: %w", summary, err), "roll back by hand: "+d.res.RollbackCommand)
	}
	return fail.Refused(fmt.Errorf("%v; rolled back", summary))
}

// relConfig is the wrangler configuration as the user would name it, or ""
// when it is the one guard finds by itself.
func (d *deployer) relConfig() string {
	rel, err := filepath.Rel(d.repo.Root, d.t.ConfigPath)
	if err != nil || strings.HasPrefix(rel, "..") {
		return d.t.ConfigPath
	}
	if d.o.WranglerConfig == "" && d.cfg.Deploy.Config == "" {
		return ""
	}
	return filepath.ToSlash(rel)
}

// RollbackCommand is the command printed after a bad deploy: with the
// version to go back to when one is known.
func RollbackCommand(toVersion, env, configPath string) string {
	parts := []string{"guard", "rollback"}
	if toVersion != "" {
		parts = append(parts, "--to", toVersion)
	}
	if env != "" {
		parts = append(parts, "--env", env)
	}
	if configPath != "" {
		parts = append(parts, "--config", configPath)
	}
	return wrangler.QuoteCommand(parts)
}

// fetch updates <remote>/<branch> with the user's git (their credentials),
// and the team's deploy notes beside it, both within fetch_timeout. A
// failed branch fetch stops the deploy; failed notes only warn.
func (d *deployer) fetch(ctx context.Context) error {
	cfg := d.cfg
	timeout := cfg.Deploy.FetchTimeout.Duration
	if timeout <= 0 {
		timeout = ledger.DefaultNotesTimeout
	}
	notes := make(chan error, 1)
	go func() { notes <- ledger.FetchNotes(ctx, d.repo, cfg.Remote, timeout) }()
	err := d.repo.FetchBranch(ctx, cfg.Remote, cfg.Branch, timeout)
	nerr := <-notes
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fail.External(fmt.Errorf("fetching %s/%s: %w", cfg.Remote, cfg.Branch, err),
			fmt.Sprintf("--no-fetch deploys against the last fetched %s/%s", cfg.Remote, cfg.Branch))
	}
	if nerr != nil {
		d.voice.Warn("the team's deploy records were not fetched: %v", nerr)
	}
	return nil
}

// sinceLastDeploy is the base of what this deploy checks and records (its
// categories, D1 migrations and rollout plans are those of base..head): the
// commit Cloudflare serves, "" for every commit reachable. why says where
// the base came from, for the plan.
//
// The base is always the served commit (history.Serving), not only when
// the records disagree with it: the records are claims — without [ledger]
// signing anyone who can push the notes ref writes them, and even signed
// ones miss a rollback or deploy made outside guard — while what a deploy
// changes for users is the difference from what serves. When both agree the
// answer is the same, and knowing whether they agree takes the same API
// read. A record that names another commit is a warning that names it (the
// trust rules' disagreement). When the API lists no deployment of a commit
// guard can read (a first deploy, or only deployments made outside guard),
// the base is every commit reachable from head, never a record: nothing
// there is known deployed.
//
// A dry run may not ask the Cloudflare API (served.notAsked: no token):
// the base is then every commit too, with a warning.
func (d *deployer) sinceLastDeploy(ctx context.Context, head string, served *servedAnswer) (base, why string, err error) {
	verifier, err := ledger.VerifierFor(ctx, d.repo, d.cfg.Ledger.Signing, d.cfg.RemoteBranchRef(), d.cfg.Ledger.AllowedSigners)
	if err != nil {
		return "", "", err
	}
	recs, ignored, err := history.Records(ctx, d.repo, d.ledger, verifier, d.t.Worker, d.t.Account)
	if err != nil {
		return "", "", fail.External(err)
	}
	for _, w := range ignored {
		d.voice.Warn("%s", w)
	}
	rec := d.lastDeployed(ctx, recs, head)
	if served.notAsked != "" {
		d.voice.Warn("%s, so the Cloudflare API was not asked what serves: the plan counts every commit reachable from %s (a deploy counts those since the commit Cloudflare serves)", served.notAsked, gitx.ShortHash(head))
		return "", "every commit reachable (what serves was not asked)", nil
	}
	if served.err != nil {
		if ctx.Err() != nil {
			return "", "", ctx.Err()
		}
		return "", "", fail.External(fmt.Errorf("reading what %s serves, the base of what this deploy checks: %w", d.t.Worker, served.err),
			"try again once the Cloudflare API answers; nothing was deployed")
	}
	s := served.serving
	if s == nil {
		if len(served.passed) == 0 {
			why = "first deploy by guard: every commit reachable"
		} else {
			why = "no deployment the Cloudflare API lists is guard's: every commit reachable"
			d.voice.Warn("none of the deployments of %s that the Cloudflare API lists serves a commit guard can read, so this deploy checks and records every commit reachable from %s: %s",
				d.t.Worker, gitx.ShortHash(head), strings.Join(limitList(served.passed, 3), "; "))
		}
		if rec != nil {
			c := history.Unconfirmed(*rec)
			d.voice.Warn("%s; it is ignored", c)
			d.addRecordWarning(c)
		}
		return "", why, nil
	}
	if len(s.Passed) > 0 {
		d.voice.Warn("the deployment of %s serving now is not guard's (%s), so this deploy checks and records what changed since the newest one the Cloudflare API lists that is: %s",
			d.t.Worker, s.Passed[0], s.Describe())
	}
	if rec != nil {
		if c := s.Disagreement(*rec); c != "" {
			d.voice.Warn("%s; this deploy checks and records what changed since commit %s", c, gitx.ShortHash(s.Base))
			d.addRecordWarning(c)
		}
	}
	return s.Base, "what Cloudflare serves: " + s.Describe(), nil
}

// servedAnswer is the Cloudflare API's answer to what serves.
type servedAnswer struct {
	// notAsked says why the API was not asked (a dry run's plan).
	notAsked string
	// deps are the worker's deployments, newest first (none: never
	// deployed).
	deps    []cfapi.Deployment
	serving *history.Serving
	passed  []string
	err     error
}

// readServed asks the Cloudflare API what serves (history.ReadServing),
// in the background: the answer comes while the build is prepared, so its
// round trips add nothing to the deploy's time. It is started only once
// the tree check passed (nothing leaves the machine before), and the
// deployments it lists serve a gradual deploy's start too.
func (d *deployer) readServed(ctx context.Context, api *cfapi.Client) <-chan *servedAnswer {
	ch := make(chan *servedAnswer, 1)
	go func() {
		a := &servedAnswer{}
		deps, err := api.Deployments(ctx, d.t.Worker)
		if cfapi.IsNotFound(err) {
			deps, err = nil, nil // never deployed
		}
		if err != nil {
			a.err = err
		} else {
			a.deps = deps
			a.serving, a.passed, a.err = history.ReadServing(ctx, d.repo, api, d.t.Worker, deps)
		}
		ch <- a
	}()
	return ch
}

// addRecordWarning adds w to the outcome record's warning.
func (d *deployer) addRecordWarning(w string) {
	if d.recWarning != "" {
		w = d.recWarning + "; " + w
	}
	d.recWarning = w
}

// lastDeployed is the newest successful deploy or rollback record of the
// worker whose commit HEAD contains, nil when none: what the records alone
// would take as the base.
func (d *deployer) lastDeployed(ctx context.Context, recs []ledger.Record, head string) *ledger.Record {
	tries := 0
	for i := len(recs) - 1; i >= 0 && tries < 5; i-- {
		r := recs[i]
		if r.Status != ledger.StatusSucceeded || r.Commit == "" {
			continue
		}
		if r.Commit == head {
			return &recs[i]
		}
		tries++
		if _, err := d.repo.Git(ctx, "merge-base", "--is-ancestor", r.Commit, head); err == nil {
			return &recs[i]
		}
	}
	return nil
}

// d1Databases resolves the configured [[deploy.d1]] bindings in the
// wrangler configuration.
func (d *deployer) d1Databases() ([]wranglercfg.D1Database, error) {
	var out []wranglercfg.D1Database
	if len(d.cfg.Deploy.D1) == 0 {
		return nil, nil
	}
	all := d.t.Config.D1Databases(d.t.Env)
	for _, want := range d.cfg.Deploy.D1 {
		if want.Config != "" && path.Clean(want.Config) != d.t.Config.Path {
			continue // another worker's database (a monorepo)
		}
		found := false
		for _, db := range all {
			if db.Binding == want.Binding {
				if db.DatabaseName == "" {
					db.DatabaseName = db.Binding
				}
				out = append(out, db)
				found = true
				break
			}
		}
		if !found {
			where := "the top level"
			if d.t.Env != "" {
				where = "env " + d.t.Env
			}
			return nil, fail.Usage(fmt.Errorf("guard.toml: deploy.d1: binding %q is not among the d1_databases of %s in %s", want.Binding, where, d.t.Config.Path),
				"name a binding of the wrangler configuration's d1_databases; in a monorepo, scope the entry with config = \"path/to/wrangler.toml\"")
		}
	}
	return out, nil
}

// d1Prepare runs the migration checker over what the deploy ships and
// takes a Time Travel bookmark of every database, keyed by database name.
func (d *deployer) d1Prepare(ctx context.Context, api *cfapi.Client, dbs []wranglercfg.D1Database, base, head string) (map[string]string, error) {
	if len(dbs) == 0 {
		return nil, nil
	}
	if d.o.MigrationCheck == nil {
		return nil, fail.External(errors.New("deploy: [[deploy.d1]] is configured but no D1 migration checker was wired in"))
	}
	findings, err := d.o.MigrationCheck(ctx, d.repo, d.cfg, base, head)
	if err != nil {
		return nil, fail.External(fmt.Errorf("checking D1 migrations: %w", err))
	}
	if len(findings) > 0 {
		if err := report.Write(d.stderr, report.FormatText, findings); err != nil {
			return nil, fail.External(err)
		}
	}
	if report.HasErrors(findings) {
		return nil, fail.Refused(errors.New("the D1 migrations fail the migration checker; nothing was deployed"),
			"fix the migrations (guard migrations check), push, and deploy again")
	}
	marks := map[string]string{}
	for _, db := range dbs {
		if db.DatabaseID == "" {
			return nil, fail.Usage(fmt.Errorf("%s: d1_databases binding %q has no database_id", d.t.Config.Path, db.Binding))
		}
		b, err := api.D1Bookmark(ctx, db.DatabaseID)
		if err != nil {
			return nil, fail.External(fmt.Errorf("D1 bookmark of %s before its migrations: %w", db.DatabaseName, err))
		}
		marks[db.DatabaseName] = b
		d.voice.Say("D1 %s: Time Travel bookmark %s", db.DatabaseName, b)
	}
	return marks, nil
}

// notConfirmed is the API's answer that no deployment serves the version:
// the deploy failed, as far as Cloudflare is concerned.
type notConfirmed struct{ msg string }

func (e *notConfirmed) Error() string { return e.msg }

// confirm finds the deployment that serves versionID at 100%: normally the
// newest; a later one means someone deployed in between (a warning).
func (d *deployer) confirm(ctx context.Context, api *cfapi.Client, versionID string) (string, error) {
	deps, err := api.Deployments(ctx, d.t.Worker)
	if err != nil {
		return "", err
	}
	for i, dep := range deps {
		if dep.Serves(versionID) {
			if i > 0 {
				d.voice.Warn("deployment %s (newer than this deploy's %s) already replaced version %s", deps[0].ID, dep.ID, versionID)
			}
			return dep.ID, nil
		}
	}
	return "", &notConfirmed{msg: fmt.Sprintf("wrangler reported version %s, but no deployment of %s serves it at 100%%", versionID, d.t.Worker)}
}

func (d *deployer) verify(ctx context.Context) (*Verification, error) {
	return d.verifier().Run(ctx)
}

// verifier is the configured verification of this deploy, with the
// GUARD_* variables that describe it (plus extra ones) for the commands.
func (d *deployer) verifier(extraEnv ...string) *Verifier {
	v := &Verifier{
		Dir:      d.repo.Root,
		Commands: d.cfg.Deploy.Verify,
		Health:   d.cfg.Deploy.Health,
		Stdout:   d.o.Stdout,
		Stderr:   d.stderr,
		Env: append([]string{
			"GUARD_WORKER=" + d.t.Worker,
			"GUARD_ENV=" + d.t.Env,
			"GUARD_VERSION_ID=" + d.res.VersionID,
			"GUARD_DEPLOYMENT_ID=" + d.res.DeploymentID,
			"GUARD_COMMIT=" + d.res.Commit,
		}, extraEnv...),
	}
	if d.o.Verifier != nil {
		d.o.Verifier(v)
	}
	return v
}

// Summarize makes an error fit the Error field of a deploy or rollback
// ledger record: wrangler's own message without the stderr tail the
// terminal has shown already, bounded.
func Summarize(err error) string {
	var we *wrangler.Error
	s := err.Error()
	if errors.As(err, &we) {
		// The stderr tail is on the terminal already; the record keeps
		// wrangler's own message.
		s = strings.Replace(s, we.Error(), (&wrangler.Error{Command: we.Command, ExitCode: we.ExitCode, Message: we.Message, Err: we.Err}).Error(), 1)
	}
	const max = 1000
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

func limitList(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(append([]string{}, s[:n]...), fmt.Sprintf("and %d more", len(s)-n))
}
