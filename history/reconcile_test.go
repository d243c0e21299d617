package history

import (
	"context"
	"testing"
	"time"

	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/ledger"
)

var t0 = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

const (
	commitA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	commitB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func dep(id, version string, at time.Time) cfapi.Deployment {
	return cfapi.Deployment{ID: id, CreatedOn: at, Versions: []cfapi.DeploymentVersion{{VersionID: version, Percentage: 100}}}
}

// newestFirst orders deployments as the API lists them.
func newestFirst(ds ...cfapi.Deployment) []cfapi.Deployment {
	out := make([]cfapi.Deployment, len(ds))
	for i, d := range ds {
		out[len(ds)-1-i] = d
	}
	return out
}

func tags(m map[string]string) VersionLookup {
	return func(id string) (string, bool) {
		t, ok := m[id]
		return t, ok
	}
}

func TestReconcile(t *testing.T) {
	pendingNoVersion := ledger.Record{Seq: 3, Time: t0, Kind: ledger.KindDeploy, Status: ledger.StatusPending, Commit: commitB}
	pendingWithVersion := pendingNoVersion
	pendingWithVersion.VersionID = "v2"
	versions := tags(map[string]string{"v1": commitA, "v2": commitB, "v3": commitB})

	cases := []struct {
		name    string
		rec     ledger.Record
		deps    []cfapi.Deployment
		claimed map[string]bool
		status  string
		dep     string
		version string
	}{
		{"version known, deployed", pendingWithVersion,
			newestFirst(dep("d1", "v1", t0.Add(-time.Hour)), dep("d2", "v2", t0.Add(2*time.Second))), nil,
			ledger.StatusSucceeded, "d2", "v2"},
		{"version known, never deployed", pendingWithVersion,
			newestFirst(dep("d1", "v1", t0.Add(-time.Hour))), nil,
			ledger.StatusFailed, "", "v2"},
		{"crash during wrangler, deployment found by tag", pendingNoVersion,
			newestFirst(dep("d1", "v1", t0.Add(-time.Hour)), dep("d2", "v2", t0.Add(time.Second)), dep("d3", "v3", t0.Add(time.Minute))), nil,
			ledger.StatusSucceeded, "d2", "v2"},
		{"crash during wrangler, nothing deployed", pendingNoVersion,
			newestFirst(dep("d1", "v1", t0.Add(-time.Hour))), nil,
			ledger.StatusFailed, "", ""},
		{"deployment of the commit before the record is not its outcome", pendingNoVersion,
			newestFirst(dep("d0", "v2", t0.Add(-time.Hour))), nil,
			ledger.StatusFailed, "", ""},
		{"a deployment another record claims is skipped", pendingNoVersion,
			newestFirst(dep("d2", "v2", t0.Add(time.Second)), dep("d3", "v3", t0.Add(time.Minute))), map[string]bool{"d2": true},
			ledger.StatusSucceeded, "d3", "v3"},
		{"never deployed worker", pendingNoVersion, nil, nil, ledger.StatusFailed, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := Reconcile(c.rec, c.deps, c.claimed, versions)
			if out.Status != c.status || out.DeploymentID != c.dep || out.VersionID != c.version {
				t.Errorf("got %+v, want %s %s %s", out, c.status, c.dep, c.version)
			}
			if out.Status == ledger.StatusFailed && out.Why == "" {
				t.Error("a failure without a reason")
			}
		})
	}
}

func TestReconcileUndecidableWhenListScrolledOff(t *testing.T) {
	rec := ledger.Record{Seq: 1, Time: t0, Kind: ledger.KindDeploy, Status: ledger.StatusPending, Commit: commitB}
	var deps []cfapi.Deployment
	for i := 0; i < DeploymentsListCap; i++ {
		deps = append(deps, dep("d", "v1", t0.Add(time.Duration(DeploymentsListCap-i)*time.Hour)))
	}
	out := Reconcile(rec, deps, nil, tags(map[string]string{"v1": commitA}))
	if out.Status != "" || out.Why == "" {
		t.Fatalf("got %+v, want undecided", out)
	}
}

func TestJoin(t *testing.T) {
	ops := []*op{
		{rec: ledger.Record{Seq: 2, Time: t0, Kind: ledger.KindDeploy, Status: ledger.StatusSucceeded, Commit: commitA,
			VersionID: "v1", DeploymentID: "d1", Verified: ledger.VerifiedGood, Operator: "ada@example.com", Categories: []string{"normal"}}, local: true, seq: 1},
		{rec: ledger.Record{Seq: 4, Time: t0.Add(time.Hour), Kind: ledger.KindDeploy, Status: ledger.StatusFailed, Commit: commitB,
			Error: "wrangler deploy failed"}, local: true, seq: 3},
		// A teammate's deploy, known from the notes.
		{rec: ledger.Record{Seq: 9, Time: t0.Add(2 * time.Hour), Kind: ledger.KindDeploy, Status: ledger.StatusSucceeded, Commit: commitB,
			VersionID: "v2", DeploymentID: "d2", Verified: ledger.VerifiedBad, Operator: "grace@example.com"}},
	}
	deps := newestFirst(
		dep("d1", "v1", t0.Add(time.Second)),
		dep("d2", "v2", t0.Add(2*time.Hour+time.Second)),
		cfapi.Deployment{ID: "d3", CreatedOn: t0.Add(3 * time.Hour), AuthorEmail: "someone@example.com", TriggeredBy: "rollback", Message: "by hand",
			Versions: []cfapi.DeploymentVersion{{VersionID: "v1", Percentage: 100}}},
		cfapi.Deployment{ID: "d4", CreatedOn: t0.Add(4 * time.Hour), AuthorEmail: "someone@example.com",
			Versions: []cfapi.DeploymentVersion{{VersionID: "v3", Percentage: 90}, {VersionID: "v1", Percentage: 10}}},
	)
	vc := &versionCache{m: map[string]*cfapi.Version{
		"v1": {ID: "v1", Tag: commitA},
		"v3": {ID: "v3", Tag: "not-a-commit"},
	}}
	entries := join(context.Background(), ops, deps, vc)
	type row struct{ kind, status, verified, source, version, deployment, commit string }
	want := []row{
		{"deploy", "succeeded", "unverified", "outside", "v3", "d4", ""},
		{"rollback", "succeeded", "unverified", "outside", "v1", "d3", commitA},
		{"deploy", "succeeded", "bad", "guard", "v2", "d2", commitB},
		{"deploy", "failed", "unverified", "guard", "", "", commitB},
		{"deploy", "succeeded", "good", "guard", "v1", "d1", commitA},
	}
	if len(entries) != len(want) {
		t.Fatalf("%d entries: %+v", len(entries), entries)
	}
	for i, e := range entries {
		got := row{e.Kind, e.Status, e.Verified, e.Source, e.VersionID, e.DeploymentID, e.Commit}
		if got != want[i] {
			t.Errorf("entry %d: got %+v, want %+v", i, got, want[i])
		}
	}
	if !entries[0].Current || entries[1].Current || len(entries[0].Versions) != 2 {
		t.Errorf("current/split wrong: %+v", entries[0])
	}
	if entries[3].Listed || !entries[4].Listed || !entries[4].Time.Equal(t0.Add(time.Second)) {
		t.Errorf("listed/time wrong: %+v / %+v", entries[3], entries[4])
	}
	if entries[1].Operator != "someone@example.com" || entries[1].Message != "by hand" {
		t.Errorf("outside entry: %+v", entries[1])
	}

}

func TestIsCommitHash(t *testing.T) {
	for s, want := range map[string]bool{
		commitA:                true,
		commitA[:39]:           false,
		"ABCDEF" + commitA[6:]: false,
		"main":                 false,
		commitA + commitA[:24]: true,
		"g" + commitA[1:]:      false,
	} {
		if IsCommitHash(s) != want {
			t.Errorf("IsCommitHash(%q) = %v", s, !want)
		}
	}
}
