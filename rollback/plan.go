// Package rollback is guard rollback: one command back to the last good
// version of a worker, with the emergency-change record written for the
// operator.
//
// Contract:
//   - Choose (target.go) is pure: from the joined history (history.Entry,
//     newest first) and the worker's versions it picks the newest version
//     older than the serving one that was verified good, skipping versions
//     known bad; with no verification marks at all, the previous distinct
//     version that served 100% (and says so); or the version asked for. It
//     refuses a target beyond Cloudflare's reach (the 100 most recent
//     versions), naming that limit, and a target already serving 100%.
//   - Prepare reads and never writes: the Cloudflare API (deployments and
//     versions, whose workers/tag annotation carries the commit), the
//     team's deploy records from the remote's notes ref (fetched first when
//     asked, bounded by [deploy] fetch_timeout; offline it goes on without
//     them and says so) and this clone's ledger when there is one. The
//     working tree may be dirty; nothing in it is read but the wrangler
//     configuration and guard.toml. The only local change a fetch makes is
//     the notes ref's copy of the remote. History is loaded read-only (no
//     reconciliation), so a dry run writes nothing.
//   - The Plan names the worker, from → to (version IDs, commits, subjects,
//     ages, who deployed) and the D1 migrations added between the target's
//     commit and the serving commit with the migration checker's
//     destructive and rename findings: the old code will run against that
//     newer schema, because D1 is never rolled back. Only the migrations
//     folders of the worker's own wrangler configuration at the serving
//     commit count (its d1_databases' migrations_dir, and guard.toml's
//     [migrations] dir unless another configuration uses it): in a
//     monorepo another worker's migrations do not touch its databases.
//   - Execute (run.go) writes a pending ledger record, runs
//     `wrangler rollback <version> --message <reason, ≤120 chars>`
//     non-interactively, confirms through the API that the newest deployment
//     serves the target at 100%, writes the emergency-change record
//     (records.Create, never overwriting) and the outcome ledger record, and
//     shares it as a git note (a failed push is a warning). When wrangler or
//     the API fails it records the failure, says what production serves as
//     far as the API tells, and returns an External error (exit 3); no
//     record claiming success is written.
//   - The caller holds the worker's deploy lock (history.LockName) around
//     Execute; guard deploy's --rollback-on-fail already holds it.
//   - The API token goes to wrangler's environment and to cfapi only.
package rollback

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/guardcm/guard/records"
	"io"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/deploy"
	"github.com/guardcm/guard/history"
	"github.com/guardcm/guard/hooks"
	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/internal/wrangler"
	"github.com/guardcm/guard/ledger"
	"github.com/guardcm/guard/migrations"
	"github.com/guardcm/guard/workers"
)

// Options are the inputs of one rollback.
type Options struct {
	Repo   *gitx.Repo
	Config *config.Config
	// Target is the worker; nil resolves it from WranglerConfig and Env
	// (deploy.ResolveTarget: wrangler's --env naming rules).
	Target         *deploy.Target
	Env            string
	WranglerConfig string
	// To is the version asked for (--to), "" to let Choose pick.
	To string
	// Reason is why: wrangler's rollback message (cut to 120 characters),
	// the ledger record and the emergency-change record.
	Reason string
	// Token is CLOUDFLARE_API_TOKEN; AccountID is CLOUDFLARE_ACCOUNT_ID
	// ("" means the wrangler configuration's account_id).
	Token, AccountID string
	// FetchNotes fetches the team's deploy records from the remote first.
	FetchNotes bool
	// ExpectFrom, when set, is the version that must be serving (guard
	// deploy --rollback-on-fail: the version it just deployed).
	ExpectFrom string
	APIOptions []cfapi.Option
	// Now is the clock (records' opened time, ages); nil means time.Now.
	Now func() time.Time
	// Stdout receives wrangler's output; Stderr guard's messages.
	Stdout, Stderr io.Writer
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Side is one end of the rollback.
type Side struct {
	VersionID string
	Number    int
	// Created is the version's upload time.
	Created time.Time
	// Commit is the full hash ("" when neither a guard record nor the
	// version's workers/tag names one); Subject its subject line, from git
	// when the commit is in this clone, else from the version's message.
	Commit  string
	Subject string
	// Deployed is when the deployment serving this version was made, by
	// DeployedBy, with Source guard or outside; zero when unknown.
	Deployed     time.Time
	DeployedBy   string
	DeploymentID string
	Source       string
	// Verified is good, bad or unverified.
	Verified string
	// Split is the traffic split when the serving deployment has several
	// versions.
	Split []cfapi.DeploymentVersion
}

// Migration is a D1 migration file added between the target's commit and
// the serving commit, with the checker's findings that matter for running
// the old code against it.
type Migration struct {
	Path     string
	Findings []report.Finding
}

// Plan is what a rollback will do, printed before acting.
type Plan struct {
	Worker, Env, Account string
	// WranglerConfig is the wrangler configuration's absolute path.
	WranglerConfig string
	From, To       Side
	// Position is the target's place among the worker's versions, newest
	// first; Versions how many the API lists.
	Position, Versions int
	Rule               Rule
	Explanation        []string
	Warnings           []string
	// Migrations are the D1 migrations added since the target's commit;
	// MigrationsNote says why they could not be listed, when so.
	Migrations     []Migration
	MigrationsNote string
	Reason         string
	// Message is the rollback message wrangler gets (≤120 characters).
	Message  string
	Operator string
	// Now is when the plan was made.
	Now time.Time

	api     *cfapi.Client
	entries []history.Entry
}

// planRules are the migration findings a plan shows: the changes that
// break the code of an earlier version running against the newer schema.
var planRules = map[string]bool{
	migrations.RuleDropTable:        true,
	migrations.RuleDropColumn:       true,
	migrations.RuleRenameTable:      true,
	migrations.RuleRenameColumn:     true,
	migrations.RuleDropView:         true,
	migrations.RuleDropIndex:        true,
	migrations.RuleDropTrigger:      true,
	migrations.RuleNotNullNoDefault: true, // the old code's inserts lack the column
}

// Prepare reads the state and chooses the target; see the package
// contract. It changes nothing but the local copy of the remote's notes
// ref (with FetchNotes).
func Prepare(ctx context.Context, o Options) (*Plan, error) {
	repo, cfg := o.Repo, o.Config
	if o.Token == "" {
		return nil, deploy.TokenMissing()
	}
	t := o.Target
	if t == nil {
		var err error
		if t, err = deploy.ResolveTarget(repo.Root, cfg, o.WranglerConfig, o.Env, o.AccountID); err != nil {
			return nil, err
		}
	}
	p := &Plan{Worker: t.Worker, Env: t.Env, Account: t.Account, WranglerConfig: t.ConfigPath, Reason: strings.TrimSpace(o.Reason), Now: o.now()}
	p.api = cfapi.New(o.Token, t.Account, o.APIOptions...)

	// The version list and the operator are read while the notes are
	// fetched and the history joined: the incident clock is running.
	var (
		wg       sync.WaitGroup
		versions []cfapi.Version
		verr     error
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		versions, verr = p.api.Versions(ctx, t.Worker)
	}()
	go func() {
		defer wg.Done()
		p.Operator, _, _ = repo.ConfigValue(ctx, "user.email")
	}()
	entries, warnings, herr := loadHistory(ctx, o, p.api, t)
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	p.Warnings = append(p.Warnings, warnings...)
	for _, err := range []error{verr, herr} {
		if err == nil {
			continue
		}
		if k := fail.KindOf(err); k == fail.KindUsage || k == fail.KindRefused {
			return nil, err // a configuration problem (signing), not the API
		}
		if cfapi.IsNotFound(err) {
			return nil, fail.Usage(fmt.Errorf("worker %q does not exist in account %s: %w", t.Worker, t.Account, err),
				"check --env and --config (guard rollback uses wrangler's naming rules) and CLOUDFLARE_ACCOUNT_ID")
		}
		var partial *history.PartialError
		if errors.As(err, &partial) {
			err = partial.Err
		}
		return nil, fail.External(fmt.Errorf("reading the worker's state from the Cloudflare API: %w", err),
			"a rollback needs the API: check CLOUDFLARE_API_TOKEN and the network; nothing was changed")
	}
	p.entries = entries

	ch, err := Choose(Input{Entries: entries, Versions: versions, To: o.To})
	if err != nil {
		return nil, err
	}
	if o.ExpectFrom != "" && ch.Serving.VersionID != o.ExpectFrom {
		return nil, fail.Refused(fmt.Errorf("the worker serves version %s, not %s: someone deployed in between; not rolling back automatically", ch.Serving.VersionID, o.ExpectFrom),
			"look at guard history and roll back by hand if needed")
	}
	p.Rule, p.Explanation = ch.Rule, ch.Explanation
	p.Warnings = append(p.Warnings, ch.Warnings...)
	p.Position, p.Versions = ch.Position, len(versions)
	p.From = fromSide(ch)
	p.To = toSide(ch)
	p.Message = wrangler.TruncateMessage(p.rollbackMessage(), wrangler.MaxRollbackMessage)

	if err := p.subjects(ctx, repo, ch); err != nil {
		return nil, fail.External(err)
	}
	p.migrations(ctx, repo, cfg)
	return p, nil
}

func loadHistory(ctx context.Context, o Options, api *cfapi.Client, t *deploy.Target) ([]history.Entry, []string, error) {
	var warnings []string
	if o.FetchNotes {
		timeout := o.Config.Deploy.FetchTimeout.Duration
		if timeout <= 0 {
			timeout = ledger.DefaultNotesTimeout
		}
		// The branch too: a verified-good version counts only when its
		// commit is on the remote branch, as fetched now.
		branch := make(chan error, 1)
		go func() { branch <- o.Repo.FetchBranch(ctx, o.Config.Remote, o.Config.Branch, timeout) }()
		if err := ledger.FetchNotes(ctx, o.Repo, o.Config.Remote, timeout); err != nil {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			warnings = append(warnings, fmt.Sprintf("the team's deploy records (%s) were not fetched from %s, going on with the API and this clone's records only: %v",
				ledger.NotesRef, o.Config.Remote, err))
		}
		if err := <-branch; err != nil {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			warnings = append(warnings, fmt.Sprintf("%s/%s was not fetched, judging commits against it as last fetched: %v", o.Config.Remote, o.Config.Branch, err))
		}
	}
	verifier, err := ledger.VerifierFor(ctx, o.Repo, o.Config.Ledger.Signing, o.Config.RemoteBranchRef(), o.Config.Ledger.AllowedSigners)
	if err != nil {
		return nil, warnings, err
	}
	entries, hw, err := history.Load(ctx, history.Source{
		Repo:     o.Repo,
		API:      api,
		Ledger:   ledger.Open(ledger.DefaultPath(o.Repo)),
		Account:  t.Account,
		ReadOnly: true,
		Branch:   o.Config.RemoteBranchRef(),
		Verifier: verifier,
	}, t.Worker)
	return entries, append(warnings, hw...), err
}

func verified(marks map[string]string, id string) string {
	if m := marks[id]; m != "" {
		return m
	}
	return ledger.VerifiedUnverified
}

func commitOf(e *history.Entry, v *cfapi.Version) string {
	if e != nil && e.Commit != "" {
		return e.Commit
	}
	if v != nil && history.IsCommitHash(v.Tag) {
		return v.Tag
	}
	return ""
}

func fromSide(ch *Choice) Side {
	e := ch.Serving
	s := Side{
		VersionID:    e.VersionID,
		Commit:       commitOf(&e, ch.ServingVersion),
		Deployed:     e.Time,
		DeployedBy:   e.Operator,
		DeploymentID: e.DeploymentID,
		Source:       e.Source,
		Verified:     verified(ch.Marks, e.VersionID),
		Split:        e.Versions,
	}
	if v := ch.ServingVersion; v != nil {
		s.Number, s.Created = v.Number, v.CreatedOn
	}
	return s
}

func toSide(ch *Choice) Side {
	v := ch.Target
	s := Side{
		VersionID: v.ID,
		Number:    v.Number,
		Created:   v.CreatedOn,
		Commit:    commitOf(ch.TargetEntry, &v),
		Verified:  verified(ch.Marks, v.ID),
	}
	if e := ch.TargetEntry; e != nil {
		s.Deployed, s.DeployedBy, s.DeploymentID, s.Source = e.Time, e.Operator, e.DeploymentID, e.Source
	}
	return s
}

func (p *Plan) rollbackMessage() string {
	if p.Reason != "" {
		return strings.Join(strings.Fields(p.Reason), " ")
	}
	return fmt.Sprintf("guard rollback from %s to %s", records.ShortVersion(p.From.VersionID), records.ShortVersion(p.To.VersionID))
}

var guardMarker = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\s*\[guard [0-9a-f]+ [a-z-]+\]\s*$`) })

// subjects fills in the commits' subject lines: from git for commits this
// clone has (one git process for both), else from the versions' messages
// without guard's marker. A commit this clone lacks is a warning.
func (p *Plan) subjects(ctx context.Context, repo *gitx.Repo, ch *Choice) error {
	var commits []string
	for _, c := range []string{p.From.Commit, p.To.Commit} {
		if c != "" {
			commits = append(commits, c)
		}
	}
	have := map[string]string{}
	if len(commits) > 0 {
		args := append([]string{"log", "--no-walk=unsorted", "--ignore-missing", "--format=%H%x1f%s"}, commits...)
		out, err := repo.Git(ctx, append(args, "--")...)
		if err != nil {
			return fmt.Errorf("reading the subjects of %s: %w", strings.Join(commits, ", "), err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if h, s, ok := strings.Cut(l, "\x1f"); ok {
				have[h] = s
			}
		}
	}
	fill := func(s *Side, v *cfapi.Version, e *history.Entry) {
		if subj, ok := have[s.Commit]; ok {
			s.Subject = subj
			return
		}
		msg := ""
		if v != nil {
			msg = v.Message
		}
		if msg == "" && e != nil {
			msg = e.Message
		}
		s.Subject = strings.TrimSpace(guardMarker().ReplaceAllString(msg, ""))
	}
	fill(&p.From, ch.ServingVersion, &ch.Serving)
	fill(&p.To, &ch.Target, ch.TargetEntry)
	for _, s := range []Side{p.From, p.To} {
		if s.Commit != "" {
			if _, ok := have[s.Commit]; !ok {
				p.Warnings = append(p.Warnings, fmt.Sprintf("commit %s (of version %s) is not in this clone; git fetch brings it", gitx.ShortHash(s.Commit), s.VersionID))
			}
		}
	}
	return nil
}

// migrations lists the D1 migration files the serving commit has and the
// target's commit lacks, with the checker's findings on them. A checker
// failure is a note, never a reason not to roll back.
func (p *Plan) migrations(ctx context.Context, repo *gitx.Repo, cfg *config.Config) {
	from, to := p.From.Commit, p.To.Commit
	switch {
	case from == "":
		p.MigrationsNote = fmt.Sprintf("the serving version %s has no known commit (deployed outside guard without a workers/tag): the D1 migrations since the target cannot be listed", p.From.VersionID)
		return
	case to == "":
		p.MigrationsNote = fmt.Sprintf("the target version %s has no known commit: the D1 migrations since it cannot be listed", p.To.VersionID)
		return
	case from == to:
		return
	}
	for _, c := range []string{from, to} {
		if _, ok, err := repo.ResolveCommit(ctx, c); err != nil || !ok {
			p.MigrationsNote = fmt.Sprintf("commit %s is not in this clone: the D1 migrations since the target cannot be listed (git fetch, then guard rollback --dry-run)", gitx.ShortHash(c))
			return
		}
	}
	dirs, err := p.migrationDirs(ctx, repo, cfg, from)
	if err != nil {
		p.MigrationsNote = fmt.Sprintf("the D1 migration folders of %s could not be read: %v", gitx.ShortHash(from), err)
		return
	}
	var added []string
	for _, dir := range dirs {
		fcs, err := repo.DiffTrees(ctx, to, from, dir+"/")
		if err != nil {
			p.MigrationsNote = fmt.Sprintf("the D1 migrations could not be compared: %v", err)
			return
		}
		for _, fc := range fcs {
			if (fc.Kind == 'A' || fc.Kind == 'R' || fc.Kind == 'C') && path.Dir(fc.Path) == dir && strings.HasSuffix(fc.Path, ".sql") {
				added = append(added, fc.Path)
			}
		}
	}
	if len(added) == 0 {
		return
	}
	sort.Strings(added)
	byFile := map[string][]report.Finding{}
	findings, err := hooks.CheckMigrationDirs(ctx, repo, cfg, dirs, to, from)
	if err != nil {
		p.MigrationsNote = fmt.Sprintf("the migration checker failed (the files are listed without findings): %v", err)
	}
	for _, f := range findings {
		if planRules[f.Rule] {
			byFile[f.File] = append(byFile[f.File], f)
		}
	}
	for _, a := range added {
		p.Migrations = append(p.Migrations, Migration{Path: a, Findings: byFile[a]})
	}
}

// migrationDirs lists the migrations folders of the worker being rolled
// back as its wrangler configuration declares them at the serving commit
// (workers.List.FoldersOf): another worker's migrations do not touch this
// worker's databases. A configuration that commit does not have (moved or
// renamed since) cannot be scoped: every folder is listed, with a warning,
// since a missing migration would be the worse error.
func (p *Plan) migrationDirs(ctx context.Context, repo *gitx.Repo, cfg *config.Config, from string) ([]string, error) {
	list, err := workers.Load(ctx, workers.AtRev(repo, from), cfg)
	if err != nil {
		return nil, err
	}
	name := p.WranglerConfig
	if rel, err := filepath.Rel(repo.Root, p.WranglerConfig); err == nil && filepath.IsLocal(rel) {
		name = filepath.ToSlash(rel)
		if dirs, ok := list.FoldersOf(name); ok {
			return dirs, nil
		}
	}
	p.Warnings = append(p.Warnings, fmt.Sprintf("the wrangler configuration %s is not in commit %s: the D1 migrations of every worker are listed", name, gitx.ShortHash(from)))
	var dirs []string
	for _, f := range list.Folders {
		dirs = append(dirs, f.Dir)
	}
	return dirs, nil
}

// Age renders how long before now t was, coarsely ("3h12m ago").
func Age(now, t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	d := now.Sub(t)
	if d < 0 {
		return "in the future"
	}
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm ago", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh ago", int(d.Hours())/24, int(d.Hours())%24)
}

func stampOf(t time.Time) string {
	if t.IsZero() {
		return "unknown time"
	}
	return t.UTC().Format(time.RFC3339)
}

// Write prints the plan for the operator.
func (p *Plan) Write(w io.Writer) error {
	var b bytes.Buffer
	env := p.Env
	if env == "" {
		env = "top level"
	}
	fmt.Fprintf(&b, "Rollback plan for worker %s (env %s, account %s)\n", p.Worker, env, p.Account)
	p.side(&b, "from", p.From, true)
	p.side(&b, "to", p.To, false)
	for i, e := range p.Explanation {
		label := "why"
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(&b, "  %-5s %s\n", label, e)
	}
	for _, wn := range p.Warnings {
		fmt.Fprintf(&b, "  warning: %s\n", wn)
	}
	switch {
	case len(p.Migrations) > 0:
		fmt.Fprintf(&b, "  D1 migrations added since the target's commit (%d): D1 is not rolled back, the old code will run against this schema:\n", len(p.Migrations))
		for _, m := range p.Migrations {
			fmt.Fprintf(&b, "    %s\n", m.Path)
			if len(m.Findings) == 0 {
				fmt.Fprintf(&b, "      no destructive or rename change found\n")
			}
			for _, f := range m.Findings {
				loc := ""
				if f.Line > 0 {
					loc = fmt.Sprintf("line %d: ", f.Line)
				}
				fmt.Fprintf(&b, "      %s %s: %s%s\n", f.Severity, f.Rule, loc, f.Message)
			}
		}
		if p.MigrationsNote != "" {
			fmt.Fprintf(&b, "    note: %s\n", p.MigrationsNote)
		}
	case p.MigrationsNote != "":
		fmt.Fprintf(&b, "  D1 migrations since the target's commit: unknown: %s\n", p.MigrationsNote)
	default:
		fmt.Fprintf(&b, "  D1 migrations added since the target's commit: none\n")
	}
	fmt.Fprintf(&b, "  runs  %s\n", wrangler.QuoteCommand([]string{"wrangler", "rollback", p.To.VersionID, "--message=" + p.Message}))
	_, err := w.Write(b.Bytes())
	return err
}

func (p *Plan) side(b *bytes.Buffer, label string, s Side, serving bool) {
	num := ""
	if s.Number > 0 {
		num = fmt.Sprintf(" (number %d)", s.Number)
	}
	fmt.Fprintf(b, "  %-5s version %s%s", label, s.VersionID, num)
	if !serving && p.Position > 0 {
		fmt.Fprintf(b, ", %s newest of %d", ordinal(p.Position), p.Versions)
	}
	b.WriteString("\n")
	commit := "unknown commit"
	if s.Commit != "" {
		commit = "commit " + gitx.ShortHash(s.Commit)
	}
	subject := ""
	if s.Subject != "" {
		subject = fmt.Sprintf(" %q", s.Subject)
	}
	fmt.Fprintf(b, "        %s%s, uploaded %s (%s)\n", commit, subject, stampOf(s.Created), Age(p.Now, s.Created))
	if len(s.Split) > 0 {
		var parts []string
		for _, v := range s.Split {
			parts = append(parts, fmt.Sprintf("%s %g%%", v.VersionID, v.Percentage))
		}
		fmt.Fprintf(b, "        serving a split: %s\n", strings.Join(parts, ", "))
	}
	if s.Deployed.IsZero() {
		fmt.Fprintf(b, "        no deployment of it is known; verified %s\n", s.Verified)
		return
	}
	by := s.DeployedBy
	if by == "" {
		by = "unknown"
	}
	via := ""
	switch s.Source {
	case history.SourceOutside:
		via = " outside guard"
	case history.SourceGuard:
		via = " through guard"
	}
	what := "deployed"
	if serving {
		what = "serving since"
	}
	fmt.Fprintf(b, "        %s %s (%s) by %s%s, deployment %s; verified %s\n", what, stampOf(s.Deployed), Age(p.Now, s.Deployed), by, via, s.DeploymentID, s.Verified)
}
