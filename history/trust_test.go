package history

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/gittest"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/ledger"
)

func TestGuardAnnotation(t *testing.T) {
	for msg, want := range map[string]string{
		"Add login [guard 0123456789ab normal]":   "0123456789ab normal",
		"[guard 0123456789ab major]  ":            "0123456789ab major",
		"Add login [guard 0123456789ab normal] x": "",
		"Rollback":           "",
		"[guard XYZ normal]": "",
	} {
		c, cat, ok := GuardAnnotation(msg)
		got := ""
		if ok {
			got = c + " " + cat
		}
		if got != want {
			t.Errorf("GuardAnnotation(%q) = %q, want %q", msg, got, want)
		}
	}
}

// TestConfirm applies the trust rules to a real repository: commit main is
// on origin/main, commit side is only on a feature branch.
func TestConfirm(t *testing.T) {
	ctx := context.Background()
	gittest.Isolate(t, gittest.Options{})
	remote, onMain := gittest.Remote(t, "main commit", "a.txt", "a")
	dir := gittest.Clone(t, remote)
	gittest.Git(t, dir, "switch", "--quiet", "-c", "feature")
	side := gittest.Commit(t, dir, "side commit", "b.txt", "b")
	repo := gittest.Open(t, gitx.Open, dir)

	annotated := func(id, version, commit string, at time.Time) cfapi.Deployment {
		d := dep(id, version, at)
		d.Message = "change [guard " + gitx.ShortHash(commit) + " normal]"
		return d
	}
	good := func(seq int, version, deployment, commit string, at time.Time) *op {
		return &op{rec: ledger.Record{Seq: seq, Time: at, Kind: ledger.KindDeploy, Status: ledger.StatusSucceeded,
			VersionID: version, DeploymentID: deployment, Commit: commit, Verified: ledger.VerifiedGood}}
	}
	plain := dep("d2", "v2", t0.Add(2*time.Hour))
	plain.Message = "deployed by hand"
	deps := newestFirst(
		annotated("d1", "v1", onMain, t0.Add(time.Hour)),
		plain,
		annotated("d3", "v3", side, t0.Add(3*time.Hour)),
		annotated("d4", "v4", onMain, t0.Add(4*time.Hour)),
		annotated("d5", "v5", onMain, t0.Add(5*time.Hour)),
	)
	vc := &versionCache{m: map[string]*cfapi.Version{
		"v1": {ID: "v1", Tag: onMain}, "v2": {ID: "v2", Tag: onMain}, "v3": {ID: "v3", Tag: side},
		"v4": {ID: "v4", Tag: onMain}, "v5": {ID: "v5", Tag: onMain}, "v9": {ID: "v9", Tag: onMain},
	}}
	ops := []*op{
		good(2, "v1", "d1", onMain, t0.Add(time.Hour)),
		good(4, "v2", "d2", onMain, t0.Add(2*time.Hour)),
		good(6, "v3", "d3", side, t0.Add(3*time.Hour)),
		good(8, "v4", "d4", onMain, t0.Add(4*time.Hour)),
		// A forged copy of record 8: another version, later, good.
		good(8, "v9", "d4", onMain, t0.Add(9*time.Hour)),
		// A record of d5 that names a version d5 never served.
		good(10, "v9", "d5", onMain, t0.Add(5*time.Hour)),
		// A good record of a deployment the API does not list.
		good(12, "v1", "d0", onMain, t0),
	}
	src := Source{Repo: repo, Branch: "refs/remotes/origin/main"}
	entries := join(ctx, ops, deps, vc)
	warnings := confirm(ctx, src, entries, ops, deps, vc)

	byDep := map[string]Entry{}
	for _, e := range entries {
		if _, dup := byDep[e.DeploymentID]; !dup || e.Listed {
			byDep[e.DeploymentID] = e
		}
	}
	for _, c := range []struct {
		deployment, version string
		trusted             bool
		distrust            string
	}{
		{"d1", "v1", true, ""},
		{"d2", "v2", false, "deployment d2 does not carry guard's annotation"},
		{"d3", "v3", false, "commit " + gitx.ShortHash(side) + " is not on origin/main"},
		{"d4", "v4", false, "2 records about deployment d4 say: deploy succeeded of version v4"},
		{"d5", "v5", false, "records disagree: a record says deployment d5 served version v9, the Cloudflare API says v5"},
		{"d0", "v1", false, "the Cloudflare API does not list deployment \"d0\""},
	} {
		e, ok := byDep[c.deployment]
		if !ok {
			t.Errorf("%s: no entry", c.deployment)
			continue
		}
		if e.VersionID != c.version || e.Trusted != c.trusted || !strings.Contains(e.Distrust, c.distrust) {
			t.Errorf("%s: version %s trusted %v distrust %q; want %s %v %q", c.deployment, e.VersionID, e.Trusted, e.Distrust, c.version, c.trusted, c.distrust)
		}
		want := ledger.VerifiedGood
		if !c.trusted {
			want = ledger.VerifiedUnverified
		}
		if e.Verified != want {
			t.Errorf("%s: verified %s, want %s", c.deployment, e.Verified, want)
		}
	}
	all := strings.Join(warnings, "\n")
	for _, w := range []string{
		"deploy records disagree, so deployment d4 is not good: 2 records about deployment d4 say: deploy succeeded of version v4 from commit " + gitx.ShortHash(onMain) + ", verified good; deploy succeeded of version v9",
		"version v3 is recorded verified good (deployment d3), but that is not trusted: commit " + gitx.ShortHash(side) + " is not on origin/main",
	} {
		if !strings.Contains(all, w) {
			t.Errorf("warnings lack %q:\n%s", w, all)
		}
	}

	// Without a branch to check against, nothing is trusted.
	entries = join(ctx, ops[:1], deps, vc)
	confirm(ctx, Source{Repo: repo}, entries, ops[:1], deps, vc)
	for _, e := range entries {
		if e.Trusted {
			t.Errorf("trusted without a branch: %+v", e)
		}
	}
}
