package records

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/ledger"
	"github.com/guardcm/guard/policy"
)

// Obligations: what must be documented is computed from what is shared —
// the emergency commits in the remote branch's history and the guard
// rollbacks in the team's deploy records — and a record documents one only
// when it is committed (on the remote branch, or in the commits being
// pushed). A record that was never committed, or deleted later, leaves its
// obligation missing; deleting a local file can never hide one.

// StateMissing is an obligation without any committed record yet.
const StateMissing State = "missing"

// Obligation is one emergency change that must be documented within
// DueAfter.
type Obligation struct {
	Kind string `json:"kind"` // KindCommit or KindRollback
	// Commit and Subject: an emergency commit.
	Commit  string `json:"commit,omitempty"`
	Subject string `json:"subject,omitempty"`
	// Worker, Env, ToVersion, DeploymentID: a guard rollback.
	Worker       string `json:"worker,omitempty"`
	Env          string `json:"env,omitempty"`
	ToVersion    string `json:"to_version,omitempty"`
	DeploymentID string `json:"deployment_id,omitempty"`
	// At is when the change happened (commit time, rollback time).
	At  time.Time `json:"at"`
	Due time.Time `json:"due"`
	// Record is the committed record that answers it (nil: none).
	Record *Record `json:"-"`
}

// State is where the obligation stands at now: documented when its record
// is; otherwise overdue past Due, else open (a record with TODO left) or
// missing (no committed record).
func (o *Obligation) State(now time.Time) State {
	switch {
	case o.Record != nil && o.Record.State(now) == StateDocumented:
		return StateDocumented
	case now.After(o.Due):
		return StateOverdue
	case o.Record == nil:
		return StateMissing
	}
	return StateOpen
}

// Describe says what the change was, for messages.
func (o *Obligation) Describe() string {
	if o.Kind == KindRollback {
		return fmt.Sprintf("guard rollback of %s to version %s", o.Worker, ShortVersion(o.ToVersion))
	}
	return fmt.Sprintf("emergency commit %s %q", ShortCommit(o.Commit), o.Subject)
}

// Ledger is the deploy records guard keeps (this clone's ledger and the
// team's notes); nil means none.
type Ledger interface {
	Records() ([]ledger.Record, error)
}

// Committed lists the records in the trees of revs (the remote branch,
// the head being pushed), each path read at the first rev that has it.
// Records that do not parse are returned as problems.
func Committed(ctx context.Context, repo *gitx.Repo, dir string, revs ...string) ([]*Record, []error, error) {
	seen := map[string]bool{}
	var recs []*Record
	var probs []error
	for _, rev := range revs {
		if rev == "" {
			continue
		}
		paths, err := repo.LsTree(ctx, rev, dir, false)
		if err != nil {
			return nil, nil, err
		}
		for _, p := range paths {
			base := path.Base(p)
			if !strings.HasSuffix(base, ".md") || strings.EqualFold(base, "README.md") || seen[p] {
				continue
			}
			data, ok, err := repo.Blob(ctx, rev, p)
			if err != nil {
				return nil, nil, err
			}
			if !ok {
				continue // a folder named *.md
			}
			seen[p] = true
			rec, err := Parse(p, data)
			if err != nil {
				probs = append(probs, err)
				continue
			}
			recs = append(recs, rec)
		}
	}
	return recs, probs, nil
}

// Obligations lists what must be documented: every emergency commit in
// the history of branch (a commit hash; since the repository adopted guard,
// see adoptedAt) and every succeeded guard rollback in led, each paired
// with its record among recs. Oldest first.
func Obligations(ctx context.Context, repo *gitx.Repo, branch string, led Ledger, recs []*Record) ([]*Obligation, error) {
	var out []*Obligation
	if branch != "" {
		commits, err := emergencyCommits(ctx, repo, branch)
		if err != nil {
			return nil, err
		}
		for _, c := range commits {
			o := &Obligation{Kind: KindCommit, Commit: c.hash, Subject: c.subject, At: c.at, Due: c.at.Add(DueAfter)}
			o.Record = ForCommit(recs, c.hash)
			out = append(out, o)
		}
	}
	if led != nil {
		all, err := led.Records()
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, r := range all {
			if r.Kind != ledger.KindRollback || r.Status != ledger.StatusSucceeded {
				continue
			}
			key := r.Worker + "\x00" + r.VersionID + "\x00" + r.DeploymentID
			if seen[key] {
				continue
			}
			seen[key] = true
			at := stamp(r.Time)
			o := &Obligation{Kind: KindRollback, Worker: r.Worker, Env: r.Env, ToVersion: r.VersionID, DeploymentID: r.DeploymentID,
				At: at, Due: at.Add(DueAfter)}
			for _, rec := range recs {
				if rec.Kind() == KindRollback && rec.Worker == r.Worker &&
					((r.DeploymentID != "" && rec.DeploymentID == r.DeploymentID) || (r.VersionID != "" && rec.ToVersion == r.VersionID)) {
					o.Record = rec
					break
				}
			}
			out = append(out, o)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}

type emergencyCommit struct {
	hash, subject string
	at            time.Time
}

// emergencyCommits reads the commits of branch's history that declare the
// emergency category, since guard was adopted: a history that predates
// guard.toml and the records folder owes no records to guard.
func emergencyCommits(ctx context.Context, repo *gitx.Repo, branch string) ([]emergencyCommit, error) {
	// git's own grep keeps the walk cheap on a long history: only the
	// messages that mention the key with emergency are formatted, and the
	// trailer parse below decides.
	args := []string{"log", "-z", "--regexp-ignore-case", "--extended-regexp",
		"--grep=^" + policy.TrailerKey + ":[[:space:]]*emergency",
		"--format=%H%x1f%cI%x1f%s%x1f%(trailers:key=" + policy.TrailerKey + ",valueonly,separator=%x1e)"}
	out, err := repo.Git(ctx, append(args, branch, "--")...)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(out)) == 0 {
		return nil, nil
	}
	since, err := adoptedAt(ctx, repo, branch)
	if err != nil {
		return nil, err
	}
	var res []emergencyCommit
	for _, rec := range bytes.Split(out, []byte{0}) {
		rec = bytes.TrimLeft(rec, "\n")
		f := strings.SplitN(string(rec), "\x1f", 4)
		if len(f) != 4 {
			continue
		}
		emergency := false
		for _, v := range strings.Split(f[3], "\x1e") {
			if c, err := policy.ParseCategory(strings.TrimSpace(v)); err == nil && c == policy.Emergency {
				emergency = true
			}
		}
		if !emergency {
			continue
		}
		at, err := time.Parse(time.RFC3339, f[1])
		if err != nil {
			return nil, fmt.Errorf("git log: commit %s: bad time %q", f[0], f[1])
		}
		if at.Before(since) {
			continue // before guard.toml arrived
		}
		res = append(res, emergencyCommit{hash: f[0], subject: f[2], at: at.UTC()})
	}
	return res, nil
}

// adoptedAt is when guard came to the branch: the oldest commit that added
// guard.toml. Zero when it never did (then the whole history counts).
func adoptedAt(ctx context.Context, repo *gitx.Repo, branch string) (time.Time, error) {
	out, err := repo.Git(ctx, "log", "--diff-filter=A", "--format=%cI", branch, "--", config.FileName)
	if err != nil {
		return time.Time{}, err
	}
	lines := strings.Fields(string(out))
	if len(lines) == 0 {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, lines[len(lines)-1])
	if err != nil {
		return time.Time{}, nil
	}
	return t, nil
}

// notesAndLedger is the deploy records of this clone and the team's notes.
type notesAndLedger struct {
	ctx  context.Context
	repo *gitx.Repo
}

// TeamLedger reads this clone's ledger and the deploy notes already
// fetched (refs/notes/guard-deploys), the records every clone shares.
func TeamLedger(ctx context.Context, repo *gitx.Repo) Ledger { return notesAndLedger{ctx, repo} }

func (n notesAndLedger) Records() ([]ledger.Record, error) {
	local, err := ledger.Open(ledger.DefaultPath(n.repo)).Records()
	if err != nil {
		return nil, err
	}
	shared, err := ledger.ReadNotes(n.ctx, n.repo)
	if err != nil {
		return nil, err
	}
	return append(local, shared...), nil
}
