// Package history answers "what has been deployed to this worker, by whom,
// from which commit, and was it verified?" — the join that guard history,
// guard rollback and the deployments evidence all read.
//
// Contract:
//   - Three sources are joined: the Cloudflare API (the worker's
//     deployments, and the versions they serve with the commit guard put in
//     each version's workers/tag annotation), the shared deploy records in
//     the remote's git notes (ledger.NotesRef, fetched first within
//     Source.FetchTimeout; offline it goes on without them and says so in a
//     warning), and this clone's ledger when there is one.
//   - Every deployment the API lists becomes an Entry: Source "guard" when a
//     ledger or notes record describes it, "outside" when none does (made
//     with wrangler or the dashboard: a compliance finding). Records the API
//     does not list (failed deploys, deployments older than the API's list)
//     become entries too, with Listed false. Entries are newest first.
//   - A pending record (a deploy that crashed, or whose confirmation failed)
//     is reconciled against the API when the worker's deploy lock is free:
//     the outcome (succeeded with the deployment found, or failed) is
//     appended to the local ledger with Ref = the pending record's Seq and
//     shared as a note. While a deploy holds the lock its record is left
//     alone. Source.ReadOnly turns reconciliation off.
//   - When the API does not answer, Load still returns the entries its
//     records give, with a *PartialError, so a caller can show them and
//     still fail.
//   - ReadServing (served.go) answers what production runs: the newest
//     deployment whose versions carry commits this clone has. It is the
//     base of what guard deploy checks and records; a record naming
//     another commit is a disagreement (Serving.Disagreement), in the same
//     words as the trust rules' conflicts.
//   - The API token is held by the cfapi.Client; nothing here prints,
//     stores or logs it.
package history

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/ledger"
	"github.com/guardcm/guard/rollout"
)

// Entry sources.
const (
	SourceGuard   = "guard"
	SourceOutside = "outside"
)

// Entry is one deployment (or one attempt recorded by guard).
type Entry struct {
	// Time is the deployment's created_on when the API lists it, else the
	// time of the record.
	Time time.Time `json:"time"`
	// Kind is ledger.KindDeploy or ledger.KindRollback.
	Kind string `json:"kind"`
	// Status is ledger.StatusSucceeded, StatusFailed or StatusPending (a
	// pending record that could not be reconciled). Deployments made
	// outside guard are "succeeded": the API lists them.
	Status       string `json:"status"`
	VersionID    string `json:"version_id"`
	DeploymentID string `json:"deployment_id"`
	// Commit is the full hash: from the record, else from the version's
	// workers/tag annotation ("" when neither has one).
	Commit string `json:"commit"`
	// Verified is good, bad or unverified.
	Verified string `json:"verified"`
	// Source is SourceGuard or SourceOutside.
	Source     string   `json:"source"`
	Operator   string   `json:"operator"`
	Categories []string `json:"categories"`
	// Message is the deployment's workers/message annotation.
	Message string `json:"message"`
	Env     string `json:"env,omitempty"`
	// Current marks the deployment serving now (the API's newest).
	Current bool `json:"current"`
	// Listed reports whether the API lists this deployment.
	Listed bool `json:"listed"`
	// Versions is the traffic split when the deployment serves more than
	// one version; VersionID is then the one with the largest share.
	Versions    []cfapi.DeploymentVersion `json:"versions,omitempty"`
	FromVersion string                    `json:"from_version,omitempty"`
	Reason      string                    `json:"reason,omitempty"`
	Error       string                    `json:"error,omitempty"`
	// Trusted says the Cloudflare API and the remote branch confirm the
	// entry (see the trust rules in trust.go); only then does a "good"
	// verification count. Distrust says why not.
	Trusted  bool   `json:"trusted"`
	Distrust string `json:"distrust,omitempty"`
	// Conflict says how the records about this deployment disagree, with
	// each other or with the Cloudflare API.
	Conflict string `json:"conflict,omitempty"`
	// Step places the deployment in a gradual deploy (guard deploy
	// --gradual): one entry per step, and one for the return to the old
	// version when a check failed or the rollout was aborted.
	Step *RolloutStep `json:"rollout_step,omitempty"`
	// Record is the guard record behind the entry (nil for outside
	// deployments): D1 bookmarks, untracked files, emergency record file.
	Record *ledger.Record `json:"-"`
}

// RolloutStep is an entry's place in a gradual deploy.
type RolloutStep struct {
	// Step is 1-based; Of is the number of steps. The return to the old
	// version has Return set and Step 0.
	Step    int     `json:"step"`
	Of      int     `json:"of"`
	Percent float64 `json:"percent"`
	Return  bool    `json:"return,omitempty"`
	// Phase is the rollout's phase as its record last said (verifying,
	// holding, completed, failed, aborted).
	Phase string `json:"phase"`
}

// Label is the step as guard history prints it: "step 2/4 10%", "return".
func (s *RolloutStep) Label() string {
	if s.Return {
		return "rollout return"
	}
	return fmt.Sprintf("step %d/%d %s%%", s.Step, s.Of, rollout.FormatPercent(s.Percent))
}

// Source says where Load reads from. Only Repo is required.
type Source struct {
	Repo *gitx.Repo
	// API reads the worker's deployments and versions; nil means records
	// only (and no reconciliation).
	API *cfapi.Client
	// Ledger is this clone's ledger; nil means none.
	Ledger *ledger.Ledger
	// Remote is the git remote whose notes are fetched first (and to which
	// reconciled records are pushed); "" skips the fetch.
	Remote string
	// FetchTimeout bounds the notes fetch (and the push of reconciled
	// records); 0 means DefaultFetchTimeout.
	FetchTimeout time.Duration
	// Account, when set, ignores records of other accounts.
	Account string
	// LockDir holds the deploy locks (default ledger.LockDir(Repo)).
	LockDir string
	// ReadOnly turns off reconciliation: nothing is written.
	ReadOnly bool
	// Sign signs the reconciled records shared as notes (nil: unsigned).
	Sign ledger.Signer
	// Verifier, when set ([ledger] signing = "ssh"), admits a shared
	// record only with a valid signature by an allowed signer; the others
	// are ignored, with a warning.
	Verifier *ledger.Verifier
	// Branch is the remote-tracking ref production is built from
	// (config.RemoteBranchRef); a verification mark is trusted only for a
	// commit reachable from it. "" trusts none.
	Branch string
}

// DefaultFetchTimeout bounds the notes fetch and push when
// Source.FetchTimeout is not set.
const DefaultFetchTimeout = ledger.DefaultNotesTimeout

// PartialError is returned with the entries the records give when the
// Cloudflare API could not be read.
type PartialError struct{ Err error }

func (e *PartialError) Error() string {
	return fmt.Sprintf("showing guard's records only: %v", e.Err)
}
func (e *PartialError) Unwrap() error { return e.Err }

// LockName is the deploy lock's name for a worker: guard deploy and guard
// rollback take it, and Load skips reconciling while it is held.
func LockName(worker string) string { return worker }

// clockSkew is how far before a pending record's time a deployment may be
// stamped by Cloudflare and still be its outcome (clocks differ).
const clockSkew = time.Minute

// op is one deploy or rollback as the records tell it.
type op struct {
	rec   ledger.Record
	local bool
	// seq is the Seq of the operation's first local record (the pending
	// one, which an outcome names in Ref); 0 for a notes record.
	seq  int
	used bool
}

// Load returns the worker's history, newest first, and warnings about what
// could not be read. See the package contract.
func Load(ctx context.Context, src Source, worker string) ([]Entry, []string, error) {
	if src.Repo == nil {
		return nil, nil, errors.New("history: no repository")
	}
	var warnings []string
	fetched := false
	if src.FetchTimeout <= 0 {
		src.FetchTimeout = DefaultFetchTimeout
	}
	if src.Remote != "" {
		if err := ledger.FetchNotes(ctx, src.Repo, src.Remote, src.FetchTimeout); err != nil {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			warnings = append(warnings, fmt.Sprintf("could not fetch the team's deploy records (%s) from %s, going on without them: %v", ledger.NotesRef, src.Remote, err))
		} else {
			fetched = true
		}
	}
	ops, ignored, err := loadOps(ctx, src, worker)
	if err != nil {
		return nil, warnings, err
	}
	warnings = append(warnings, ignored...)

	var deps []cfapi.Deployment
	var apiErr error
	if src.API != nil {
		deps, apiErr = src.API.Deployments(ctx, worker)
		if cfapi.IsNotFound(apiErr) {
			deps, apiErr = nil, nil // never deployed: nothing to list
		}
		if ctx.Err() != nil {
			return nil, warnings, ctx.Err()
		}
	}
	versions := &versionCache{api: src.API, worker: worker, m: map[string]*cfapi.Version{}}

	if src.API != nil && apiErr == nil && !src.ReadOnly {
		w, err := reconcile(ctx, src, worker, ops, deps, versions, fetched)
		warnings = append(warnings, w...)
		if err != nil {
			return nil, warnings, err
		}
	}

	entries := join(ctx, ops, deps, versions)
	warnings = append(warnings, confirm(ctx, src, entries, ops, deps, versions)...)
	warnings = append(warnings, versions.warnings...)
	if apiErr != nil {
		return entries, warnings, &PartialError{Err: apiErr}
	}
	if src.API == nil {
		for _, o := range ops {
			if o.rec.Status == ledger.StatusPending {
				warnings = append(warnings, fmt.Sprintf("record %d is pending and was not reconciled (no API access)", o.seq))
			}
		}
	}
	return entries, warnings, nil
}

// Records returns the worker's operations as guard's records tell them
// (this clone's ledger resolved with ledger.Latest, plus the notes already
// fetched), oldest first, without the API and without writing anything.
// guard deploy uses it to find the last deploy and the last good version
// without a network round trip. With a verifier ([ledger] signing), shared
// records without a valid signature are left out and named in ignored, as
// Load does.
func Records(ctx context.Context, repo *gitx.Repo, l *ledger.Ledger, verifier *ledger.Verifier, worker, account string) (recs []ledger.Record, ignored []string, err error) {
	ops, ignored, err := loadOps(ctx, Source{Repo: repo, Ledger: l, Account: account, Verifier: verifier}, worker)
	if err != nil {
		return nil, nil, err
	}
	recs = make([]ledger.Record, len(ops))
	for i, o := range ops {
		recs[i] = o.rec
	}
	return recs, ignored, nil
}

func recordKey(r ledger.Record) string {
	return strings.Join([]string{r.Kind, r.Time.UTC().Format(time.RFC3339Nano), r.Worker, r.Status, r.VersionID, r.DeploymentID, r.Commit}, "\x00")
}

// loadOps reads the operations; ignored says which shared records failed
// their signature check (src.Verifier) and were left out.
func loadOps(ctx context.Context, src Source, worker string) (ops []*op, ignored []string, err error) {
	keep := func(r ledger.Record) bool {
		return r.Worker == worker && (src.Account == "" || r.Account == "" || r.Account == src.Account)
	}
	seen := map[string]bool{}
	if src.Ledger != nil {
		recs, err := src.Ledger.Records()
		if err != nil {
			return nil, nil, err
		}
		var mine []ledger.Record
		for _, r := range recs {
			if keep(r) {
				mine = append(mine, r)
			}
		}
		for key, r := range ledger.Latest(mine) {
			ops = append(ops, &op{rec: r, local: true, seq: key})
		}
		// Every local record counts as seen, so a note of an earlier
		// outcome of the same operation is not shown twice.
		for _, r := range mine {
			seen[recordKey(r)] = true
		}
	}
	notes, err := ledger.ReadNotes(ctx, src.Repo)
	if err != nil {
		return nil, nil, err
	}
	// Duplicates among the notes are dropped only after verification: an
	// unsigned copy must not push out the signed record it imitates.
	var shared []ledger.Record
	for _, r := range notes {
		if !keep(r) || r.Status == ledger.StatusPending || seen[recordKey(r)] {
			continue
		}
		shared = append(shared, r)
	}
	var verdicts []error
	if src.Verifier != nil {
		verdicts = src.Verifier.VerifyAll(ctx, shared)
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
	}
	for i, r := range shared {
		if verdicts != nil && verdicts[i] != nil {
			ignored = append(ignored, fmt.Sprintf("ignored the shared %s record of version %s (commit %s, operator %s, %s): %v",
				r.Kind, noneIfEmpty(r.VersionID), gitx.ShortHash(r.Commit), noneIfEmpty(r.Operator), r.Time.UTC().Format(time.RFC3339), verdicts[i]))
			continue
		}
		if seen[recordKey(r)] {
			continue
		}
		seen[recordKey(r)] = true
		ops = append(ops, &op{rec: r})
	}
	sort.SliceStable(ops, func(i, j int) bool {
		if !ops[i].rec.Time.Equal(ops[j].rec.Time) {
			return ops[i].rec.Time.Before(ops[j].rec.Time)
		}
		return ops[i].seq < ops[j].seq
	})
	return ops, ignored, nil
}

// versionCache reads versions once each; a failure becomes a warning.
type versionCache struct {
	api      *cfapi.Client
	worker   string
	m        map[string]*cfapi.Version
	warnings []string
	// failed counts lookups the API did not answer (not "not found"):
	// a version missing for that reason says nothing about a deploy.
	failed int
}

func (c *versionCache) get(ctx context.Context, id string) *cfapi.Version {
	if v, ok := c.m[id]; ok || id == "" || c.api == nil {
		return v
	}
	v, err := c.api.Version(ctx, c.worker, id)
	if err != nil {
		if !cfapi.IsNotFound(err) {
			c.warnings = append(c.warnings, fmt.Sprintf("version %s: %v", id, err))
			c.failed++
		}
		v = nil
	}
	c.m[id] = v
	return v
}

// mainVersion is the version with the largest share of a deployment.
func mainVersion(d cfapi.Deployment) string {
	best, pct := "", -1.0
	for _, v := range d.Versions {
		if v.Percentage > pct {
			best, pct = v.VersionID, v.Percentage
		}
	}
	return best
}

// IsCommitHash reports whether s looks like a full git object name
// (SHA-1 or SHA-256), as guard writes into workers/tag.
func IsCommitHash(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// join matches deployments with records and lists the rest of the records.
func join(ctx context.Context, ops []*op, deps []cfapi.Deployment, versions *versionCache) []Entry {
	byDeployment := map[string]*op{}
	steps := map[string]stepOf{}
	for _, o := range ops {
		o.used = false
		if o.rec.DeploymentID != "" {
			byDeployment[o.rec.DeploymentID] = o
		}
		if st := o.rec.Rollout; st != nil {
			for _, sr := range st.Deployments {
				steps[sr.DeploymentID] = stepOf{o, sr}
			}
			if st.Return != nil {
				steps[st.Return.DeploymentID] = stepOf{o, *st.Return}
			}
		}
	}
	var entries []Entry
	for i, d := range deps {
		mv := mainVersion(d)
		// A deployment that another record made (a guard rollback during
		// the split gave the old version 100 % back) stays that record's.
		if so, ok := steps[d.ID]; ok && (byDeployment[d.ID] == nil || byDeployment[d.ID] == so.o) {
			so.o.used = true
			e := stepEntry(ctx, so, versions)
			e.Time, e.Message, e.Listed, e.Current, e.DeploymentID = d.CreatedOn, d.Message, true, i == 0, d.ID
			if len(d.Versions) != 1 || d.Versions[0].Percentage != 100 {
				e.Versions = append([]cfapi.DeploymentVersion(nil), d.Versions...)
			}
			entries = append(entries, e)
			continue
		}
		o := byDeployment[d.ID]
		if o == nil {
			// A succeeded record that never learnt its deployment ID (an
			// old or hand-reconciled record): match on the version.
			for _, c := range ops {
				if !c.used && c.rec.DeploymentID == "" && c.rec.Status == ledger.StatusSucceeded && c.rec.VersionID == mv && mv != "" {
					o = c
					break
				}
			}
		}
		var e Entry
		if o != nil && !o.used {
			o.used = true
			e = fromRecord(o.rec)
			e.DeploymentID = d.ID
			if mv != "" && e.VersionID != mv {
				// The API is the truth about what a deployment served.
				e.Conflict = versionConflict(d.ID, e.VersionID, mv)
				e.VersionID = mv
			}
		} else {
			e = Entry{
				Kind:       ledger.KindDeploy,
				Status:     ledger.StatusSucceeded,
				Verified:   ledger.VerifiedUnverified,
				Source:     SourceOutside,
				Operator:   d.AuthorEmail,
				Categories: []string{},
			}
			if d.TriggeredBy == "rollback" {
				e.Kind = ledger.KindRollback
			}
			e.VersionID = mv
			if v := versions.get(ctx, mv); v != nil && IsCommitHash(v.Tag) {
				e.Commit = v.Tag
			}
			e.DeploymentID = d.ID
		}
		e.Time = d.CreatedOn
		e.Message = d.Message
		e.Listed = true
		e.Current = i == 0
		if len(d.Versions) != 1 || d.Versions[0].Percentage != 100 {
			e.Versions = append([]cfapi.DeploymentVersion(nil), d.Versions...)
		}
		entries = append(entries, e)
	}
	for _, o := range ops {
		if o.used {
			continue
		}
		entries = append(entries, fromRecord(o.rec))
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].Time.After(entries[j].Time) })
	return entries
}

// stepOf is a deployment a gradual deploy made.
type stepOf struct {
	o  *op
	sr rollout.StepRecord
}

// stepEntry is the entry of one deployment of a gradual deploy: a step
// carries the record (its version, commit and verdict), the return to the
// old version carries that version and no verdict of its own.
func stepEntry(ctx context.Context, so stepOf, versions *versionCache) Entry {
	st := so.o.rec.Rollout
	e := fromRecord(so.o.rec)
	e.Status = ledger.StatusSucceeded // the deployment exists: the API lists it
	e.Step = &RolloutStep{Step: so.sr.Step + 1, Of: len(st.Steps), Percent: so.sr.Percent, Phase: st.Phase}
	if so.sr.Step < 0 {
		e.Step.Step, e.Step.Return = 0, true
		e.VersionID, e.Commit, e.Categories, e.Error = st.OldVersion, "", []string{}, ""
		e.Verified = ledger.VerifiedUnverified
		if v := versions.get(ctx, st.OldVersion); v != nil && IsCommitHash(v.Tag) {
			e.Commit = v.Tag
		}
		// Users saw the new version: going back is a rollback, with its
		// emergency-change record (evidence checks it is there).
		if st.MaxPercent() > 0 {
			e.Kind = ledger.KindRollback
		}
		return e
	}
	if so.o.rec.Status == ledger.StatusPending {
		e.Verified = ledger.VerifiedUnverified
	}
	return e
}

func fromRecord(r ledger.Record) Entry {
	rec := r
	e := Entry{
		Time:         r.Time,
		Kind:         r.Kind,
		Status:       r.Status,
		VersionID:    r.VersionID,
		DeploymentID: r.DeploymentID,
		Commit:       r.Commit,
		Verified:     r.Verified,
		Source:       SourceGuard,
		Operator:     r.Operator,
		Categories:   r.Categories,
		Env:          r.Env,
		FromVersion:  r.FromVersion,
		Reason:       r.Reason,
		Error:        r.Error,
		Record:       &rec,
	}
	if e.Verified == "" {
		e.Verified = ledger.VerifiedUnverified
	}
	if e.Categories == nil {
		e.Categories = []string{}
	}
	return e
}
