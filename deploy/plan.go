package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/internal/wrangler"
	"github.com/guardcm/guard/ledger"
	"github.com/guardcm/guard/rollout"
	"github.com/guardcm/guard/wranglercfg"
)

// Plan is what a deploy would do, computed the way Run computes it but
// without wrangler, the lock or the ledger, and with the Cloudflare API
// only read (what serves), when there is a token: `guard deploy --dry-run`.
type Plan struct {
	Worker, Env, Account string
	// WranglerConfig is relative to the repository root.
	WranglerConfig string
	Commit         string
	// Divergences are why the deploy would be refused (empty: it would go).
	Divergences []Divergence
	Untracked   []string
	// Since is the commit Cloudflare serves (the base of what the deploy
	// checks and records), "" for every commit reachable; SinceWhy says
	// which; Commits counts what ships since.
	Since      string
	SinceWhy   string
	Commits    int
	Categories []string
	Message    string
	D1         []wranglercfg.D1Database
	// Wrangler is the command line guard would run; with isolation
	// "pristine", in a temporary checkout of Commit, its configuration
	// path relative to that checkout.
	Wrangler  []string
	Isolation string
	Build     string // [deploy] build
	// Records are emergency-change records in progress, set aside.
	Records []string
	// Rollout is the gradual deploy's plan (nil: all at once).
	Rollout *rollout.Plan
}

// DryRun computes the Plan of o. It fetches the remote branch (unless
// NoFetch) like a deploy, so the comparison is the one a deploy would make.
// A divergent tree is not an error here: the plan lists it, and Write says
// the deploy would be refused.
func DryRun(ctx context.Context, o Options) (*Plan, error) {
	d := &deployer{o: o, repo: o.Repo, cfg: o.Config, stderr: o.Stderr, res: &Result{Env: o.Env}}
	if d.stderr == nil {
		d.stderr = io.Discard
	}
	d.voice = report.Voice{W: d.stderr, Warnings: &d.res.Warnings}
	if err := CheckExtraArgs(o.ExtraArgs); err != nil {
		return nil, fail.Usage(err)
	}
	pristineMode := o.Config.Deploy.Isolation != config.IsolationCheckout
	head, err := o.Repo.GitLine(ctx, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
	if err != nil || head == "" {
		return nil, fail.Usage(errors.New("HEAD does not name a commit (nothing committed yet?)"))
	}
	var t *Target
	if pristineMode {
		t, err = ResolveTargetAt(ctx, o.Repo, head, o.Config, o.WranglerConfig, o.Env, o.AccountID)
	} else {
		t, err = ResolveTarget(o.Repo.Root, o.Config, o.WranglerConfig, o.Env, o.AccountID)
	}
	if err != nil {
		return nil, err
	}
	d.t = t
	d1s, err := d.d1Databases()
	if err != nil {
		return nil, err
	}
	wcmd, err := wrangler.Locate(o.Repo.Root, o.Config.Deploy.Wrangler)
	if err != nil {
		return nil, fail.Usage(err, "fix [deploy] wrangler in guard.toml")
	}
	if !o.NoFetch {
		if err := d.fetch(ctx); err != nil {
			return nil, err
		}
	}
	st, err := CheckTree(ctx, o.Repo, o.Config.RemoteBranchRef(), o.Config.Remote+"/"+o.Config.Branch, o.AllowUntracked)
	if err != nil {
		return nil, fail.External(err)
	}
	var records []string
	st.Divergences, records = SetAsideRecords(st.Divergences, o.Config.Rollback.RecordsDir)
	if !pristineMode && len(st.Divergences) == 0 {
		ignored, err := IgnoredInProject(ctx, o.Repo, filepath.Dir(t.ConfigPath))
		if err != nil {
			return nil, fail.External(err)
		}
		st.Divergences = append(st.Divergences, ignored...)
	}
	rel, _ := filepath.Rel(o.Repo.Root, t.ConfigPath)
	p := &Plan{Worker: t.Worker, Env: t.Env, Account: t.Account, WranglerConfig: filepath.ToSlash(rel),
		Commit: st.Head, Divergences: st.Divergences, Untracked: st.Untracked, D1: d1s,
		Isolation: o.Config.Deploy.Isolation, Build: o.Config.Deploy.Build, Records: records}
	d.ledger = ledger.Open(ledger.DefaultPath(o.Repo))
	// What serves decides what ships, as in a deploy: asked (reading only)
	// when there is a token, and only when the deploy would not be refused
	// anyway (nothing leaves the machine for a divergent tree).
	var served *servedAnswer
	switch {
	case o.Token == "":
		served = &servedAnswer{notAsked: "CLOUDFLARE_API_TOKEN is not set"}
	case len(st.Divergences) > 0:
		served = &servedAnswer{notAsked: "the deploy would be refused"}
	default:
		served = <-d.readServed(ctx, cfapi.New(o.Token, t.Account, o.APIOptions...))
	}
	if p.Since, p.SinceWhy, err = d.sinceLastDeploy(ctx, st.Head, served); err != nil {
		return nil, err
	}
	commits, err := CommitCategories(ctx, o.Repo, p.Since, st.Head)
	if err != nil {
		return nil, fail.External(err)
	}
	p.Commits = len(commits)
	if p.Rollout, err = d.rolloutPlan(ctx, commits, p.Since, st.Head); err != nil {
		return nil, err
	}
	var highest string
	p.Categories, highest = Categories(commits)
	subject, err := o.Repo.GitLine(ctx, "log", "-1", "--format=%s", st.Head)
	if err != nil {
		return nil, fail.External(err)
	}
	p.Message = Message(subject, st.Head, highest)
	args := wrangler.DeployArgs{Config: p.WranglerConfig, Env: t.Env, Message: p.Message, Tag: Tag(st.Head), Extra: o.ExtraArgs,
		OutDir: "<bundle-dir>"}
	if pristineMode {
		args.Metafile = "<bundle-dir>/meta.json"
	} else {
		args.Config = t.ConfigPath
	}
	p.Wrangler = append(append([]string{}, wcmd...), args.Argv()...)
	return p, nil
}

// Write prints the plan for a person.
func (p *Plan) Write(w io.Writer) {
	env := "top level"
	if p.Env != "" {
		env = "env " + p.Env
	}
	fmt.Fprintf(w, "worker:     %s (%s of %s, account %s)\n", p.Worker, env, p.WranglerConfig, p.Account)
	fmt.Fprintf(w, "commit:     %s\n", p.Commit)
	since := p.SinceWhy
	if p.Since != "" {
		since = "since " + gitx.ShortHash(p.Since) + ", " + p.SinceWhy
	}
	fmt.Fprintf(w, "ships:      %d commit(s), %s; categories %s\n", p.Commits, since, orNone(p.Categories))
	fmt.Fprintf(w, "message:    %s\n", p.Message)
	for _, db := range p.D1 {
		fmt.Fprintf(w, "d1:         apply the migrations of %s (binding %s) first, after a Time Travel bookmark\n", db.DatabaseName, db.Binding)
	}
	if len(p.Records) > 0 {
		fmt.Fprintf(w, "records:    %s (emergency-change records in progress: not deployed, not refused)\n", strings.Join(p.Records, ", "))
	}
	if len(p.Untracked) > 0 {
		fmt.Fprintf(w, "untracked:  %s (shipped and recorded)\n", strings.Join(limitList(p.Untracked, 10), ", "))
	}
	where := "in the working directory (isolation = \"checkout\")"
	if p.Isolation != config.IsolationCheckout {
		where = "in a pristine checkout of " + gitx.ShortHash(p.Commit) + ", dependencies installed from its lockfile"
	}
	if p.Build != "" {
		where += ", then " + p.Build
	}
	fmt.Fprintf(w, "build:      %s\n", where)
	if p.Rollout != nil {
		var steps []string
		for _, st := range p.Rollout.Steps {
			steps = append(steps, strconv.FormatFloat(st, 'f', -1, 64)+"%")
		}
		fmt.Fprintf(w, "gradual:    wrangler versions upload, then versions deploy at %s (%s)\n", strings.Join(steps, ", "), p.Rollout.Source)
	} else {
		fmt.Fprintf(w, "would run:  %s\n", wrangler.QuoteCommand(p.Wrangler))
	}
	for _, dv := range p.Divergences {
		fmt.Fprintf(w, "refused:    %s\n", dv)
	}
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// SetAsideRecords removes from divs the emergency-change records being
// written or completed (new or modified Markdown directly in recordsDir):
// an incident's paperwork must never block the deploy that ends it, and
// the records are not part of what wrangler ships. It returns them apart,
// for a note.
func SetAsideRecords(divs []Divergence, recordsDir string) (kept []Divergence, records []string) {
	dir := strings.TrimSuffix(recordsDir, "/")
	for _, dv := range divs {
		if dir != "" && path.Dir(dv.Path) == dir && strings.HasSuffix(dv.Path, ".md") &&
			(dv.Reason == ReasonUntracked || dv.Reason == ReasonModified || dv.Reason == ReasonStaged) {
			records = append(records, dv.Path)
			continue
		}
		kept = append(kept, dv)
	}
	return kept, records
}
