package history

import (
	"context"
	"errors"
	"fmt"
	"github.com/guardcm/guard/internal/gitx"
	"sort"
	"time"

	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/ledger"
)

// DeploymentsListCap is how many deployments the API lists at most (the
// newest). When the list is this long and a pending record is older than
// all of it, the record's outcome may have scrolled off: it stays pending.
const DeploymentsListCap = 10

// Outcome is what the API says became of a pending record.
type Outcome struct {
	// Status is ledger.StatusSucceeded or StatusFailed, or "" when the API
	// cannot tell.
	Status       string
	VersionID    string
	DeploymentID string
	// Why explains a failure, or why no decision was possible.
	Why string
}

// VersionLookup answers the workers/tag annotation of a version, and
// whether the version exists at all.
type VersionLookup func(versionID string) (tag string, exists bool)

// Reconcile decides a pending record's outcome from the worker's
// deployments (newest first, as the API lists them). claimed holds the
// deployment IDs other records already account for. Pure: the only I/O is
// through tagOf.
//
// A record that knows its version (wrangler finished, the confirmation did
// not) succeeded when a deployment at or after its time serves that version
// at 100%. A record without one (guard stopped while wrangler ran)
// succeeded when such a deployment serves a version tagged with the
// record's commit. Otherwise it failed — unless the list may have lost
// deployments of that period, in which case Status is "".
func Reconcile(rec ledger.Record, deps []cfapi.Deployment, claimed map[string]bool, tagOf VersionLookup) Outcome {
	cutoff := rec.Time.Add(-clockSkew)
	var cands []cfapi.Deployment
	for _, d := range deps {
		if !d.CreatedOn.Before(cutoff) && !claimed[d.ID] {
			cands = append(cands, d)
		}
	}
	// The first deployment after the record is its own; later ones are
	// redeploys or someone else's.
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].CreatedOn.Before(cands[j].CreatedOn) })
	for _, d := range cands {
		if len(d.Versions) != 1 || d.Versions[0].Percentage != 100 {
			continue
		}
		v := d.Versions[0].VersionID
		if rec.VersionID != "" {
			if v == rec.VersionID {
				return Outcome{Status: ledger.StatusSucceeded, VersionID: v, DeploymentID: d.ID}
			}
			continue
		}
		if rec.Commit == "" {
			continue
		}
		if tag, ok := tagOf(v); ok && tag == rec.Commit {
			return Outcome{Status: ledger.StatusSucceeded, VersionID: v, DeploymentID: d.ID}
		}
	}
	covered := len(deps) < DeploymentsListCap || deps[len(deps)-1].CreatedOn.Before(cutoff)
	if !covered {
		return Outcome{Why: fmt.Sprintf("the API lists only the %d newest deployments, all later than the record: its outcome cannot be told", len(deps))}
	}
	if rec.VersionID != "" {
		if _, ok := tagOf(rec.VersionID); ok {
			return Outcome{Status: ledger.StatusFailed, VersionID: rec.VersionID,
				Why: fmt.Sprintf("version %s was uploaded but no deployment served it", rec.VersionID)}
		}
		return Outcome{Status: ledger.StatusFailed, VersionID: rec.VersionID,
			Why: fmt.Sprintf("version %s does not exist", rec.VersionID)}
	}
	return Outcome{Status: ledger.StatusFailed,
		Why: fmt.Sprintf("no deployment of commit %s appeared after the pending record (wrangler did not finish)", gitx.ShortHash(rec.Commit))}
}

// reconcile settles the local pending operations against the API, under
// the worker's deploy lock, and appends their outcomes.
func reconcile(ctx context.Context, src Source, worker string, ops []*op, deps []cfapi.Deployment, versions *versionCache, fetched bool) ([]string, error) {
	var pending []*op
	claimed := map[string]bool{}
	var warnings []string
	for _, o := range ops {
		if o.local && o.rec.Status == ledger.StatusPending && src.Ledger != nil {
			if st := o.rec.Rollout; st != nil {
				// A gradual deploy stopped mid-way: only guard deploy
				// --resume or --abort may finish it (the API shows a split
				// that no reconciliation rule describes).
				warnings = append(warnings, fmt.Sprintf("the gradual deploy of version %s (ledger record %d) stopped at %s: finish it with guard deploy --resume, or undo it with guard deploy --abort",
					st.Version(), o.seq, st.Where()))
				continue
			}
			pending = append(pending, o)
		}
		if o.rec.DeploymentID != "" {
			claimed[o.rec.DeploymentID] = true
		}
	}
	if len(pending) == 0 {
		return warnings, nil
	}
	lockDir := src.LockDir
	if lockDir == "" {
		lockDir = ledger.LockDir(src.Repo)
	}
	lk, err := ledger.AcquireLock(lockDir, LockName(worker))
	if err != nil {
		var held *ledger.HeldError
		if errors.As(err, &held) {
			return []string{fmt.Sprintf("%v; its pending record is left for it to finish", held)}, nil
		}
		return []string{fmt.Sprintf("pending records not reconciled: %v", err)}, nil
	}
	defer lk.Release()

	tagOf := func(id string) (string, bool) {
		v := versions.get(ctx, id)
		if v == nil {
			return "", false
		}
		return v.Tag, true
	}
	// What the team was already told: an outcome in the notes is never
	// contradicted, and a ledger whose outcome line was cut (an
	// interrupted write) gets it back from there.
	notes, err := ledger.ReadNotes(ctx, src.Repo)
	if err != nil {
		return warnings, err
	}
	if probs, err := src.Ledger.Verify(); err == nil {
		for _, p := range probs {
			if p.Kind == ledger.ProblemTruncated {
				warnings = append(warnings, fmt.Sprintf("%s line %d is incomplete (a write was interrupted); 'guard ledger verify' shows it", src.Ledger.Path(), p.Line))
			}
		}
	}
	noted := false
	for _, o := range pending {
		if shared, ok := sharedOutcome(notes, o); ok {
			rec := shared
			rec.Ref = o.seq
			written, err := src.Ledger.Append(rec)
			if err != nil {
				return warnings, fmt.Errorf("restoring the outcome of ledger record %d: %w", o.seq, err)
			}
			o.rec = written
			if written.DeploymentID != "" {
				claimed[written.DeploymentID] = true
			}
			warnings = append(warnings, fmt.Sprintf("ledger record %d had no outcome in %s, but its shared note (%s) says %s: restored from the note, not reconciled",
				o.seq, src.Ledger.Path(), ledger.NotesRef, shared.Status))
			continue
		}
		failedBefore := versions.failed
		out := Reconcile(o.rec, deps, claimed, tagOf)
		if ctx.Err() != nil {
			return warnings, ctx.Err()
		}
		if out.Status == ledger.StatusFailed && versions.failed > failedBefore {
			// A version the API did not return may be this deploy's.
			out = Outcome{Why: "the Cloudflare API did not answer for every version it lists"}
		}
		if out.Status == "" {
			warnings = append(warnings, fmt.Sprintf("ledger record %d (pending since %s) not reconciled: %s", o.seq, o.rec.Time.UTC().Format(time.RFC3339), out.Why))
			continue
		}
		rec := ledger.Outcome(o.rec)
		rec.Ref = o.seq
		rec.Reconciled = true
		rec.Status = out.Status
		rec.VersionID = out.VersionID
		rec.DeploymentID = out.DeploymentID
		rec.Error = out.Why
		if out.Status == ledger.StatusSucceeded {
			rec.Verified = ledger.VerifiedUnverified
			rec.Error = ""
		} else {
			rec.Verified = ""
		}
		written, err := src.Ledger.Append(rec)
		if err != nil {
			return warnings, fmt.Errorf("reconciling ledger record %d: %w", o.seq, err)
		}
		o.rec = written
		if out.DeploymentID != "" {
			claimed[out.DeploymentID] = true
		}
		msg := fmt.Sprintf("reconciled ledger record %d against the Cloudflare API: %s", o.seq, out.Status)
		if out.DeploymentID != "" {
			msg += fmt.Sprintf(" (version %s, deployment %s)", out.VersionID, out.DeploymentID)
		} else {
			msg += ": " + out.Why
		}
		warnings = append(warnings, msg)
		if rec.Commit != "" {
			shared, err := ledger.Sign(ctx, written, src.Sign)
			if err == nil {
				err = ledger.AddNote(ctx, src.Repo, rec.Commit, shared)
			}
			if err != nil {
				warnings = append(warnings, fmt.Sprintf("reconciled record %d not added to the shared notes: %v", written.Seq, err))
			} else {
				noted = true
			}
		}
	}
	if noted && fetched && src.Remote != "" {
		if err := ledger.PushNotes(ctx, src.Repo, src.Remote, src.FetchTimeout); err != nil {
			warnings = append(warnings, fmt.Sprintf("reconciled records not pushed to %s (the next deploy pushes them): %v", src.Remote, err))
		}
	}
	return warnings, nil
}

// sharedOutcome finds the final record this clone shared for the pending
// operation o: a note naming o's Seq in Ref whose operation fields (what
// an outcome copies from its pending record) are o's. Other clones'
// records cannot match by accident: the commit, tree, operator, time
// fields and wrangler version all have to agree. The newest wins.
func sharedOutcome(notes []ledger.Record, o *op) (ledger.Record, bool) {
	p := o.rec
	var found ledger.Record
	ok := false
	for _, n := range notes {
		if n.Ref != o.seq || n.Status == ledger.StatusPending || n.Kind != p.Kind || n.Worker != p.Worker || n.Env != p.Env ||
			n.Account != p.Account || n.Commit != p.Commit || n.Tree != p.Tree || n.Operator != p.Operator ||
			n.WranglerVersion != p.WranglerVersion || n.FromVersion != p.FromVersion {
			continue
		}
		if !ok || n.Time.After(found.Time) {
			found, ok = n, true
		}
	}
	return found, ok
}
