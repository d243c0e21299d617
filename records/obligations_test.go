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
