package records

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/proc"
	"github.com/guardcm/guard/ledger"
	"github.com/guardcm/guard/policy"
)

// Obligations: what must be documented is computed from what is shared —
// the emergency commits in the remote branch's history and the guard
// rollbacks in the team's deploy records — and a record documents one only
// when it is committed (on the remote branch, or in the commits being
// pushed). A record that was never committed, or deleted later, leaves its
// obligation missing; deleting a local file can never hide one.
//
// Nor do the dates a pusher sets decide anything on their own. Whether an
// emergency commit predates guard follows ancestry (adoptingCommit), and
// when it happened is its committer date only when nothing guard recorded
// itself says earlier (firstDeployed); a date beyond now+ClockSkew is not
// believed at all (Obligation.FutureDated).

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
	// At is when the change happened, as far as guard can tell: for a
	// rollback the time guard recorded it; for a commit the earlier of its
	// committer date and the first deploy or rollback record guard made of
	// a commit containing it (Dated is the committer date itself).
	At    time.Time `json:"at"`
	Due   time.Time `json:"due"`
	Dated time.Time `json:"dated,omitzero"`
	// Record is the committed record that answers it (nil: none).
	Record *Record `json:"-"`
}

// ClockSkew is how far ahead of guard's clock a date may be and still be
// believed: clocks of laptops and CI runners drift by seconds or minutes,
// not by hours.
const ClockSkew = 5 * time.Minute

// FutureDated reports whether the change claims to happen after now (past
// ClockSkew), with nothing guard recorded itself to say when it really did.
// Such a date is a wrong clock or a forgery that would push the deadline
// out at will; the user would expect neither to buy time, so the change is
// overdue until documented.
func (o *Obligation) FutureDated(now time.Time) bool {
	return o.At.After(now.Add(ClockSkew))
}

// State is where the obligation stands at now: documented when its record
// is; otherwise overdue past Due or when FutureDated, else open (a record
// with TODO left) or missing (no committed record).
func (o *Obligation) State(now time.Time) State {
	switch {
	case o.Record != nil && o.Record.State(now) == StateDocumented:
		return StateDocumented
	case now.After(o.Due), o.FutureDated(now):
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
// the history of branch (a commit hash) that is not an ancestor of the
// commit that brought guard to it (adoptingCommit), and every succeeded
// guard rollback in led, each paired with its record among recs. Oldest
// first.
func Obligations(ctx context.Context, repo *gitx.Repo, branch string, led Ledger, recs []*Record) ([]*Obligation, error) {
	var deploys []ledger.Record
	if led != nil {
		var err error
		if deploys, err = led.Records(); err != nil {
			return nil, err
		}
	}
	var out []*Obligation
	if branch != "" {
		commits, err := emergencyCommits(ctx, repo, branch)
		if err != nil {
			return nil, err
		}
		// When a documented change happened decides nothing, so only the
		// others are looked up in the deploy records: the walk then stays
		// among recent history.
		var undocumented []string
		for _, c := range commits {
			o := &Obligation{Kind: KindCommit, Commit: c.hash, Subject: c.subject, At: c.at, Due: c.at.Add(DueAfter), Dated: c.at}
			o.Record = ForCommit(recs, c.hash)
			if o.Record == nil || len(o.Record.TODO) > 0 {
				undocumented = append(undocumented, c.hash)
			}
			out = append(out, o)
		}
		deployed, err := firstDeployed(ctx, repo, undocumented, deploys)
		if err != nil {
			return nil, err
		}
		for _, o := range out {
			if t, ok := deployed[o.Commit]; ok && t.Before(o.At) {
				o.At, o.Due = t, t.Add(DueAfter)
			}
		}
	}
	seen := map[string]bool{}
	for _, r := range deploys {
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
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}

type emergencyCommit struct {
	hash, subject string
	at            time.Time // committer date
}

// emergencyCommits reads the commits of branch's history that declare the
// emergency category, since guard was adopted: the ancestors of the commit
// that added guard.toml (adoptingCommit) predate guard and owe it no
// records. Ancestry decides, never dates: a commit dated before adoption
// but pushed after it owes its record like any other.
func emergencyCommits(ctx context.Context, repo *gitx.Repo, branch string) ([]emergencyCommit, error) {
	adopting, err := adoptingCommit(ctx, repo, branch)
	if err != nil {
		return nil, err
	}
	// git's own grep keeps the walk cheap on a long history: only the
	// messages that mention the key with emergency are formatted, and the
	// trailer parse below decides.
	args := []string{"log", "-z", "--regexp-ignore-case", "--extended-regexp",
		"--grep=^" + policy.TrailerKey + ":[[:space:]]*emergency",
		"--format=%H%x1f%cI%x1f%s%x1f%(trailers:key=" + policy.TrailerKey + ",valueonly,separator=%x1e)", branch}
	if adopting != "" {
		// The adopting commit's parents and everything behind them; the
		// adopting commit itself came with guard.
		args = append(args, "--not", adopting+"^@")
	}
	out, err := repo.Git(ctx, append(args, "--")...)
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
		res = append(res, emergencyCommit{hash: f[0], subject: f[2], at: at.UTC()})
	}
	return res, nil
}

// adoptingCommit is the commit that brought guard to the branch: the oldest
// commit on its first-parent line (the branch's own history, in an order
// dates cannot change) whose tree gained guard.toml — a merge that brought
// it counts. "" when it never did: then the whole history counts.
// Deleting guard.toml and adding it again later moves nothing.
func adoptingCommit(ctx context.Context, repo *gitx.Repo, branch string) (string, error) {
	out, err := repo.Git(ctx, "log", "--first-parent", "--diff-filter=A", "--format=%H", branch, "--", config.FileName)
	if err != nil {
		return "", err
	}
	lines := strings.Fields(string(out))
	if len(lines) == 0 {
		return "", nil
	}
	return lines[len(lines)-1], nil
}

// firstDeployed is, for each of commits, the earliest time a deploy or
// rollback record in deploys names a commit whose history contains it: a
// time guard's own clock wrote when the commit certainly existed, which
// bounds a committer date the pusher set. Records naming a commit this
// clone does not have (another clone's notes) say nothing.
func firstDeployed(ctx context.Context, repo *gitx.Repo, commits []string, deploys []ledger.Record) (map[string]time.Time, error) {
	first := map[string]time.Time{}
	for _, r := range deploys {
		if !gitx.IsFullHash(r.Commit) || r.Time.IsZero() {
			continue // records are data: never let one become a git option
		}
		if t, ok := first[r.Commit]; !ok || r.Time.Before(t) {
			first[r.Commit] = r.Time
		}
	}
	if len(commits) == 0 || len(first) == 0 {
		return map[string]time.Time{}, nil
	}
	// Which of the recorded commits this clone has: rev-list would stop at
	// the first it does not.
	var names bytes.Buffer
	for c := range first {
		names.WriteString(c + "\n")
	}
	out, err := repo.GitInput(ctx, &names, "cat-file", "--batch-check=%(objecttype) %(objectname)")
	if err != nil {
		return nil, err
	}
	var walk bytes.Buffer
	for _, line := range strings.Split(string(out), "\n") {
		if typ, hash, ok := strings.Cut(line, " "); ok && typ == "commit" {
			walk.WriteString(hash + "\n")
		}
	}
	if walk.Len() == 0 {
		return map[string]time.Time{}, nil
	}
	// Walk from the recorded commits, children before parents, carrying
	// each record's time to the commits behind it. What is behind every
	// emergency commit (their common ancestor's parents' history) cannot
	// lead to one, so the walk stops there.
	bottom, err := repo.Git(ctx, append([]string{"merge-base", "--octopus"}, commits...)...)
	var ee *proc.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.Code == 1) { // 1: unrelated histories, no common ancestor
		return nil, err
	}
	args := []string{"rev-list", "--topo-order", "--parents", "--stdin"}
	if err == nil {
		args = append(args, "--not")
		for _, b := range strings.Fields(string(bottom)) {
			args = append(args, b+"^@")
		}
	}
	out, err = repo.GitInput(ctx, &walk, append(args, "--")...)
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(out), "\n") {
		ids := strings.Fields(line)
		if len(ids) == 0 {
			continue
		}
		t, ok := first[ids[0]]
		if !ok {
			continue
		}
		for _, p := range ids[1:] {
			if pt, ok := first[p]; !ok || t.Before(pt) {
				first[p] = t
			}
		}
	}
	res := map[string]time.Time{}
	for _, c := range commits {
		if t, ok := first[c]; ok {
			res[c] = stamp(t)
		}
	}
	return res, nil
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
