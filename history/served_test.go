package history

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/cfemu"
	"github.com/guardcm/guard/internal/gittest"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/ledger"
)

// TestReadServing reads what serves from the emulator, deployment after
// deployment, against a real repository: c1 ← c2 ← c3 on main.
func TestReadServing(t *testing.T) {
	ctx := context.Background()
	gittest.Isolate(t, gittest.Options{})
	dir := gittest.Repo(t)
	c1 := gittest.Commit(t, dir, "one", "a.txt", "1")
	c2 := gittest.Commit(t, dir, "two", "a.txt", "2")
	c3 := gittest.Commit(t, dir, "three", "a.txt", "3")
	repo := gittest.Open(t, gitx.Open, dir)

	clock := t0
	emu := cfemu.New(cfemu.WithClock(func() time.Time { clock = clock.Add(time.Minute); return clock }))
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	api := cfapi.New("test-token", cfemu.DefaultAccountID, cfapi.WithBaseURL(srv.URL+cfemu.APIPrefix), cfapi.WithRetries(0))
	acct := cfemu.DefaultAccountID
	upload := func(tag string) string {
		ann := map[string]string{}
		if tag != "" {
			ann["workers/tag"] = tag
		}
		id, err := emu.UploadVersion(acct, "api", ann)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	deploy := func(vs ...cfemu.DeploymentVersion) string {
		id, err := emu.Deploy(acct, "api", "", vs...)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	read := func() (*Serving, []string) {
		t.Helper()
		deps, err := api.Deployments(ctx, "api")
		if err != nil {
			t.Fatal(err)
		}
		s, passed, err := ReadServing(ctx, repo, api, "api", deps)
		if err != nil {
			t.Fatal(err)
		}
		return s, passed
	}

	upload(c1) // the first upload deploys
	v2 := upload(c2)
	d2 := deploy(cfemu.DeploymentVersion{VersionID: v2, Percentage: 100})
	s, passed := read()
	if s == nil || s.Deployment.ID != d2 || s.Base != c2 || len(passed) != 0 {
		t.Fatalf("serving v2: %+v, passed %q", s, passed)
	}

	// A record of a later commit disagrees, in the trust rules' words; one
	// of the served commit does not.
	forged := ledger.Record{Time: t0.Add(time.Hour), Kind: ledger.KindDeploy, Status: ledger.StatusSucceeded,
		Commit: c3, VersionID: "v-forged", DeploymentID: "d-forged", Operator: "eve@example.com"}
	got := s.Disagreement(forged)
	for _, want := range []string{"deploy records disagree with the Cloudflare API: the record of a deploy succeeded of version v-forged from commit " + gitx.ShortHash(c3),
		"operator eve@example.com", "is not what serves: deployment " + d2 + " serves version " + v2 + " from commit " + gitx.ShortHash(c2)} {
		if !strings.Contains(got, want) {
			t.Errorf("Disagreement = %q, want it to contain %q", got, want)
		}
	}
	if got := s.Disagreement(ledger.Record{Commit: c2, VersionID: v2, DeploymentID: d2}); got != "" {
		t.Errorf("Disagreement of the served record = %q", got)
	}
	sameDeployment := forged
	sameDeployment.DeploymentID = d2
	if got := s.Disagreement(sameDeployment); !strings.Contains(got, "a record says deployment "+d2+" served version v-forged, the Cloudflare API says "+v2) {
		t.Errorf("Disagreement naming the serving deployment = %q", got)
	}
	sameVersion := forged
	sameVersion.VersionID, sameVersion.DeploymentID = v2, ""
	if got := s.Disagreement(sameVersion); !strings.Contains(got, "the record says commit "+gitx.ShortHash(c3)+", version "+v2+"'s workers/tag says "+gitx.ShortHash(c2)) {
		t.Errorf("Disagreement naming the served version = %q", got)
	}

	// A split (a gradual deploy under way) builds on the merge base, and a
	// record of either version agrees.
	v3 := upload(c3)
	d3 := deploy(cfemu.DeploymentVersion{VersionID: v2, Percentage: 90}, cfemu.DeploymentVersion{VersionID: v3, Percentage: 10})
	s, _ = read()
	if s == nil || s.Deployment.ID != d3 || s.Base != c2 || len(s.Commits) != 2 || s.Commits[1] != c3 {
		t.Fatalf("serving the split: %+v", s)
	}
	if got := s.Disagreement(forged); got != "" {
		t.Errorf("Disagreement of a record of the split's new version = %q", got)
	}

	// Deployments made outside guard, or of a commit this clone lacks, are
	// passed over, with why.
	outside := upload("")
	deploy(cfemu.DeploymentVersion{VersionID: outside, Percentage: 100})
	elsewhere := upload(strings.Repeat("e", 40))
	deploy(cfemu.DeploymentVersion{VersionID: elsewhere, Percentage: 100})
	s, passed = read()
	if s == nil || s.Deployment.ID != d3 || len(passed) != 2 || len(s.Passed) != 2 {
		t.Fatalf("after outside deployments: %+v, passed %q", s, passed)
	}
	if !strings.Contains(passed[0], "version "+elsewhere+"'s commit eeeeeeeeeeee is not in this clone") ||
		!strings.Contains(passed[1], "version "+outside+"'s workers/tag \"\" is not a commit (deployed outside guard)") {
		t.Errorf("passed: %q", passed)
	}

	// A worker guard never deployed: nothing qualifies.
	if _, err := emu.UploadVersion(acct, "web", nil); err != nil {
		t.Fatal(err)
	}
	deps, err := api.Deployments(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if s, passed, err := ReadServing(ctx, repo, api, "web", deps); err != nil || s != nil || len(passed) != 1 {
		t.Fatalf("web: %+v %q %v", s, passed, err)
	}
	if got := Unconfirmed(forged); !strings.Contains(got, "is confirmed by none of the deployments the Cloudflare API lists") {
		t.Errorf("Unconfirmed = %q", got)
	}
}

// BenchmarkReadServing is the API work a deploy adds to learn its base —
// list the deployments, read the served version, resolve its commit —
// against the in-process emulator (loopback HTTP, real git). The deploy
// runs it while the build is prepared (deploy.readServed).
func BenchmarkReadServing(b *testing.B) {
	ctx := context.Background()
	gittest.Isolate(b, gittest.Options{})
	dir := gittest.Repo(b)
	c1 := gittest.Commit(b, dir, "one", "a.txt", "1")
	repo := gittest.Open(b, gitx.Open, dir)
	emu := cfemu.New()
	srv := httptest.NewServer(emu)
	b.Cleanup(srv.Close)
	api := cfapi.New("test-token", cfemu.DefaultAccountID, cfapi.WithBaseURL(srv.URL+cfemu.APIPrefix), cfapi.WithRetries(0))
	if _, err := emu.UploadVersion(cfemu.DefaultAccountID, "api", map[string]string{"workers/tag": c1}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		deps, err := api.Deployments(ctx, "api")
		if err != nil {
			b.Fatal(err)
		}
		s, _, err := ReadServing(ctx, repo, api, "api", deps)
		if err != nil || s == nil || s.Base != c1 {
			b.Fatalf("%+v %v", s, err)
		}
	}
}
