package evidence

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/history"
	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/redact"
	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/ledger"
	"github.com/guardcm/guard/records"
)

// Deployment is one deployment or rollback of the worker (or one attempt
// guard recorded that the API does not list).
type Deployment struct {
	Time   time.Time `json:"time"`
	Worker string    `json:"worker"`
	Env    string    `json:"env"`
	// Kind is "deploy" or "rollback"; Status "succeeded", "failed" or
	// "pending".
	Kind         string `json:"kind"`
	Status       string `json:"status"`
	VersionID    string `json:"version_id"`
	DeploymentID string `json:"deployment_id"`
	// Commit is the full hash from guard's record or the version's
	// workers/tag annotation, "" when neither names one.
	Commit string `json:"commit"`
	// OnBranch says whether Commit is on <remote>/<branch>; null when
	// there is no commit or this clone does not have it.
	OnBranch   *bool    `json:"on_branch"`
	Categories []string `json:"categories"`
	Operator   string   `json:"operator"`
	// Verified is good, bad or unverified.
	Verified string `json:"verified"`
	// Source is "guard", or "outside" for a deployment no guard record
	// describes.
	Source  string `json:"source"`
	Message string `json:"message"`
	// Listed reports whether the Cloudflare API lists the deployment.
	Listed bool `json:"listed"`
	// Versions is the traffic split when more than one version serves.
	Versions []VersionShare `json:"versions,omitempty"`
	// Step places a deployment in a gradual deploy (one item per step,
	// and one for the return to the old version).
	Step        *history.RolloutStep `json:"rollout_step,omitempty"`
	FromVersion string               `json:"from_version,omitempty"`
	Reason      string               `json:"reason,omitempty"`
	Error       string               `json:"error,omitempty"`
	// Record and RecordState are a rollback's emergency-change record.
	Record      string `json:"record,omitempty"`
	RecordState string `json:"record_state,omitempty"`
}

// VersionShare is one version's share of a split deployment.
type VersionShare struct {
	VersionID  string  `json:"version_id"`
	Percentage float64 `json:"percentage"`
}

// DeploymentOptions are the inputs of Deployments.
type DeploymentOptions struct {
	Repo   *gitx.Repo
	Config *config.Config
	// Period is the period covered; records are judged at its end.
	Period Period
	// Generator is "guard <version>".
	Generator string
	Worker    string
	Env       string
	Account   string
	API       *cfapi.Client
	// Ledger is this clone's ledger (nil: none).
	Ledger *ledger.Ledger
	// Fetch updates <remote>/<branch> and the team's deploy notes first,
	// bounded by FetchTimeout; failures are noted, not fatal.
	Fetch        bool
	FetchTimeout time.Duration
	// Records reads the emergency-change records; nil means ReadRecords.
	Records RecordReader
}

// Deployments lists the worker's deployments and rollbacks in the period,
// oldest first, from history.Load (the Cloudflare API joined with the
// ledger and the shared notes, read-only), with findings for deployments
// made outside guard, deployments whose commit is not on <remote>/<branch>
// and rollbacks without an emergency-change record. When the API cannot
// be read the collection fails: a document without the API's list could
// not show deployments made outside guard.
func Deployments(ctx context.Context, o DeploymentOptions) (*Document, error) {
	repo, cfg := o.Repo, o.Config
	if o.API == nil {
		return nil, errors.New("deployments evidence needs the Cloudflare API")
	}
	doc := newDocument(CollectorDeployments, o.Period, o.Generator)
	ref, branchSrc, err := remoteBranch(ctx, repo, cfg, o.Fetch, o.FetchTimeout, doc.AsOf)
	if err != nil {
		return nil, err
	}
	short := branchSrc.Name
	// A shallow clone whose history stops inside the period would give a
	// shorter answer that looks complete.
	if err := repo.RequireSince(ctx, cfg.RemoteBranchRef(), o.Period.From); err != nil {
		return nil, err
	}

	src := history.Source{
		Repo: repo, API: o.API, Ledger: o.Ledger, Account: o.Account,
		FetchTimeout: o.FetchTimeout, ReadOnly: true,
	}
	if o.Fetch {
		src.Remote = cfg.Remote
	}
	entries, warnings, err := history.Load(ctx, src, o.Worker)
	if err != nil {
		return nil, err
	}

	apiSrc := Source{Kind: "cloudflare-api", Name: o.API.BaseURL() + "/accounts/" + o.Account + "/workers/scripts/" + o.Worker + "/deployments"}
	notesSrc, err := notesSource(ctx, repo, doc.AsOf)
	if err != nil {
		return nil, err
	}
	// history's warnings say what could not be read: the notes fetch, or
	// versions whose commit annotation the API did not give.
	var apiNotes []string
	for _, w := range warnings {
		if strings.Contains(w, ledger.NotesRef) {
			notesSrc.Note, notesSrc.Warning = redact.URLs(w), true
		} else {
			apiNotes = append(apiNotes, redact.URLs(w))
		}
	}
	apiSrc.Note, apiSrc.Warning = strings.Join(apiNotes, "; "), len(apiNotes) > 0
	doc.Sources = append(doc.Sources, apiSrc, branchSrc)
	doc.Sources = append(doc.Sources, notesSrc)
	if o.Ledger != nil {
		doc.Sources = append(doc.Sources, ledgerSource(repo, o.Ledger, doc.AsOf))
	}
	var recs []*records.Record
	if ref != "" {
		recs, err = collectRecords(ctx, doc, o.Records, repo, cfg, ref)
		if err != nil {
			return nil, err
		}
	}

	// Entries come newest first; the document lists them oldest first, and
	// its findings in the same order.
	var inPeriod []history.Entry
	for _, e := range entries {
		if o.Period.Contains(e.Time) {
			inPeriod = append(inPeriod, e)
		}
	}
	sort.SliceStable(inPeriod, func(i, j int) bool {
		a, b := inPeriod[i], inPeriod[j]
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		if a.DeploymentID != b.DeploymentID {
			return a.DeploymentID < b.DeploymentID
		}
		return a.VersionID < b.VersionID
	})
	items := []Deployment{}
	for _, e := range inPeriod {
		d := Deployment{
			Time: e.Time.UTC(), Worker: o.Worker, Env: e.Env, Kind: e.Kind, Status: e.Status,
			VersionID: e.VersionID, DeploymentID: e.DeploymentID, Commit: e.Commit,
			Categories: e.Categories, Operator: e.Operator, Verified: e.Verified, Source: e.Source,
			Message: e.Message, Listed: e.Listed,
			FromVersion: e.FromVersion, Reason: e.Reason, Error: e.Error, Step: e.Step,
		}
		for _, v := range e.Versions {
			d.Versions = append(d.Versions, VersionShare{VersionID: v.VersionID, Percentage: v.Percentage})
		}
		if d.Env == "" {
			d.Env = o.Env
		}
		if d.Categories == nil {
			d.Categories = []string{}
		}
		fs, err := judgeDeployment(ctx, repo, &d, e, recs, ref, short, doc.AsOf)
		if err != nil {
			return nil, err
		}
		doc.Findings = append(doc.Findings, fs...)
		items = append(items, d)
	}
	doc.Items = items
	return doc, nil
}

// judgeDeployment fills in what git and the records say about d and
// returns its findings.
func judgeDeployment(ctx context.Context, repo *gitx.Repo, d *Deployment, e history.Entry, recs []*records.Record, ref, short string, now time.Time) ([]report.Finding, error) {
	var fs []report.Finding
	what := d.Kind
	if d.DeploymentID != "" {
		what += " " + d.DeploymentID
	}
	if d.Commit != "" {
		on, known, err := false, true, error(nil)
		if ref != "" { // else the branch had no commit yet, so not this one
			on, known, err = isAncestor(ctx, repo, d.Commit, ref)
		}
		if err != nil {
			return nil, err
		}
		if known {
			d.OnBranch = &on
		}
		if d.Status == ledger.StatusSucceeded && !on {
			msg := fmt.Sprintf("%s serves version %s built from commit %s, which is not on %s", what, d.VersionID, gitx.ShortHash(d.Commit), short)
			if !known {
				msg = fmt.Sprintf("%s serves version %s built from commit %s, which this clone does not have (so it is not on %s as fetched)", what, d.VersionID, gitx.ShortHash(d.Commit), short)
			}
			fs = append(fs, report.Finding{Rule: RuleCommitNotOnBranch, Severity: report.SeverityError, Commit: gitx.ShortHash(d.Commit),
				Message: msg, Fix: fmt.Sprintf("deploy only %s through guard deploy; review how this commit reached production", short)})
		}
	}
	if d.Source == history.SourceOutside && d.Listed {
		commit := "no commit recorded"
		if d.Commit != "" {
			commit = "commit " + gitx.ShortHash(d.Commit)
		}
		by := d.Operator
		if by == "" {
			by = "an unknown author"
		}
		fs = append(fs, report.Finding{Rule: RuleOutsideDeploy, Severity: report.SeverityError, Commit: gitx.ShortHash(d.Commit),
			Message: fmt.Sprintf("%s of version %s (%s) by %s was made outside guard: no guard record describes it", what, d.VersionID, commit, by),
			Fix:     "deploy with guard deploy and roll back with guard rollback; review this deployment after the fact"})
	}
	if d.Kind == ledger.KindRollback && d.Status == ledger.StatusSucceeded {
		recFile := ""
		if e.Record != nil {
			recFile = filepath.ToSlash(e.Record.RecordFile)
		}
		rec := rollbackRecord(recs, d, recFile)
		if rec == nil {
			msg := fmt.Sprintf("%s to version %s has no emergency-change record on %s", what, d.VersionID, short)
			if recFile != "" {
				msg = fmt.Sprintf("%s to version %s: its emergency-change record %s is not on %s", what, d.VersionID, recFile, short)
			}
			fs = append(fs, report.Finding{Rule: RuleRollbackWithoutRecord, Severity: report.SeverityError, Commit: gitx.ShortHash(d.Commit),
				Message: msg, Fix: "commit and push the record guard rollback wrote (or write one in the emergency-changes folder)"})
		} else {
			d.Record = rec.Path
			d.RecordState = string(rec.State(now))
			if rec.State(now) == records.StateOverdue {
				fs = append(fs, report.Finding{Rule: RuleEmergencyOverdue, Severity: report.SeverityError, File: rec.Path,
					Message: fmt.Sprintf("the record of %s still has %d TODO line(s) past its due time %s", what, len(rec.TODO), rec.Due.UTC().Format(time.RFC3339)),
					Fix:     "replace every TODO in the record, commit it and push it"})
			}
		}
	}
	return fs, nil
}

// rollbackRecord finds a rollback's emergency-change record: the one
// naming its deployment, else the file guard's ledger record names, else
// one for the same worker and target version.
func rollbackRecord(recs []*records.Record, d *Deployment, recFile string) *records.Record {
	if d.DeploymentID != "" {
		for _, r := range recs {
			if r.DeploymentID == d.DeploymentID {
				return r
			}
		}
	}
	if recFile != "" {
		for _, r := range recs {
			if r.Path == recFile || strings.HasSuffix(recFile, "/"+r.Path) {
				return r
			}
		}
	}
	for _, r := range recs {
		if r.Worker == d.Worker && r.ToVersion != "" && r.ToVersion == d.VersionID {
			return r
		}
	}
	return nil
}

// notesSource pins the shared deploy records as they stood at asOf: the
// newest commit of the notes ref made by then (notes commits are made as
// deploys are recorded, so later deploys do not change it).
func notesSource(ctx context.Context, repo *gitx.Repo, asOf time.Time) (Source, error) {
	src := Source{Kind: "git-notes", Name: ledger.NotesRef}
	if _, ok, err := repo.ResolveCommit(ctx, ledger.NotesRef); err != nil {
		return src, err
	} else if !ok {
		src.Note = "none"
		return src, nil
	}
	h, err := repo.GitLine(ctx, "rev-list", "--max-count=1", "--before="+asOf.UTC().Format(time.RFC3339), ledger.NotesRef, "--")
	if err != nil {
		return src, err
	}
	if h == "" {
		src.Note = "none at " + asOf.UTC().Format(time.RFC3339)
	}
	src.Revision = h
	return src, nil
}

// ledgerSource names the ledger relative to the repository root and pins
// the part of it written by asOf: the seq and SHA-256 of its last line
// whose record time is at or before asOf. The ledger is append-only and
// hash-chained, so that line pins every line before it, and records
// appended later leave it unchanged.
func ledgerSource(repo *gitx.Repo, l *ledger.Ledger, asOf time.Time) Source {
	name := l.Path()
	if rel, err := filepath.Rel(repo.Root, name); err == nil && filepath.IsLocal(rel) {
		name = filepath.ToSlash(rel)
	}
	s := Source{Kind: "ledger", Name: name}
	data, err := os.ReadFile(l.Path())
	switch {
	case errors.Is(err, os.ErrNotExist):
		s.Note = "none in this clone"
		return s
	case err != nil:
		s.Note = err.Error()
		return s
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		var rec struct {
			Seq  int       `json:"seq"`
			Time time.Time `json:"time"`
		}
		if json.Unmarshal(line, &rec) != nil || rec.Seq < 1 {
			continue // damaged lines are guard ledger verify's to report
		}
		if rec.Time.After(asOf) {
			break
		}
		sum := sha256.Sum256(line)
		s.Revision = fmt.Sprintf("seq %d sha256:%s", rec.Seq, hex.EncodeToString(sum[:]))
	}
	if s.Revision == "" {
		s.Note = "no record at " + asOf.UTC().Format(time.RFC3339)
	}
	return s
}
