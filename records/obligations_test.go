package records

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/guardcm/guard/internal/gittest"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/ledger"
)

type fixedLedger []ledger.Record

func (f fixedLedger) Records() ([]ledger.Record, error) { return f, nil }

func TestObligations(t *testing.T) {
	gittest.Isolate(t, gittest.Options{})
	dir := gittest.Repo(t)
	commit := func(date, msg string, files ...string) string {
		for _, f := range files {
			gittest.WriteFile(t, filepath.Join(dir, f), msg+"\n")
		}
		gittest.Run(t, gittest.At(date), dir, "add", "-A")
		gittest.Run(t, gittest.At(date), dir, "commit", "-q", "--allow-empty", "-m", msg)
		return gittest.Git(t, dir, "rev-parse", "HEAD")
	}
	// Before guard arrived: an emergency that owes guard nothing.
	commit("2026-10-01T10:00:00Z", "fix: old outage\n\nChange-Category: emergency")
	commit("2026-10-02T10:00:00Z", "chore: adopt guard\n\nChange-Category: normal", "guard.toml")
	fix := commit("2026-11-02T10:00:00Z", "fix: outage\n\nchange-category: Emergency")
	commit("2026-11-02T11:00:00Z", "feat: other\n\nChange-Category: normal")
	repo := gittest.Open(t, gitx.Open, dir)
	ctx := context.Background()

	rollbackAt := time.Date(2026, 11, 3, 8, 0, 0, 0, time.UTC)
	led := fixedLedger{
		{Kind: ledger.KindRollback, Status: ledger.StatusPending, Worker: "api", Time: rollbackAt},
		{Kind: ledger.KindRollback, Status: ledger.StatusSucceeded, Worker: "api", VersionID: "9a8b7c6d-1", DeploymentID: "dep-1", Time: rollbackAt},
		{Kind: ledger.KindRollback, Status: ledger.StatusSucceeded, Worker: "api", VersionID: "9a8b7c6d-1", DeploymentID: "dep-1", Time: rollbackAt}, // the same, from the notes
		{Kind: ledger.KindDeploy, Status: ledger.StatusSucceeded, Worker: "api", Time: rollbackAt},
	}
	obs, err := Obligations(ctx, repo, "HEAD", led, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) != 2 || obs[0].Kind != KindCommit || obs[0].Commit != fix || obs[0].Subject != "fix: outage" ||
		!obs[0].Due.Equal(time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)) || obs[1].Kind != KindRollback || obs[1].ToVersion != "9a8b7c6d-1" {
		t.Fatalf("obligations %+v", obs)
	}
	before, after := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC), time.Date(2026, 11, 3, 10, 0, 1, 0, time.UTC)
	if obs[0].State(before) != StateMissing || obs[0].State(after) != StateOverdue {
		t.Errorf("missing record: %s then %s", obs[0].State(before), obs[0].State(after))
	}

	// Committed records answer them: an open one keeps the obligation open,
	// then overdue; a documented one discharges it.
	open := NewCommit(time.Date(2026, 11, 2, 10, 5, 0, 0, time.UTC))
	open.Commit, open.TODO = fix, []int{12}
	rb := rollbackRecord()
	rb.Worker, rb.DeploymentID, rb.ToVersion = "api", "dep-1", "other"
	obs, err = Obligations(ctx, repo, "HEAD", led, []*Record{open, rb})
	if err != nil {
		t.Fatal(err)
	}
	if obs[0].Record != open || obs[0].State(before) != StateOpen || obs[0].State(after) != StateOverdue {
		t.Errorf("open record: %+v", obs[0])
	}
	if obs[1].Record != rb || obs[1].State(after) != StateDocumented {
		t.Errorf("rollback record (matched by deployment): %+v %s", obs[1], obs[1].State(after))
	}
}

func TestRecordsOnlyPaths(t *testing.T) {
	// See hooks.RecordsOnly for the rule; Committed reads what it allows.
	gittest.Isolate(t, gittest.Options{})
	dir := gittest.Repo(t)
	r := NewCommit(time.Date(2026, 11, 2, 10, 5, 0, 0, time.UTC))
	r.Commit, r.Subject = "0123456789abcdef0123456789abcdef01234567", "fix"
	gittest.WriteFile(t, filepath.Join(dir, "docs", "changes", "emergency", r.FileName()), string(r.Render(nil)))
	gittest.WriteFile(t, filepath.Join(dir, "docs", "changes", "emergency", "README.md"), "not a record\n")
	gittest.WriteFile(t, filepath.Join(dir, "docs", "changes", "emergency", "broken.md"), "no front matter\n")
	gittest.Git(t, dir, "add", "-A")
	gittest.Git(t, dir, "commit", "-q", "-m", "records")
	repo := gittest.Open(t, gitx.Open, dir)
	recs, probs, err := Committed(context.Background(), repo, "docs/changes/emergency", "", "HEAD")
	if err != nil || len(recs) != 1 || recs[0].Commit != r.Commit || len(probs) != 1 {
		t.Fatalf("committed: %+v %v %v", recs, probs, err)
	}
}

// commitAt commits in dir with author and committer date date (the
// pusher's to choose) and returns the commit's hash.
func commitAt(t *testing.T, dir, date, msg string, files ...string) string {
	t.Helper()
	for _, f := range files {
		gittest.WriteFile(t, filepath.Join(dir, f), msg+"\n")
	}
	gittest.Run(t, gittest.At(date), dir, "add", "-A")
	gittest.Run(t, gittest.At(date), dir, "commit", "-q", "--allow-empty", "-m", msg)
	return gittest.Git(t, dir, "rev-parse", "HEAD")
}

func commitObligations(t *testing.T, dir string, led Ledger) map[string]*Obligation {
	t.Helper()
	repo := gittest.Open(t, gitx.Open, dir)
	obs, err := Obligations(context.Background(), repo, "HEAD", led, nil)
	if err != nil {
		t.Fatal(err)
	}
	byCommit := map[string]*Obligation{}
	for _, o := range obs {
		if o.Kind == KindCommit {
			byCommit[o.Commit] = o
		}
	}
	return byCommit
}

// Only the ancestors of the commit that brought guard.toml are exempt: a
// commit dated before adoption but made after it owes its record, and so
// does one on a branch forked before adoption and merged after.
func TestObligationsAdoptionFollowsAncestry(t *testing.T) {
	gittest.Isolate(t, gittest.Options{})
	dir := gittest.Repo(t)
	early := commitAt(t, dir, "2026-10-01T10:00:00Z", "fix: old outage\n\nChange-Category: emergency")
	gittest.Git(t, dir, "branch", "old-branch")
	commitAt(t, dir, "2026-10-02T10:00:00Z", "chore: adopt guard\n\nChange-Category: normal", "guard.toml")
	backdated := commitAt(t, dir, "2026-09-01T10:00:00Z", "fix: backdated\n\nChange-Category: emergency")

	// A branch forked before adoption, its emergency fix dated before it,
	// merged after.
	gittest.Git(t, dir, "switch", "-q", "old-branch")
	sideways := commitAt(t, dir, "2026-10-01T12:00:00Z", "fix: from the side\n\nChange-Category: emergency", "side.txt")
	gittest.Git(t, dir, "switch", "-q", "main")
	gittest.Run(t, gittest.At("2026-11-05T10:00:00Z"), dir, "merge", "-q", "--no-ff", "-m", "merge old-branch", "old-branch")

	// Deleting guard.toml and adding it again does not move adoption.
	gittest.Run(t, gittest.At("2026-11-06T10:00:00Z"), dir, "rm", "-q", "guard.toml")
	gittest.Run(t, gittest.At("2026-11-06T10:00:00Z"), dir, "commit", "-q", "-m", "chore: drop guard\n\nChange-Category: normal")
	between := commitAt(t, dir, "2026-11-06T11:00:00Z", "fix: while guard was gone\n\nChange-Category: emergency")
	commitAt(t, dir, "2026-11-06T12:00:00Z", "chore: guard back\n\nChange-Category: normal", "guard.toml")

	obs := commitObligations(t, dir, nil)
	if obs[early] != nil {
		t.Errorf("an emergency commit behind the adopting commit owes nothing: %+v", obs[early])
	}
	for name, c := range map[string]string{"backdated": backdated, "merged from before adoption": sideways, "between removal and re-adding": between} {
		if obs[c] == nil {
			t.Errorf("%s: emergency commit %s owes a record, got none", name, ShortCommit(c))
		}
	}
	// A backdated commit is due from its date: overdue at once.
	if o := obs[backdated]; o != nil && o.State(time.Date(2026, 11, 6, 0, 0, 0, 0, time.UTC)) != StateOverdue {
		t.Errorf("backdated: state %s, due %s", o.State(time.Date(2026, 11, 6, 0, 0, 0, 0, time.UTC)), o.Due)
	}
}

// Guard brought by a merge: the merge is the adopting commit, so what
// either side had before it is exempt and the merge itself is not.
func TestObligationsAdoptedByMerge(t *testing.T) {
	gittest.Isolate(t, gittest.Options{})
	dir := gittest.Repo(t)
	commitAt(t, dir, "2026-10-01T10:00:00Z", "initial\n\nChange-Category: normal", "a.txt")
	gittest.Git(t, dir, "switch", "-q", "-c", "adopt")
	onAdopt := commitAt(t, dir, "2026-10-02T10:00:00Z", "chore: adopt guard\n\nChange-Category: emergency", "guard.toml")
	gittest.Git(t, dir, "switch", "-q", "main")
	onMain := commitAt(t, dir, "2026-10-03T10:00:00Z", "fix: main before guard\n\nChange-Category: emergency")
	gittest.Run(t, gittest.At("2026-10-04T10:00:00Z"), dir, "merge", "-q", "--no-ff", "-m", "merge adopt\n\nChange-Category: emergency", "adopt")
	merge := gittest.Git(t, dir, "rev-parse", "HEAD")
	obs := commitObligations(t, dir, nil)
	if obs[onAdopt] != nil || obs[onMain] != nil || obs[merge] == nil || len(obs) != 1 {
		t.Errorf("want only the adopting merge %s, got %v", ShortCommit(merge), obs)
	}
}

// A committer date in the future buys no time: a deploy or rollback record
// guard made of a commit containing it bounds when it happened, and
// without one a date beyond now+ClockSkew makes the change overdue until
// documented.
func TestObligationsFutureDated(t *testing.T) {
	gittest.Isolate(t, gittest.Options{})
	dir := gittest.Repo(t)
	commitAt(t, dir, "2026-10-02T10:00:00Z", "chore: adopt guard\n\nChange-Category: normal", "guard.toml")
	gittest.Git(t, dir, "branch", "elsewhere")
	deployedFix := commitAt(t, dir, "2030-01-01T00:00:00Z", "fix: deployed\n\nChange-Category: emergency", "a.txt")
	deployedTip := commitAt(t, dir, "2030-01-01T00:01:00Z", "feat: after it\n\nChange-Category: normal", "b.txt")
	undeployed := commitAt(t, dir, "2030-02-01T00:00:00Z", "fix: never deployed\n\nChange-Category: emergency", "c.txt")
	gittest.Git(t, dir, "switch", "-q", "elsewhere")
	unrelated := commitAt(t, dir, "2026-10-03T10:00:00Z", "feat: elsewhere\n\nChange-Category: normal", "d.txt")
	gittest.Git(t, dir, "switch", "-q", "main")

	deployedAt := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	led := fixedLedger{
		// A deploy of a later commit that contains the fix, and a rollback
		// to it: guard's own clock says it existed by then.
		{Kind: ledger.KindDeploy, Status: ledger.StatusSucceeded, Worker: "api", Commit: deployedTip, Time: deployedAt.Add(time.Hour)},
		{Kind: ledger.KindDeploy, Status: ledger.StatusPending, Worker: "api", Commit: deployedTip, Time: deployedAt},
		// Earlier records that say nothing about the fix: a commit that
		// does not contain it, one this clone lacks, and a forged value
		// that must never reach git as an option.
		{Kind: ledger.KindDeploy, Status: ledger.StatusSucceeded, Worker: "api", Commit: unrelated, Time: deployedAt.Add(-48 * time.Hour)},
		{Kind: ledger.KindDeploy, Status: ledger.StatusSucceeded, Worker: "api", Commit: "0123456789abcdef0123456789abcdef01234567", Time: deployedAt.Add(-48 * time.Hour)},
		{Kind: ledger.KindDeploy, Status: ledger.StatusSucceeded, Worker: "api", Commit: "--all", Time: deployedAt.Add(-48 * time.Hour)},
	}
	obs := commitObligations(t, dir, led)
	o := obs[deployedFix]
	if o == nil || !o.At.Equal(deployedAt) || !o.Due.Equal(deployedAt.Add(DueAfter)) || !o.Dated.Equal(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("deployed fix: want at %s (first deploy containing it), got %+v", deployedAt, o)
	}
	if s := o.State(deployedAt.Add(DueAfter - time.Second)); s != StateMissing {
		t.Errorf("deployed fix before its bounded due time: %s", s)
	}
	if s := o.State(deployedAt.Add(DueAfter + time.Second)); s != StateOverdue {
		t.Errorf("deployed fix past its bounded due time: %s (due %s)", s, o.Due)
	}

	u := obs[undeployed]
	if u == nil {
		t.Fatal("the undeployed fix owes a record")
	}
	now := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	if s := u.State(now); s != StateOverdue || !u.FutureDated(now) {
		t.Errorf("dated in the future with nothing to bound it: %s, future %v", s, u.FutureDated(now))
	}
	// Within the allowance for clock skew the date is believed.
	if skewed := u.At.Add(-ClockSkew); u.FutureDated(skewed) || u.State(skewed) != StateMissing {
		t.Errorf("a date within %s of now: future %v, state %s", ClockSkew, u.FutureDated(skewed), u.State(skewed))
	}
	// A documented record still discharges it.
	done := NewCommit(now)
	done.Commit = undeployed
	u.Record = done
	if s := u.State(now); s != StateDocumented {
		t.Errorf("documented: %s", s)
	}
}
