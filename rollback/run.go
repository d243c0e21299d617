package rollback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/report"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/guardcm/guard/deploy"
	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/wrangler"
	"github.com/guardcm/guard/ledger"
	"github.com/guardcm/guard/records"
)

// Result is what Execute did.
type Result struct {
	// DeploymentID is the rollback's deployment, as the API confirms it.
	DeploymentID string
	// RecordPath is the emergency-change record relative to the repository
	// root, "" when none was written.
	RecordPath string
	// Final is the outcome ledger record.
	Final ledger.Record
	// Production is what the API says serves now, after a failure.
	Production string
	Warnings   []string
}

type executor struct {
	o      Options
	p      *Plan
	res    *Result
	stderr io.Writer
	led    *ledger.Ledger
	sign   ledger.Signer // nil: shared records are not signed
	voice  report.Voice
}

// Execute carries out a plan; see the package contract. The caller holds
// the worker's deploy lock.
func Execute(ctx context.Context, o Options, p *Plan) (*Result, error) {
	x := &executor{o: o, p: p, res: &Result{}, stderr: o.Stderr}
	if x.stderr == nil {
		x.stderr = io.Discard
	}
	x.voice = report.Voice{W: x.stderr, Warnings: &x.res.Warnings}
	if x.o.Stdout == nil {
		x.o.Stdout = io.Discard
	}
	err := x.run(ctx)
	return x.res, err
}

func (x *executor) run(ctx context.Context) error {
	o, p := x.o, x.p
	repo, cfg := o.Repo, o.Config
	if p.api == nil {
		return fail.External(errors.New("rollback: the plan was not made by Prepare"))
	}
	wcmd, err := wrangler.Locate(repo.Root, cfg.Deploy.Wrangler)
	if err != nil {
		return fail.Usage(err, "fix [deploy] wrangler in guard.toml")
	}
	x.led = ledger.Open(ledger.DefaultPath(repo))
	if x.sign, err = ledger.SignerFor(ctx, repo, cfg.Ledger.Signing); err != nil {
		return err
	}
	pending, err := x.led.Append(ledger.Record{
		Kind:            ledger.KindRollback,
		Status:          ledger.StatusPending,
		Worker:          p.Worker,
		Env:             p.Env,
		Account:         p.Account,
		Commit:          p.To.Commit,
		VersionID:       p.To.VersionID,
		FromVersion:     p.From.VersionID,
		FromCommit:      p.From.Commit,
		Reason:          p.Reason,
		Operator:        p.Operator,
		WranglerVersion: installedVersion(wcmd),
	})
	if err != nil {
		return fail.External(err)
	}
	started := o.now()
	events := p.priorEvents()
	events = append(events, records.Event{Time: started, Text: fmt.Sprintf("guard rollback started by %s: %s", orUnknown(p.Operator), orNone(p.Reason))})

	x.voice.Say("rolling back %s from version %s to version %s", p.Worker, p.From.VersionID, p.To.VersionID)
	runner := wrangler.ForAccount(wcmd, repo.Root, o.Token, p.Account, o.Stdout, x.stderr)
	_, werr := runner.Rollback(ctx, wrangler.RollbackArgs{Config: p.WranglerConfig, Env: p.Env, VersionID: p.To.VersionID, Message: p.Message})
	if werr != nil && ctx.Err() != nil {
		return ctx.Err() // the record stays pending: guard history reconciles it
	}
	// Ask the API in every case: after a wrangler failure it tells what
	// production serves; after success it confirms.
	deps, aerr := p.api.Deployments(ctx, p.Worker)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	finished := o.now()
	target := p.To.VersionID
	if werr != nil {
		if aerr == nil && len(deps) > 0 && deps[0].Serves(target) && deps[0].ID != p.From.DeploymentID {
			x.voice.Warn("wrangler reported a failure, but the API shows deployment %s serving version %s at 100%%: the rollback took effect", deps[0].ID, target)
		} else {
			x.res.Production = describe(deps, aerr, p)
			x.voice.Say("wrangler rollback failed; production as the Cloudflare API tells it: %s", x.res.Production)
			short := errors.New(deploy.Summarize(werr))
			if _, err := x.finish(ctx, pending, ledger.StatusFailed, "", "", werr); err != nil {
				return fail.External(errors.Join(short, fmt.Errorf("and the failure could not be recorded: %w", err)))
			}
			return fail.External(fmt.Errorf("rollback of %s to version %s failed: %w", p.Worker, target, short),
				"no emergency-change record was written; after fixing the cause run guard rollback again")
		}
	}
	if aerr != nil {
		// wrangler says it is done; the API cannot say so. The change
		// happened as far as anyone can tell: document it, keep the ledger
		// record pending for guard history to reconcile.
		events = append(events, records.Event{Time: finished, Text: fmt.Sprintf("wrangler rollback to version %s finished; the Cloudflare API could not confirm it: %s", target, oneLine(aerr.Error()))})
		path := x.writeRecord(started, "", events)
		if _, err := x.finish(ctx, pending, ledger.StatusPending, "", path, fmt.Errorf("not confirmed: %w", aerr)); err != nil {
			return fail.External(errors.Join(aerr, err))
		}
		return fail.External(fmt.Errorf("wrangler rolled %s back to version %s but the Cloudflare API could not confirm it: %w", p.Worker, target, aerr),
			"run 'guard history' once the API answers: it reconciles this rollback's record")
	}
	if len(deps) == 0 || !deps[0].Serves(target) {
		x.res.Production = describe(deps, nil, p)
		cause := fmt.Errorf("wrangler reported success, but the newest deployment does not serve version %s at 100%%: %s", target, x.res.Production)
		x.voice.Say("%v", cause)
		if _, err := x.finish(ctx, pending, ledger.StatusFailed, "", "", cause); err != nil {
			return fail.External(errors.Join(cause, err))
		}
		return fail.External(cause, "production: "+x.res.Production, "look at guard history; no emergency-change record was written")
	}
	dep := deps[0]
	x.res.DeploymentID = dep.ID
	events = append(events,
		records.Event{Time: finished, Text: fmt.Sprintf("wrangler rollback to version %s finished", target)},
		records.Event{Time: finished, Text: fmt.Sprintf("the Cloudflare API confirms deployment %s serves version %s at 100%%", dep.ID, target)},
	)
	path := x.writeRecord(started, dep.ID, events)
	final, err := x.finish(ctx, pending, ledger.StatusSucceeded, dep.ID, path, nil)
	if err != nil {
		return fail.External(fmt.Errorf("rolled back to version %s (deployment %s) but could not record it in the ledger: %w", target, dep.ID, err))
	}
	x.res.Final = final
	x.voice.Say("rolled back %s to version %s: deployment %s serves it at 100%%", p.Worker, target, dep.ID)
	if path == "" {
		return fail.External(errors.New("rolled back, but the emergency-change record could not be written (see the warning above)"),
			"write it by hand: the policy requires it within 24 hours")
	}
	x.voice.Say("emergency-change record: %s (document it by %s: replace every TODO)", path, started.UTC().Truncate(time.Second).Add(records.DueAfter).Format(time.RFC3339))
	x.voice.Say("commit it: git add %s && git commit -m %s -m 'Change-Category: %s'", path,
		wrangler.QuoteCommand([]string{"Record the emergency rollback of " + p.Worker}), recordCategory(cfg.Categories.Standard, path))
	return nil
}

// recordCategory is the category a commit of the record alone carries:
// standard when the records folder is documentation by the configuration.
func recordCategory(standard []string, path string) string {
	for _, g := range standard {
		if ok, _ := doublestar.Match(g, path); ok {
			return "standard"
		}
	}
	return "normal"
}

// writeRecord writes the emergency-change record and returns its path
// relative to the repository root, "" (with a warning) when it failed.
func (x *executor) writeRecord(opened time.Time, deploymentID string, events []records.Event) string {
	p := x.p
	rec := records.NewRollback(opened)
	rec.Worker, rec.Env = p.Worker, p.Env
	rec.FromVersion, rec.ToVersion = p.From.VersionID, p.To.VersionID
	rec.FromCommit, rec.ToCommit = p.From.Commit, p.To.Commit
	rec.DeploymentID = deploymentID
	rec.Operator, rec.Reason = p.Operator, p.Reason
	if _, err := records.Create(x.o.Repo.Root, x.o.Config.Rollback.RecordsDir, rec, events); err != nil {
		x.voice.Warn("the emergency-change record was not written: %v", err)
		return ""
	}
	x.res.RecordPath = rec.Path
	return rec.Path
}

// finish appends the outcome of the pending record and shares a final one
// on the target's commit (failures to share are warnings: the local ledger
// has the record).
func (x *executor) finish(ctx context.Context, pending ledger.Record, status, deploymentID, recordFile string, cause error) (ledger.Record, error) {
	rec := ledger.Outcome(pending)
	rec.Status, rec.DeploymentID, rec.RecordFile = status, deploymentID, recordFile
	if cause != nil {
		rec.Error = deploy.Summarize(cause)
	}
	written, err := x.led.Append(rec)
	if err != nil {
		return rec, err
	}
	x.res.Final = written
	if err := ledger.Share(ctx, x.o.Repo, x.o.Config.Remote, x.o.Config.Deploy.FetchTimeout.Duration, written, x.sign); err != nil {
		x.voice.Warn("%v", err)
	}
	return written, nil
}

// describe says what production serves, as far as the API tells.
func describe(deps []cfapi.Deployment, err error, p *Plan) string {
	if err != nil {
		return fmt.Sprintf("unknown: the Cloudflare API could not be read (%s)", oneLine(err.Error()))
	}
	if len(deps) == 0 {
		return "the API lists no deployment of " + p.Worker
	}
	d := deps[0]
	var parts []string
	for _, v := range d.Versions {
		what := ""
		switch v.VersionID {
		case p.From.VersionID:
			what = ", the version being rolled back from"
		case p.To.VersionID:
			what = ", the rollback's target"
		}
		parts = append(parts, fmt.Sprintf("version %s at %g%%%s", v.VersionID, v.Percentage, what))
	}
	s := fmt.Sprintf("deployment %s (%s) serves %s", d.ID, d.CreatedOn.UTC().Format(time.RFC3339), strings.Join(parts, " and "))
	if d.ID == p.From.DeploymentID {
		s += "; unchanged since the plan"
	}
	return s
}

// priorEvents are the timeline entries the history already knows: the
// deployment being rolled back.
func (p *Plan) priorEvents() []records.Event {
	var out []records.Event
	if !p.From.Deployed.IsZero() {
		commit := "unknown commit"
		if p.From.Commit != "" {
			commit = "commit " + gitx.ShortHash(p.From.Commit)
		}
		via := ""
		if p.From.Source != "" {
			via = fmt.Sprintf(" (%s)", p.From.Source)
		}
		out = append(out, records.Event{Time: p.From.Deployed, Text: fmt.Sprintf("version %s (%s) deployed by %s%s as deployment %s; verified %s",
			p.From.VersionID, commit, orUnknown(p.From.DeployedBy), via, p.From.DeploymentID, p.From.Verified)})
	}
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// installedVersion reads the version of the wrangler package behind a
// node_modules/.bin link without running it (`wrangler --version` costs
// most of a second that an incident does not have); "" when unknown.
func installedVersion(cmd []string) string {
	if len(cmd) != 1 {
		return ""
	}
	p, err := filepath.EvalSymlinks(cmd[0])
	if err != nil {
		return ""
	}
	dir := filepath.Dir(p)
	for i := 0; i < 3; i++ {
		data, err := os.ReadFile(filepath.Join(dir, "package.json"))
		if err == nil {
			var pkg struct{ Name, Version string }
			if json.Unmarshal(data, &pkg) == nil && pkg.Name == "wrangler" {
				return pkg.Version
			}
		}
		dir = filepath.Dir(dir)
	}
	return ""
}

// DeployHook returns the rollback guard deploy runs with --rollback-on-fail.
// The deploy holds the worker's lock and has fetched the notes; o carries
// the repository, configuration, token, clock and writers.
func DeployHook(o Options) deploy.RollbackFunc {
	return func(ctx context.Context, req deploy.RollbackRequest) error {
		o := o
		o.Env, o.WranglerConfig, o.AccountID = req.Env, req.WranglerConfig, req.Account
		o.Reason, o.ExpectFrom, o.FetchNotes = req.Reason, req.FromVersion, false
		p, err := Prepare(ctx, o)
		if err != nil {
			return err
		}
		if o.Stdout != nil {
			if err := p.Write(o.Stdout); err != nil {
				return fail.External(err)
			}
		}
		_, err = Execute(ctx, o, p)
		return err
	}
}
