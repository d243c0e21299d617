package rollback

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/guardcm/guard/history"
	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/ledger"
)

var t0 = time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)

func vid(n int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012d", n, n) }

// versions returns n versions, newest first, numbered n..1.
func versions(n int) []cfapi.Version {
	out := make([]cfapi.Version, 0, n)
	for i := n; i >= 1; i-- {
		out = append(out, cfapi.Version{ID: vid(i), Number: i, CreatedOn: t0.Add(time.Duration(i) * time.Minute), Tag: fmt.Sprintf("%040d", i)})
	}
	return out
}

// dep is a deployment entry of version n at minute m with a mark, trusted
// (the API and the remote branch confirm it).
func dep(n, m int, verified string) history.Entry {
	if verified == "" {
		verified = ledger.VerifiedUnverified
	}
	return history.Entry{
		Time: t0.Add(time.Duration(m) * time.Minute), Kind: ledger.KindDeploy, Status: ledger.StatusSucceeded,
		VersionID: vid(n), DeploymentID: fmt.Sprintf("dep-%d-%d", n, m), Verified: verified, Source: history.SourceGuard,
		Listed: true, Operator: "ada@example.com", Trusted: true,
	}
}

// untrusted is dep whose records the API or the branch do not confirm.
func untrusted(n, m int, verified, why string) history.Entry {
	e := dep(n, m, verified)
	e.Trusted, e.Distrust = false, why
	return e
}

// hist marks the first entry current (the entries are newest first).
func hist(es ...history.Entry) []history.Entry {
	if len(es) > 0 {
		es[0].Current = true
	}
	return es
}

func mustChoose(t *testing.T, in Input) *Choice {
	t.Helper()
	c, err := Choose(in)
	if err != nil {
		t.Fatalf("Choose: %v (hints %v)", err, fail.HintsOf(err))
	}
	return c
}

func mustRefuse(t *testing.T, in Input, kind fail.Kind, want ...string) error {
	t.Helper()
	_, err := Choose(in)
	if err == nil {
		t.Fatalf("Choose succeeded, want a refusal with %q", want)
	}
	if fail.KindOf(err) != kind {
		t.Errorf("kind %v, want %v: %v", fail.KindOf(err), kind, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	return err
}

func TestChooseSkipsBadToVerifiedGood(t *testing.T) {
	in := Input{
		Entries:  hist(dep(3, 30, ""), dep(2, 20, ledger.VerifiedBad), dep(1, 10, ledger.VerifiedGood)),
		Versions: versions(3),
	}
	c := mustChoose(t, in)
	if c.Target.ID != vid(1) || c.Rule != RuleVerifiedGood || c.Position != 3 {
		t.Fatalf("target %s rule %s position %d", c.Target.ID, c.Rule, c.Position)
	}
	if c.TargetEntry == nil || c.TargetEntry.DeploymentID != "dep-1-10" {
		t.Errorf("target entry %+v", c.TargetEntry)
	}
	if c.Serving.VersionID != vid(3) || c.ServingVersion == nil || c.ServingVersion.Number != 3 {
		t.Errorf("serving %+v", c.Serving)
	}
	text := strings.Join(c.Explanation, "\n")
	if !strings.Contains(text, "verified good") || !strings.Contains(text, vid(2)+" (number 2, verified bad)") {
		t.Errorf("explanation %q", text)
	}
}

func TestChooseBadWinsAndNewerBadIsSkipped(t *testing.T) {
	// v4 serves; v3 was once verified good and later bad (bad wins); v2 good.
	in := Input{
		Entries: hist(dep(4, 40, ledger.VerifiedBad), dep(3, 35, ledger.VerifiedBad), dep(3, 30, ledger.VerifiedGood),
			dep(2, 20, ledger.VerifiedGood), dep(1, 10, ledger.VerifiedGood)),
		Versions: versions(4),
	}
	c := mustChoose(t, in)
	if c.Target.ID != vid(2) {
		t.Fatalf("target %s, want v2", c.Target.ID)
	}
	if m := Marks(in.Entries); m[vid(3)] != ledger.VerifiedBad || m[vid(4)] != ledger.VerifiedBad || m[vid(2)] != ledger.VerifiedGood {
		t.Errorf("marks %v", m)
	}
}

func TestChooseSkipsNeverVerifiedWhenMarksExist(t *testing.T) {
	in := Input{
		Entries:  hist(dep(4, 40, ledger.VerifiedBad), dep(3, 30, ""), dep(2, 20, ledger.VerifiedGood), dep(1, 10, "")),
		Versions: versions(4),
	}
	c := mustChoose(t, in)
	if c.Target.ID != vid(2) || !strings.Contains(strings.Join(c.Explanation, " "), "never verified") {
		t.Fatalf("target %s, explanation %v", c.Target.ID, c.Explanation)
	}
}

func TestChooseWithoutAnyMarkTakesPreviousDistinct100(t *testing.T) {
	split := dep(2, 25, "")
	split.Versions = []cfapi.DeploymentVersion{{VersionID: vid(2), Percentage: 90}, {VersionID: vid(3), Percentage: 10}}
	failed := dep(2, 22, "")
	failed.Status = ledger.StatusFailed
	in := Input{
		// v3 serves, was deployed twice; a split and a failed deploy come
		// before v1, which served 100%.
		Entries:  hist(dep(3, 30, ""), dep(3, 28, ""), split, failed, dep(1, 10, "")),
		Versions: versions(3),
	}
	c := mustChoose(t, in)
	if c.Target.ID != vid(1) || c.Rule != RulePrevious {
		t.Fatalf("target %s rule %s", c.Target.ID, c.Rule)
	}
	text := strings.Join(c.Explanation, " ")
	if !strings.Contains(text, "no version of the worker carries a verification mark") || !strings.Contains(text, "previous distinct version that served 100%") {
		t.Errorf("explanation does not say so: %q", text)
	}
	if len(c.Warnings) == 0 || !strings.Contains(c.Warnings[0], "never verified") {
		t.Errorf("warnings %v", c.Warnings)
	}
}

func TestChoosePreviousIgnoresVersionsTheAPIDoesNotList(t *testing.T) {
	in := Input{Entries: hist(dep(3, 30, ""), dep(2, 20, ""), dep(1, 10, "")), Versions: versions(3)}
	in.Versions = append(in.Versions[:1], in.Versions[2:]...) // v2 gone
	if c := mustChoose(t, in); c.Target.ID != vid(1) {
		t.Fatalf("target %s", c.Target.ID)
	}
}

func TestChooseRefusesBeyondTheLimit(t *testing.T) {
	vs := versions(150)
	// v1 was the last good one; 149 versions were uploaded after it.
	in := Input{Entries: hist(dep(150, 150, ledger.VerifiedBad), dep(1, 1, ledger.VerifiedGood)), Versions: vs}
	err := mustRefuse(t, in, fail.KindRefused, "the newest version verified good, "+vid(1), "150th newest", "only to the 100 most recent versions")
	if h := fail.HintsOf(err); len(h) == 0 || !strings.Contains(h[0], "redeploy") {
		t.Errorf("hints %v", h)
	}
	// The same through --to, and the edge: the 100th newest is allowed,
	// the 101st is not.
	in.To = vid(1)
	mustRefuse(t, in, fail.KindRefused, "version "+vid(1), "100 most recent")
	in.To = vid(50) // 101st newest
	mustRefuse(t, in, fail.KindRefused, "101st newest")
	in.To = vid(51) // 100th newest
	if c := mustChoose(t, in); c.Position != 100 {
		t.Errorf("position %d", c.Position)
	}
	// Without marks, the previous 100% version beyond the limit.
	in = Input{Entries: hist(dep(150, 150, ""), dep(1, 1, "")), Versions: vs}
	mustRefuse(t, in, fail.KindRefused, "the previous version that served 100%, "+vid(1), "100 most recent")
}

func TestChooseExplicit(t *testing.T) {
	base := Input{
		Entries:  hist(dep(3, 30, ""), dep(2, 20, ledger.VerifiedBad), dep(1, 10, ledger.VerifiedGood)),
		Versions: versions(4), // v4 uploaded, never deployed
	}
	in := base
	in.To = vid(3)
	mustRefuse(t, in, fail.KindRefused, "already serves 100%")

	in.To = vid(2)
	c := mustChoose(t, in)
	if c.Rule != RuleExplicit || c.Target.ID != vid(2) || !strings.Contains(strings.Join(c.Warnings, " "), "verified BAD") {
		t.Errorf("bad target: rule %s warnings %v", c.Rule, c.Warnings)
	}

	in.To = vid(4)[:8] // unique prefix, newer than serving, never deployed
	c = mustChoose(t, in)
	w := strings.Join(c.Warnings, " ")
	if c.Target.ID != vid(4) || !strings.Contains(w, "rolls forward") || !strings.Contains(w, "never served") || c.TargetEntry != nil {
		t.Errorf("target %s warnings %v", c.Target.ID, c.Warnings)
	}

	in.To = "00000001-0000-4000-8000-999999999999"
	mustRefuse(t, in, fail.KindUsage, "no such version")
	in.To = "0000000" // too short to be a prefix
	mustRefuse(t, in, fail.KindUsage, "no such version")

	in = base
	in.Versions = append(in.Versions, cfapi.Version{ID: vid(1)[:8] + "-ffff-4000-8000-000000000000", Number: 0})
	in.To = vid(1)[:8]
	mustRefuse(t, in, fail.KindUsage, "matches 2 versions")
}

func TestChooseExplicitServingVersionOfASplit(t *testing.T) {
	cur := dep(3, 30, "")
	cur.VersionID = vid(3)
	cur.Versions = []cfapi.DeploymentVersion{{VersionID: vid(3), Percentage: 60}, {VersionID: vid(2), Percentage: 40}}
	in := Input{Entries: hist(cur, dep(2, 20, "")), Versions: versions(3), To: vid(3)}
	if c := mustChoose(t, in); c.Target.ID != vid(3) {
		t.Fatalf("target %s", c.Target.ID)
	}
}

func TestChooseRefusals(t *testing.T) {
	mustRefuse(t, Input{Versions: versions(2)}, fail.KindRefused, "no deployment serving traffic")

	// After a rollback to v1 the good v2 is newer than what serves: no
	// earlier good version. The hint names the previous 100% version.
	in := Input{Entries: hist(dep(1, 40, ""), dep(3, 30, ledger.VerifiedBad), dep(2, 20, ledger.VerifiedGood), dep(1, 10, "")), Versions: versions(3)}
	mustRefuse(t, in, fail.KindRefused, "no version older than the serving "+vid(1)+" was verified good")

	in = Input{Entries: hist(dep(3, 30, ledger.VerifiedBad), dep(2, 20, ""), dep(1, 10, "")), Versions: versions(3)}
	err := mustRefuse(t, in, fail.KindRefused, "was verified good", "never verified")
	if h := fail.HintsOf(err); len(h) != 1 || !strings.Contains(h[0], "guard rollback --to "+vid(2)) {
		t.Errorf("hint %v", h)
	}

	in = Input{Entries: hist(dep(3, 30, ""), dep(3, 20, "")), Versions: versions(3)}
	mustRefuse(t, in, fail.KindRefused, "no earlier version than the serving")
}

func TestChooseServingVersionUnknownToTheAPI(t *testing.T) {
	in := Input{Entries: hist(dep(9, 90, ledger.VerifiedBad), dep(1, 10, ledger.VerifiedGood)), Versions: versions(2)}
	c := mustChoose(t, in)
	if c.ServingVersion != nil || c.Target.ID != vid(1) {
		t.Fatalf("serving %v target %s", c.ServingVersion, c.Target.ID)
	}
}

func TestOrdinal(t *testing.T) {
	for n, want := range map[int]string{1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 11: "11th", 12: "12th", 13: "13th", 21: "21st", 101: "101st", 112: "112th"} {
		if got := ordinal(n); got != want {
			t.Errorf("ordinal(%d) = %s", n, got)
		}
	}
}

func TestAge(t *testing.T) {
	now := t0.Add(50 * time.Hour)
	for d, want := range map[time.Duration]string{30 * time.Second: "just now", 12 * time.Minute: "12m ago", 3*time.Hour + 5*time.Minute: "3h05m ago", 50 * time.Hour: "2d02h ago"} {
		if got := Age(now, now.Add(-d)); got != want {
			t.Errorf("Age(%s) = %s, want %s", d, got, want)
		}
	}
	if Age(now, time.Time{}) != "unknown" {
		t.Error("zero time")
	}
}

// A good mark on an entry the API and the branch do not confirm is not a
// mark: the forged note of issue 10 names a version that was only
// uploaded; an untrusted version is not the "previous" one either.
func TestChooseIgnoresUntrustedMarks(t *testing.T) {
	c := mustChoose(t, Input{Versions: versions(4), Entries: hist(
		dep(4, 40, ledger.VerifiedBad),
		untrusted(3, 50, ledger.VerifiedGood, "records disagree"),
		dep(2, 20, ledger.VerifiedGood),
		dep(1, 10, ledger.VerifiedGood),
	)})
	if c.Target.ID != vid(2) || c.Rule != RuleVerifiedGood {
		t.Errorf("target %s rule %s, want %s verified-good", c.Target.ID, c.Rule, vid(2))
	}
	c = mustChoose(t, Input{Versions: versions(3), Entries: hist(
		dep(3, 30, ""),
		untrusted(2, 20, "", "commit 0002 is not on origin/main"),
		dep(1, 10, ""),
	)})
	if c.Target.ID != vid(1) || c.Rule != RulePrevious {
		t.Errorf("target %s rule %s, want %s previous", c.Target.ID, c.Rule, vid(1))
	}
	mustRefuse(t, Input{Versions: versions(2), Entries: hist(
		dep(2, 20, ""),
		untrusted(1, 10, "", "deployment dep-1-10 does not carry guard's annotation"),
	)}, fail.KindRefused, "not confirmed: "+vid(1)+" (deployment dep-1-10 does not carry guard's annotation)")
	// Asked for by name it is allowed, with the reason as a warning.
	c = mustChoose(t, Input{To: vid(1), Versions: versions(2), Entries: hist(
		dep(2, 20, ""),
		untrusted(1, 10, "", "commit 0001 is not on origin/main"),
	)})
	if !strings.Contains(strings.Join(c.Warnings, "\n"), "is not confirmed as served through guard from the remote branch: commit 0001 is not on origin/main") {
		t.Errorf("warnings %q", c.Warnings)
	}
}
