package deploy

// Gradual deploys (guard deploy --gradual, [deploy.rollout], or the
// front matter of a major change's rollout plan): `wrangler versions
// upload`, then one `wrangler versions deploy` per step of the plan, each
// confirmed through the API and verified with the health checks pinned to
// the new version (Cloudflare-Workers-Version-Overrides), through the
// rollout package's engine. The deploy's ledger record carries the
// rollout's state at every change, so a crash leaves a pending record that
// Finish (--resume, --abort) completes. The deploy lock is held throughout.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/wrangler"
	"github.com/guardcm/guard/ledger"
	"github.com/guardcm/guard/policy"
	"github.com/guardcm/guard/pristine"
	"github.com/guardcm/guard/records"
	"github.com/guardcm/guard/rollout"
)

// VersionOverridesHeader pins a request to one version of the worker's
// current deployment, even at 0 % (Cloudflare's "Version overrides").
const VersionOverridesHeader = "Cloudflare-Workers-Version-Overrides"

// returnTimeout bounds the return to the old version after an interrupt:
// the interrupt's own context is over by then.
const returnTimeout = 2 * time.Minute

// rolloutPlan decides whether this deploy is gradual and with which plan:
// the rollout plan of a major change being deployed (its front matter)
// first, then --steps, then [deploy.rollout], then --gradual's defaults.
// nil means a plain deploy.
//
// Any deploy, plain or gradual, is refused while this clone's ledger holds
// an unfinished gradual deploy of the worker: it would replace a split
// that the record still means to finish or undo.
func (d *deployer) rolloutPlan(ctx context.Context, commits []CommitCategory, base, head string) (*rollout.Plan, error) {
	o, cfg := d.o, d.cfg
	if last, err := unfinishedRollout(d.ledger, d.t.Worker, d.t.Account); err != nil {
		return nil, fail.External(err)
	} else if last != nil {
		return nil, fail.Refused(fmt.Errorf("the gradual deploy of version %s (ledger record %d) is unfinished, at %s", last.Rollout.Version(), last.Ref, last.Rollout.Where()),
			"finish it first: guard deploy --resume goes on, guard deploy --abort goes back to the previous version")
	}
	var plan *rollout.Plan
	var err error
	switch {
	case len(o.Steps) > 0:
		var holds []time.Duration
		if r := cfg.Deploy.Rollout; r != nil && r.Plan != nil {
			if h, ok := r.Hold.(string); ok {
				if v, err := time.ParseDuration(h); err == nil {
					holds = []time.Duration{v}
				}
			}
		}
		plan, err = rollout.NewPlan(o.Steps, holds, "--steps")
		if err != nil {
			return nil, fail.Usage(fmt.Errorf("--steps: %w", err))
		}
	case cfg.Deploy.Rollout != nil && cfg.Deploy.Rollout.Plan != nil:
		plan = cfg.Deploy.Rollout.Plan
	case o.Gradual:
		plan, _ = rollout.NewPlan(rollout.DefaultSteps, nil, "guard deploy --gradual")
	}
	major, err := d.majorRolloutPlan(ctx, commits, base, head)
	if err != nil || major == nil {
		return plan, err
	}
	if len(o.Steps) > 0 {
		return nil, fail.Usage(fmt.Errorf("--steps: the rollout plan %s of the major change being deployed sets this deploy's steps (%s)", major.Source, major.Describe()),
			"deploy without --steps; change the plan's front matter through a pull request")
	}
	d.voice.Say("the rollout plan %s of the major change being deployed applies: %s", major.Source, major.Describe())
	return major, nil
}

// majorRolloutPlan is the executable rollout plan of a major change among
// the deployed commits: a plan under [categories] rollout_dir added or
// changed between base and head whose front matter sets steps or hold.
// Several such plans: the one with the most steps, with a warning.
func (d *deployer) majorRolloutPlan(ctx context.Context, commits []CommitCategory, base, head string) (*rollout.Plan, error) {
	if base == "" || base == head {
		return nil, nil
	}
	major := false
	for _, c := range commits {
		major = major || c.Category == policy.Major
	}
	if !major {
		return nil, nil
	}
	dir := strings.TrimSuffix(path.Clean(d.cfg.Categories.RolloutDir), "/")
	changes, err := d.repo.DiffTrees(ctx, base, head, dir+"/")
	if err != nil {
		return nil, fail.External(fmt.Errorf("listing the rollout plans changed since %s: %w", gitx.ShortHash(base), err))
	}
	var plans []*rollout.Plan
	for _, fc := range changes {
		if fc.Kind == 'D' || !strings.HasSuffix(fc.Path, ".md") {
			continue
		}
		data, ok, err := d.repo.Blob(ctx, head, fc.Path)
		if err != nil {
			return nil, fail.External(err)
		}
		if !ok {
			continue
		}
		p, err := rollout.ParseFrontMatter(fc.Path, data)
		if err != nil {
			return nil, fail.Usage(fmt.Errorf("the rollout plan of the major change being deployed: %w", err),
				"fix its front matter through a pull request (guard check --pr checks it)")
		}
		if p != nil {
			plans = append(plans, p)
		}
	}
	if len(plans) == 0 {
		return nil, nil
	}
	sort.SliceStable(plans, func(i, j int) bool { return len(plans[i].Steps) > len(plans[j].Steps) })
	for _, p := range plans[1:] {
		d.voice.Warn("the rollout plan %s also carries steps; %s, the more gradual, applies", p.Source, plans[0].Source)
	}
	return plans[0], nil
}

// startRollout checks that the worker can be deployed gradually and
// returns the rollout's initial state: the version serving 100 % now is
// the one the new version shares traffic with. A worker that was never
// deployed has no users to protect and no version to share with: its
// first deploy is a plain one (nil state, with a note). deps are the
// worker's deployments, newest first, as listed moments before (readServed).
func (d *deployer) startRollout(plan *rollout.Plan, deps []cfapi.Deployment) (*rollout.State, error) {
	if len(deps) == 0 {
		d.voice.Say("%s has never been deployed: nothing serves users yet, so this first deploy goes out whole; later deploys follow the plan (%s)", d.t.Worker, plan.Describe())
		return nil, nil
	}
	cur := deps[0]
	if len(cur.Versions) != 1 || cur.Versions[0].Percentage != 100 {
		return nil, fail.Refused(fmt.Errorf("%s serves a split deployment (%s): a gradual deploy starts from one version at 100%%", d.t.Worker, describeSplit(cur.Versions)),
			"finish the rollout in progress first: guard deploy --resume, or guard deploy --abort (guard history shows its steps)")
	}
	d.voice.Say("gradual deploy of %s (%s, from %s), from version %s", d.t.Worker, plan.Describe(), plan.Source, cur.Versions[0].VersionID)
	if len(d.cfg.Deploy.Verify) == 0 && len(d.cfg.Deploy.Health) == 0 {
		d.voice.Warn("no verify commands and no [[deploy.health]] checks are configured: every step passes unchecked, so the 0%% step proves nothing")
	}
	return rollout.NewState(plan, cur.Versions[0].VersionID, cur.ID), nil
}

func describeSplit(vs []cfapi.DeploymentVersion) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("version %s at %s%%", v.VersionID, rollout.FormatPercent(v.Percentage))
	}
	return strings.Join(parts, ", ")
}

// gradual uploads the new version from the build b and runs the rollout;
// the pending record (carrying the rollout's initial state) is written.
func (d *deployer) gradual(ctx context.Context, runner *wrangler.Runner, api *cfapi.Client, pending ledger.Record, b *Build) error {
	t, st := d.t, d.rollout
	d.res.Timing.Before = time.Since(d.start)
	wstart := time.Now()
	// `versions upload` cannot write esbuild's metafile: the bundle is
	// built once without uploading (--dry-run, no API call) and its inputs
	// checked, then the uploaded bundle must be that one, byte for byte.
	checked, err := d.checkedBundle(ctx, runner, b)
	if err != nil {
		d.res.Timing.Wrangler = time.Since(wstart)
		return d.uploadFailed(ctx, pending, err, "nothing was uploaded or deployed")
	}
	d.voice.Say("uploading %s from %s without traffic: %s", t.Worker, gitx.ShortHash(d.res.Commit), d.res.Message)
	uploadDir := b.OutDir + "-upload"
	up, err := runner.VersionsUpload(ctx, wrangler.DeployArgs{
		Config: b.Config, Env: t.Env, Message: d.res.Message, Tag: Tag(d.res.Commit), Extra: d.o.ExtraArgs,
		OutDir: uploadDir,
	})
	d.res.Timing.Wrangler = time.Since(wstart)
	var bundle *pristine.Bundle
	if err == nil {
		bundle, err = pristine.ReadBundle(uploadDir, "", filepath.Dir(b.Config), nil)
		if diff := bundleDiff(checked, bundle); err == nil && diff != "" {
			err = fmt.Errorf("the bundle wrangler uploaded (SHA-256 %s) is not the one guard checked: %s differ", bundle.SHA256, diff)
		}
		if err != nil {
			err = fmt.Errorf("version %s was uploaded but is not deployed: %w", up.VersionID, err)
		}
	}
	if bundle != nil {
		pending.BundleSHA256, pending.Bundle = bundle.SHA256, bundle.Files
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // pending, phase uploaded: --abort closes it
		}
		return d.uploadFailed(ctx, pending, err, "nothing was deployed")
	}
	if up.WorkerName != "" && up.WorkerName != t.Worker {
		d.voice.Warn("wrangler uploaded worker %q, guard expected %q", up.WorkerName, t.Worker)
	}
	st.NewVersion, st.Phase = up.VersionID, rollout.PhaseUploaded
	d.res.VersionID = up.VersionID
	drv := &rolloutDriver{d: d, runner: runner, api: api, pending: pending, serving: st.OldDeployment, config: b.Config}
	if err := drv.Save(st); err != nil {
		return fail.External(err)
	}
	d.voice.Say("uploaded version %s; it serves no traffic yet", up.VersionID)
	return d.runRollout(ctx, drv, st)
}

// bundleDiff names the files of two bundles that differ, "" when they
// are the same code. Source maps are left out: they name the output
// folder, which differs between the checked build and the upload.
func bundleDiff(checked, uploaded *pristine.Bundle) string {
	if checked == nil || uploaded == nil {
		return ""
	}
	var diff []string
	for name, sum := range checked.Files {
		if uploaded.Files[name] != sum && !strings.HasSuffix(name, ".map") {
			diff = append(diff, name)
		}
	}
	for name := range uploaded.Files {
		if _, ok := checked.Files[name]; !ok && !strings.HasSuffix(name, ".map") {
			diff = append(diff, name)
		}
	}
	sort.Strings(diff)
	return strings.Join(limitList(diff, 10), ", ")
}

// checkedBundle builds the bundle without uploading it and checks that
// esbuild read nothing outside the commit and its locked dependencies.
func (d *deployer) checkedBundle(ctx context.Context, runner *wrangler.Runner, b *Build) (*pristine.Bundle, error) {
	err := runner.DryRunBundle(ctx, wrangler.BundleArgs{Config: b.Config, Env: d.t.Env, OutDir: b.OutDir, Metafile: b.Metafile, Extra: d.o.ExtraArgs})
	if err != nil {
		return nil, err
	}
	bundle := d.readBundle(b)
	if bundle != nil && len(bundle.Outside) > 0 {
		return nil, fail.Refused(fmt.Errorf("the bundle read %d file(s) from outside commit %s and its locked dependencies: %s",
			len(bundle.Outside), gitx.ShortHash(d.res.Commit), strings.Join(limitList(bundle.Outside, 10), ", ")),
			"build only from the commit: remove what reads files outside it")
	}
	return bundle, nil
}

// uploadFailed records a gradual deploy that ended before any deployment.
func (d *deployer) uploadFailed(ctx context.Context, pending ledger.Record, cause error, what string) error {
	if ctx.Err() != nil {
		return ctx.Err() // pending: --abort closes it
	}
	st := d.rollout
	st.Phase = rollout.PhaseFailed
	rec := ledger.Outcome(pending)
	rec.Status, rec.Error, rec.Rollout = ledger.StatusFailed, Summarize(cause), st.Clone()
	if _, ferr := d.ledger.Append(rec); ferr != nil {
		return fail.External(errors.Join(errors.New(Summarize(cause)), ferr))
	}
	var fe *fail.Error
	if errors.As(cause, &fe) {
		return cause
	}
	return fail.External(errors.New(Summarize(cause)), what)
}

// runRollout runs the engine from st and records how it ended.
func (d *deployer) runRollout(ctx context.Context, drv *rolloutDriver, st *rollout.State) error {
	out, err := rollout.Run(ctx, st, drv)
	var de *rollout.DeployError
	switch {
	case errors.Is(err, rollout.ErrInterrupted):
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), returnTimeout)
		defer cancel()
		// wrangler may have made the next step's deployment before it was
		// stopped: what users saw is what the API serves.
		d.catchUp(rctx, drv, st)
		if drv.lost != nil {
			// Whoever took the lease over may be deploying: going back
			// to the old version could undo their work, so the split
			// stays as it is and the record says where.
			if err := drv.Save(st); err != nil {
				d.voice.Warn("%v", err)
			}
			return fail.Refused(fmt.Errorf("the gradual deploy of version %s stopped at %s: %w", st.NewVersion, st.Where(), drv.lost),
				fmt.Sprintf("once the other deploy is done, finish this one with guard deploy --resume, or go back to version %s with guard deploy --abort", st.OldVersion))
		}
		if d.o.Interrupted != nil && !d.o.Interrupted() {
			if err := drv.Save(st); err != nil {
				d.voice.Warn("%v", err)
			}
			d.voice.Say("the gradual deploy of version %s is left at %s, as the ledger records it", st.NewVersion, st.Where())
			d.voice.Say("hint: finish it with guard deploy --resume, or go back to version %s with guard deploy --abort", st.OldVersion)
			return ctx.Err()
		}
		d.voice.Say("interrupted at %s: back to version %s at 100%%", st.Where(), st.OldVersion)
		if rerr := rollout.Return(rctx, st, drv, rollout.PhaseAborted); rerr != nil {
			return fail.External(fmt.Errorf("interrupted, and %w", rerr),
				"the rollout's record stays pending: guard deploy --abort retries the return, guard deploy --resume goes on")
		}
		if ferr := d.closeRollout(rctx, drv, st, "interrupted by the operator at "+st.Where()); ferr != nil {
			return ferr
		}
		return ctx.Err()
	case errors.As(err, &de):
		cause := fmt.Errorf("%s of %d (%s%%): %w", "step "+strconv.Itoa(de.Step+1), len(st.Steps), rollout.FormatPercent(st.Steps[de.Step]), de.Err)
		if st.Step < 0 {
			// Not even the 0 % step exists: nothing to undo.
			st.Phase = rollout.PhaseFailed
			if ferr := d.closeRollout(ctx, drv, st, "the deployment failed: "+Summarize(cause)); ferr != nil {
				return ferr
			}
			return fail.External(errors.New(Summarize(cause)), "no deployment names the new version; fix the cause and deploy again")
		}
		d.voice.Say("the deployment of the next step failed: back to version %s at 100%%", st.OldVersion)
		if rerr := rollout.Return(ctx, st, drv, rollout.PhaseFailed); rerr != nil {
			return fail.External(errors.Join(errors.New(Summarize(cause)), rerr),
				"the rollout's record stays pending: guard deploy --abort retries the return once the cause is fixed")
		}
		if ferr := d.closeRollout(ctx, drv, st, "stopped at "+st.Where()+": "+Summarize(cause)); ferr != nil {
			return ferr
		}
		return fail.External(errors.New(Summarize(cause)), fmt.Sprintf("version %s serves 100%% again", st.OldVersion))
	case err != nil:
		return fail.External(err, "the rollout's record stays pending at "+st.Where()+": guard deploy --resume or --abort")
	}
	if out.Completed {
		return d.closeRollout(ctx, drv, st, "")
	}
	// A step failed its checks: the engine went back to the old version.
	failed := fmt.Sprintf("step %d of %d (%s%%)", out.FailedStep+1, len(st.Steps), rollout.FormatPercent(st.Steps[out.FailedStep]))
	if err := d.closeRollout(ctx, drv, st, "failed its checks at "+failed+": "+strings.Join(drv.failures, "; ")); err != nil {
		return err
	}
	summary := fmt.Errorf("version %s of %s failed its checks at %s; version %s serves 100%% again", st.NewVersion, d.t.Worker, failed, st.OldVersion)
	if st.MaxPercent() == 0 {
		return fail.Refused(summary, "no user request reached the new version (it never had traffic): no emergency change; fix it and deploy again")
	}
	return fail.Refused(summary, fmt.Sprintf("users saw the new version (up to %s%%): complete the emergency-change record %s within 24 hours", rollout.FormatPercent(st.MaxPercent()), d.res.Final.RecordFile))
}

// catchUp brings st up to the deployment the API shows serving (a step
// whose deployment exists but was not recorded). Failures are warnings:
// the state as recorded stands.
func (d *deployer) catchUp(ctx context.Context, drv *rolloutDriver, st *rollout.State) {
	deps, err := drv.api.Deployments(ctx, d.t.Worker)
	if err != nil || len(deps) == 0 {
		d.voice.Warn("what %s serves could not be read (%v): going by the rollout's record", d.t.Worker, err)
		return
	}
	if err := rollout.Locate(st, served(deps[0]), time.Now().UTC()); err != nil {
		d.voice.Warn("%v", err)
		return
	}
	drv.serving = deps[0].ID
}

// served is a deployment as the rollout engine reads it.
func served(dep cfapi.Deployment) rollout.Served {
	out := rollout.Served{ID: dep.ID}
	for _, v := range dep.Versions {
		out.Shares = append(out.Shares, rollout.Share{VersionID: v.VersionID, Percent: v.Percentage})
	}
	return out
}

// closeRollout writes the rollout's final record: succeeded when it
// completed, failed (with why) otherwise, with the emergency-change record
// when users saw the new version before the old one took everything back.
func (d *deployer) closeRollout(ctx context.Context, drv *rolloutDriver, st *rollout.State, why string) error {
	rec := ledger.Outcome(drv.pending)
	rec.VersionID, rec.Rollout = st.NewVersion, st.Clone()
	if d.res.TeamLock.State != "" {
		// --resume/--abort took the lease anew: the outcome says how.
		rec.TeamLock, rec.BrokeLock = d.res.TeamLock.State, d.res.TeamLock.Broke
	}
	completed := st.Phase == rollout.PhaseCompleted
	switch {
	case completed:
		rec.Status = ledger.StatusSucceeded
		rec.DeploymentID = st.Deployments[len(st.Deployments)-1].DeploymentID
		rec.Verified = ledger.VerifiedUnverified
		if drv.checked {
			rec.Verified = ledger.VerifiedGood
		}
	default:
		rec.Status, rec.Error = ledger.StatusFailed, why
		if st.Return != nil {
			rec.DeploymentID = st.Return.DeploymentID
		}
		if st.FailedStep != nil {
			rec.Verified = ledger.VerifiedBad
		}
		// The emergency-change record belongs to whoever went back: here
		// only when this run made the return deployment (after a guard
		// rollback during the split, that rollback wrote it).
		if st.MaxPercent() > 0 && st.Return != nil && drv.returned {
			rec.RecordFile = d.rolloutRecord(ctx, drv, st, why)
		}
	}
	written, err := d.ledger.Append(rec)
	if err != nil {
		return fail.External(fmt.Errorf("the gradual deploy of version %s ended (%s) but could not be recorded: %w", st.NewVersion, st.Phase, err))
	}
	d.res.Final, d.res.Rollout = written, st
	d.res.DeploymentID, d.res.Verified = written.DeploymentID, written.Verified
	if err := ledger.Share(ctx, d.repo, d.cfg.Remote, d.cfg.Deploy.FetchTimeout.Duration, written, d.sign); err != nil {
		d.voice.Warn("%v", err)
	}
	if completed {
		d.voice.Say("deployed %s version %s gradually (%d steps), deployment %s serves it at 100%%, verified %s", d.t.Worker, st.NewVersion, len(st.Steps), rec.DeploymentID, rec.Verified)
	} else if st.MaxPercent() == 0 {
		d.voice.Say("rollout of version %s stopped before any user request reached it: recorded, no emergency change", st.NewVersion)
	} else if rec.RecordFile != "" {
		d.voice.Say("emergency-change record: %s (users saw the new version at up to %s%%; document it within 24 hours)", rec.RecordFile, rollout.FormatPercent(st.MaxPercent()))
	}
	return nil
}

// rolloutRecord writes the emergency-change record of a rollout that went
// back after users saw the new version: a rollback, as far as the policy
// is concerned. It returns its path, "" (with a warning) when it failed.
func (d *deployer) rolloutRecord(ctx context.Context, drv *rolloutDriver, st *rollout.State, why string) string {
	now := time.Now()
	rec := records.NewRollback(now)
	rec.Worker, rec.Env = d.t.Worker, d.t.Env
	rec.FromVersion, rec.ToVersion = st.NewVersion, st.OldVersion
	rec.FromCommit = drv.pending.Commit
	if v, err := drv.api.Version(ctx, d.t.Worker, st.OldVersion); err == nil && v != nil {
		rec.ToCommit = v.Tag
	}
	rec.DeploymentID = st.Return.DeploymentID
	rec.Operator = drv.pending.Operator
	rec.Reason = "guard deploy (gradual): version " + st.NewVersion + " " + why
	var events []records.Event
	for _, s := range st.Deployments {
		verdict := "checks " + s.Verified
		if s.Verified == "" {
			verdict = "not judged"
		}
		events = append(events, records.Event{Time: s.Time, Text: fmt.Sprintf("step %d of %d: version %s at %s%% (deployment %s); %s",
			s.Step+1, len(st.Steps), st.NewVersion, rollout.FormatPercent(s.Percent), s.DeploymentID, verdict)})
	}
	events = append(events, records.Event{Time: st.Return.Time, Text: fmt.Sprintf("guard deploy returned to version %s at 100%% (deployment %s)", st.OldVersion, st.Return.DeploymentID)})
	if _, err := records.Create(d.repo.Root, d.cfg.Rollback.RecordsDir, rec, events); err != nil {
		d.voice.Warn("the emergency-change record was not written: %v", err)
		return ""
	}
	return rec.Path
}

// rolloutDriver is the rollout engine's access to wrangler, the API, the
// checks and the ledger.
type rolloutDriver struct {
	d       *deployer
	runner  *wrangler.Runner
	api     *cfapi.Client
	pending ledger.Record
	// serving is the deployment that serves now: a new one must differ.
	serving string
	// checked is set once a step ran at least one check.
	checked bool
	// failures are the failed checks of the last verification.
	failures []string
	// config is the wrangler configuration passed with --config.
	config string
	// returned is set once this run made the deployment that gave the
	// old version 100 % back.
	returned bool
	// lost is set when a hold found the team lease taken over.
	lost error
	// versionsDeploy is runner.VersionsDeploy; the step benchmark puts
	// the same API call in its place to time guard's own work alone.
	versionsDeploy func(context.Context, wrangler.VersionsDeployArgs) (string, error)
}

func (r *rolloutDriver) Deploy(ctx context.Context, shares []rollout.Share, label string) (string, error) {
	d := r.d
	// The subject and guard's marker stay last, where guard rollback's
	// plan looks for them.
	message := label + ": " + d.res.Message
	ws := make([]wrangler.Share, len(shares))
	for i, s := range shares {
		ws[i] = wrangler.Share{VersionID: s.VersionID, Percent: s.Percent}
	}
	wstart := time.Now()
	run := r.versionsDeploy
	if run == nil {
		run = r.runner.VersionsDeploy
	}
	id, werr := run(ctx, wrangler.VersionsDeployArgs{Config: r.config, Env: d.t.Env, Shares: ws, Message: message})
	d.res.Timing.Wrangler += time.Since(wstart)
	if werr != nil && ctx.Err() != nil {
		return "", werr
	}
	// Ask the API in every case: it is what serves, whatever wrangler said.
	deps, aerr := r.api.Deployments(ctx, d.t.Worker)
	if aerr != nil {
		if werr != nil {
			return "", werr
		}
		return "", fmt.Errorf("wrangler made deployment %s, but the Cloudflare API could not confirm it: %w", id, aerr)
	}
	if len(deps) > 0 && deps[0].ID != r.serving && sameSplit(deps[0].Versions, shares) {
		if werr != nil {
			d.voice.Warn("wrangler reported a failure, but the API shows deployment %s serving %s: the step took effect", deps[0].ID, describeSplit(deps[0].Versions))
		} else if id != "" && id != deps[0].ID {
			d.voice.Warn("wrangler reported deployment %s, the API's newest is %s with the same split", id, deps[0].ID)
		}
		r.serving = deps[0].ID
		r.returned = r.returned || (len(shares) == 1 && shares[0].VersionID == d.rollout.OldVersion)
		return deps[0].ID, nil
	}
	if werr != nil {
		return "", errors.New(Summarize(werr))
	}
	now := "no deployment"
	if len(deps) > 0 {
		now = fmt.Sprintf("deployment %s (%s)", deps[0].ID, describeSplit(deps[0].Versions))
	}
	return "", fmt.Errorf("wrangler reported success, but the newest deployment of %s is %s", d.t.Worker, now)
}

// sameSplit reports whether a deployment's versions are exactly shares.
func sameSplit(vs []cfapi.DeploymentVersion, shares []rollout.Share) bool {
	if len(vs) != len(shares) {
		return false
	}
	for _, s := range shares {
		found := false
		for _, v := range vs {
			found = found || (v.VersionID == s.VersionID && v.Percentage == s.Percent)
		}
		if !found {
			return false
		}
	}
	return true
}

func (r *rolloutDriver) Verify(ctx context.Context, c rollout.Check) (bool, error) {
	d := r.d
	st := d.rollout
	when := ""
	if c.AfterHold {
		when = ", after its hold"
	}
	d.voice.Say("verifying step %d of %d (%s%%)%s with the health checks pinned to version %s", c.Step+1, c.Of, rollout.FormatPercent(c.Percent), when, st.NewVersion)
	d.res.DeploymentID = r.serving
	v := d.verifier(
		"GUARD_STEP="+strconv.Itoa(c.Step+1),
		"GUARD_STEPS="+strconv.Itoa(c.Of),
		"GUARD_PERCENT="+rollout.FormatPercent(c.Percent),
	)
	v.Header = http.Header{VersionOverridesHeader: {fmt.Sprintf("%s=%q", d.t.Worker, st.NewVersion)}}
	ver, err := v.Run(ctx)
	if err != nil {
		return false, err
	}
	d.res.Verification = ver
	r.failures = nil
	for _, ch := range ver.Checks {
		if !ch.OK {
			r.failures = append(r.failures, ch.Name+": "+ch.Detail)
			d.voice.Say("verify failed: %s: %s", ch.Name, ch.Detail)
		}
	}
	r.checked = r.checked || len(ver.Checks) > 0
	return ver.Verified != ledger.VerifiedBad, nil
}

// Save appends the rollout's state as a pending record completing the
// deploy's pending one: the newest is what a crash leaves.
func (r *rolloutDriver) Save(st *rollout.State) error {
	rec := ledger.Outcome(r.pending)
	rec.Status, rec.VersionID, rec.Rollout = ledger.StatusPending, st.NewVersion, st.Clone()
	if n := len(st.Deployments); n > 0 {
		rec.DeploymentID = st.Deployments[n-1].DeploymentID
	}
	if _, err := r.d.ledger.Append(rec); err != nil {
		return fmt.Errorf("recording the rollout's %s: %w", st.Where(), err)
	}
	return nil
}

// Sleep waits a hold in pieces, renewing the team lease between them, so
// a rollout that holds longer than team_lock_ttl keeps its lease. A lease
// lost meanwhile ends the wait (lost is set): the rollout stops where it
// is and touches production no more.
func (r *rolloutDriver) Sleep(ctx context.Context, d time.Duration) error {
	sleep := r.d.o.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	every := r.d.team.RenewEvery()
	for d > 0 {
		piece := d
		if every > 0 && piece > every {
			piece = every
		}
		if err := sleep(ctx, piece); err != nil {
			return err
		}
		d -= piece
		if err := r.d.team.Renew(ctx, r.d.voice); err != nil {
			r.lost = err
			return err
		}
	}
	return nil
}

func (r *rolloutDriver) Now() time.Time { return time.Now().UTC() }

func (r *rolloutDriver) Say(format string, args ...any) { r.d.voice.Say(format, args...) }

// Finish completes a gradual deploy that stopped (a crash, or an interrupt
// answered "leave it"): with abort false it checks the step production is
// at again and goes on (--resume); with abort it gives the old version
// 100 % back (--abort). What serves is read from the API first, and a
// deployment the rollout did not make stops a resume (an abort then only
// closes the record).
func Finish(ctx context.Context, o Options, abort bool) (*Result, error) {
	d := newDeployer(o)
	err := d.finish(ctx, abort)
	return d.res, err
}

func (d *deployer) finish(ctx context.Context, abort bool) error {
	o, repo := d.o, d.repo
	flag := "--resume"
	if abort {
		flag = "--abort"
	}
	if o.Token == "" {
		return TokenMissing()
	}
	t, err := ResolveTarget(repo.Root, d.cfg, o.WranglerConfig, o.Env, o.AccountID)
	if err != nil {
		return err
	}
	d.t = t
	d.res.Worker, d.res.Account, d.res.WranglerConfig = t.Worker, t.Account, t.ConfigPath
	wcmd, err := wrangler.Locate(repo.Root, d.cfg.Deploy.Wrangler)
	if err != nil {
		return fail.Usage(err, "fix [deploy] wrangler in guard.toml")
	}
	lock, err := LockWorker(repo, t.Worker, "a deploy of this worker is running; wait for it")
	if err != nil {
		return err
	}
	defer lock.Release()
	// The team lease too: a crashed rollout's lease is taken over on the
	// machine where it died, an expired one with --break-lock.
	team, teamState, err := LockTeam(ctx, repo, d.cfg, t.Worker, o.BreakLock, d.voice)
	if err != nil {
		return err
	}
	defer team.Release(d.voice)
	d.res.TeamLock, d.team = teamState, team
	d.ledger = ledger.Open(ledger.DefaultPath(repo))
	if d.sign, err = ledger.SignerFor(ctx, repo, d.cfg.Ledger.Signing); err != nil {
		return err
	}
	last, err := unfinishedRollout(d.ledger, t.Worker, t.Account)
	if err != nil {
		return fail.External(err)
	}
	if last == nil {
		return fail.Usage(fmt.Errorf("guard deploy %s: no unfinished gradual deploy of %s in this clone's ledger", flag, t.Worker),
			"guard history shows the worker's deployments; a gradual deploy is resumed from the clone that started it")
	}
	pending := *last
	pending.Seq = last.Ref // Outcome(pending) must complete the original pending record
	st := last.Rollout.Clone()
	d.rollout = st
	d.res.Commit, d.res.Tree, d.res.VersionID, d.res.Categories = last.Commit, last.Tree, st.NewVersion, last.Categories
	api := cfapi.New(o.Token, t.Account, o.APIOptions...)
	if st.NewVersion != "" {
		// The steps' deployments carry the uploaded version's message, with
		// guard's annotation, as before the interruption (guard rollback
		// trusts only annotated deployments).
		if v, err := api.Version(ctx, t.Worker, st.NewVersion); err == nil {
			d.res.Message = v.Message
		}
	}
	runner := wrangler.ForAccount(wcmd, repo.Root, o.Token, t.Account, o.Stdout, d.stderr)
	drv := &rolloutDriver{d: d, runner: runner, api: api, pending: pending, config: t.ConfigPath}
	d.voice.Say("gradual deploy of %s version %s (ledger record %d) stopped at %s", t.Worker, st.Version(), last.Ref, st.Where())

	if st.NewVersion == "" {
		st.Phase = rollout.PhaseAborted
		if err := d.closeRollout(ctx, drv, st, "stopped during its upload; closed by guard deploy "+flag); err != nil {
			return err
		}
		if abort {
			return nil
		}
		return fail.Refused(errors.New("the upload did not finish, so there is nothing to resume; the record is closed"), "deploy again with guard deploy")
	}
	deps, err := api.Deployments(ctx, t.Worker)
	if err != nil || len(deps) == 0 {
		if err == nil {
			err = errors.New("the API lists no deployment")
		}
		return fail.External(fmt.Errorf("reading what %s serves: %w", t.Worker, err), "the rollout's record stays pending; try again once the API answers")
	}
	drv.serving = deps[0].ID
	if lerr := rollout.Locate(st, served(deps[0]), time.Now().UTC()); lerr != nil {
		if !abort {
			return fail.Refused(fmt.Errorf("not resuming: %w", lerr),
				"someone deployed in between: look at guard history; guard deploy --abort closes this rollout's record without deploying")
		}
		d.voice.Warn("%v: nothing is deployed, the rollout's record is closed", lerr)
		st.Phase = rollout.PhaseAborted
		return d.closeRollout(ctx, drv, st, "closed by guard deploy --abort; production had moved on: "+lerr.Error())
	}
	if abort {
		if err := rollout.Return(ctx, st, drv, rollout.PhaseAborted); err != nil {
			return fail.External(err, "the rollout's record stays pending; guard deploy --abort again once the cause is fixed")
		}
		return d.closeRollout(ctx, drv, st, "aborted by the operator (guard deploy --abort) at "+st.Where())
	}
	if st.Return != nil {
		return fail.Refused(fmt.Errorf("version %s serves 100%% again (deployment %s): there is nothing to resume", st.OldVersion, st.Return.DeploymentID),
			"guard deploy --abort closes the rollout's record")
	}
	if _, err := runner.CheckVersion(ctx); err != nil {
		return fail.External(err, "install wrangler (npm install --save-dev wrangler), or set [deploy] wrangler in guard.toml")
	}
	d.voice.Say("resuming at %s", st.Where())
	return d.runRollout(ctx, drv, st)
}

// unfinishedRollout is the newest record of an unfinished gradual deploy of
// the worker: pending, with a rollout state.
func unfinishedRollout(l *ledger.Ledger, worker, account string) (*ledger.Record, error) {
	recs, err := l.Records()
	if err != nil {
		return nil, err
	}
	var mine []ledger.Record
	for _, r := range recs {
		if r.Worker == worker && (account == "" || r.Account == "" || r.Account == account) {
			mine = append(mine, r)
		}
	}
	var best *ledger.Record
	for key, r := range ledger.Latest(mine) {
		if r.Status != ledger.StatusPending || r.Rollout == nil || r.Kind != ledger.KindDeploy {
			continue
		}
		r := r
		if r.Ref == 0 {
			r.Ref = key // the pending record itself: it completes itself
		}
		if best == nil || r.Ref > best.Ref {
			best = &r
		}
	}
	return best, nil
}
