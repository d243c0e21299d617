package history

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/cfemu"
	"github.com/guardcm/guard/internal/gittest"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/ledger"
)

func gitEnv(t *testing.T) {
	t.Helper()
	gittest.Isolate(t, gittest.Options{})
}

func openRepo(t *testing.T, dir string) *gitx.Repo {
	t.Helper()
	return gittest.Open(t, gitx.Open, dir)
}

const worker = "api"

func stamp(t time.Time) string { return t.UTC().Format(cfemu.TimeFormat) }

// fixture: a remote, a clone with two pushed commits, and an emulator
// whose worker has three deployments: d1 (v1, commit 1, by guard), d2
// (v2, commit 2, whose guard record is pending: the deploy crashed), d3
// (v1 again, rolled back by hand with wrangler: outside guard).
type fixture struct {
	remote, work string
	c1, c2       string
	emu          *cfemu.Emulator
	api          *cfapi.Client
	ledger       *ledger.Ledger
	repo         *gitx.Repo
}

func newFixture(t *testing.T) *fixture {
	gitEnv(t)
	f := &fixture{remote: gittest.Bare(t)}
	f.work = gittest.Clone(t, f.remote)
	gittest.Git(t, f.work, "commit", "--quiet", "--allow-empty", "-m", "one")
	f.c1 = gittest.Git(t, f.work, "rev-parse", "HEAD")
	gittest.Git(t, f.work, "commit", "--quiet", "--allow-empty", "-m", "two")
	f.c2 = gittest.Git(t, f.work, "rev-parse", "HEAD")
	gittest.Git(t, f.work, "push", "--quiet", "origin", "main")

	version := func(id string, n int, at time.Time, tag string) *cfemu.Version {
		return &cfemu.Version{ID: id, Number: n, Metadata: cfemu.VersionMetadata{CreatedOn: stamp(at), ModifiedOn: stamp(at), AuthorEmail: "ada@example.com", Source: "wrangler"},
			Annotations: map[string]string{"workers/tag": tag, "workers/triggered_by": "upload"}}
	}
	deployment := func(id, v string, at time.Time, triggered, msg string) *cfemu.Deployment {
		return &cfemu.Deployment{ID: id, CreatedOn: stamp(at), Source: "wrangler", Strategy: "percentage", AuthorEmail: "ada@example.com",
			Annotations: map[string]string{"workers/triggered_by": triggered, "workers/message": msg},
			Versions:    []cfemu.DeploymentVersion{{VersionID: v, Percentage: 100}}}
	}
	st := cfemu.State{Accounts: map[string]*cfemu.Account{cfemu.DefaultAccountID: {
		ID: cfemu.DefaultAccountID, Subdomain: "x", D1: map[string]*cfemu.Database{},
		Scripts: map[string]*cfemu.Script{worker: {
			Name: worker, Tag: "tag", CreatedOn: stamp(t0), ModifiedOn: stamp(t0),
			Versions: []*cfemu.Version{version("v1", 1, t0.Add(time.Second), f.c1), version("v2", 2, t0.Add(time.Hour+time.Second), f.c2)},
			Deployments: []*cfemu.Deployment{
				deployment("d1", "v1", t0.Add(2*time.Second), "deployment", "one [guard "+gitx.ShortHash(f.c1)+" normal]"),
				deployment("d2", "v2", t0.Add(time.Hour+2*time.Second), "deployment", "two [guard "+gitx.ShortHash(f.c2)+" normal]"),
				deployment("d3", "v1", t0.Add(2*time.Hour), "rollback", "by hand"),
			},
			Settings: map[string]any{},
		}},
	}}}
	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	stateFile := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(stateFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f.emu = cfemu.New()
	if err := f.emu.LoadStateFile(stateFile); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f.emu)
	t.Cleanup(srv.Close)
	f.api = cfapi.New("test-token", cfemu.DefaultAccountID, cfapi.WithBaseURL(srv.URL+cfemu.APIPrefix), cfapi.WithRetries(0))

	f.repo = openRepo(t, f.work)
	f.ledger = ledger.Open(ledger.DefaultPath(f.repo))
	rec := func(r ledger.Record) ledger.Record {
		r.Worker, r.Account, r.Kind, r.Operator = worker, cfemu.DefaultAccountID, ledger.KindDeploy, "ada@example.com"
		out, err := f.ledger.Append(r)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	p1 := rec(ledger.Record{Time: t0, Status: ledger.StatusPending, Commit: f.c1})
	rec(ledger.Record{Time: t0.Add(3 * time.Second), Status: ledger.StatusSucceeded, Ref: p1.Seq, Commit: f.c1, VersionID: "v1", DeploymentID: "d1", Verified: ledger.VerifiedGood})
	rec(ledger.Record{Time: t0.Add(time.Hour), Status: ledger.StatusPending, Commit: f.c2, Categories: []string{"normal"}})
	return f
}

func (f *fixture) source() Source {
	return Source{Repo: f.repo, API: f.api, Ledger: f.ledger, Remote: "origin", FetchTimeout: 10 * time.Second, Account: cfemu.DefaultAccountID,
		Branch: "refs/remotes/origin/main"}
}

func summary(es []Entry) string {
	var s []string
	for _, e := range es {
		s = append(s, strings.Join([]string{e.DeploymentID, e.Kind, e.Status, e.Verified, e.Source}, " "))
	}
	return strings.Join(s, "\n")
}

func TestLoadReconcilesAndShares(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	entries, warnings, err := Load(ctx, f.source(), worker)
	if err != nil {
		t.Fatal(err)
	}
	want := "d3 rollback succeeded unverified outside\nd2 deploy succeeded unverified guard\nd1 deploy succeeded good guard"
	if got := summary(entries); got != want {
		t.Fatalf("got\n%s\nwant\n%s\nwarnings %q", got, want, warnings)
	}
	if entries[0].Commit != f.c1 || !entries[0].Current || entries[1].Commit != f.c2 {
		t.Errorf("commits/current: %+v", entries[:2])
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "reconciled ledger record 3 against the Cloudflare API: succeeded (version v2, deployment d2)") {
		t.Errorf("warnings %q", warnings)
	}
	// The outcome is in the ledger, chained to the pending record, and the
	// chain is intact.
	recs, err := f.ledger.Records()
	if err != nil {
		t.Fatal(err)
	}
	last := recs[len(recs)-1]
	if len(recs) != 4 || last.Ref != 3 || last.Status != ledger.StatusSucceeded || last.DeploymentID != "d2" || last.Categories[0] != "normal" {
		t.Fatalf("ledger: %+v", recs)
	}
	if probs, _ := f.ledger.Verify(); len(probs) != 0 {
		t.Errorf("chain broken: %v", probs)
	}
	// A second Load reconciles nothing more.
	if _, warnings, err = Load(ctx, f.source(), worker); err != nil || len(warnings) != 0 {
		t.Errorf("second load: %q %v", warnings, err)
	}

	// A fresh clone without a ledger learns d2's record from the remote's
	// notes; d1's record was never shared, so d1 counts as outside there.
	other := filepath.Join(t.TempDir(), "other")
	gittest.Git(t, "/", "clone", "--quiet", f.remote, other)
	src := f.source()
	src.Repo, src.Ledger = openRepo(t, other), nil
	entries, _, err = Load(ctx, src, worker)
	if err != nil {
		t.Fatal(err)
	}
	want = "d3 rollback succeeded unverified outside\nd2 deploy succeeded unverified guard\nd1 deploy succeeded unverified outside"
	if got := summary(entries); got != want {
		t.Errorf("fresh clone: got\n%s\nwant\n%s", got, want)
	}
}

func TestLoadLeavesARunningDeployAlone(t *testing.T) {
	f := newFixture(t)
	lk, err := ledger.AcquireLock(ledger.LockDir(f.repo), LockName(worker))
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Release()
	entries, warnings, err := Load(context.Background(), f.source(), worker)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "another deploy of api is running") {
		t.Errorf("warnings %q", warnings)
	}
	// The pending record shows as pending; d2 stays unexplained.
	if got := summary(entries); !strings.Contains(got, "d2 deploy succeeded unverified outside") || !strings.Contains(got, " deploy pending unverified guard") {
		t.Errorf("got\n%s", got)
	}
	if recs, _ := f.ledger.Records(); len(recs) != 3 {
		t.Errorf("ledger written while locked: %d records", len(recs))
	}
}

func TestLoadAPIDown(t *testing.T) {
	f := newFixture(t)
	if err := f.emu.AddFault(cfemu.Fault{Path: "/**", Status: 503}); err != nil {
		t.Fatal(err)
	}
	entries, _, err := Load(context.Background(), f.source(), worker)
	var partial *PartialError
	if !errors.As(err, &partial) {
		t.Fatalf("err = %v, want a PartialError", err)
	}
	// Without the API nothing is confirmed: the good mark does not stand.
	if got := summary(entries); got != " deploy pending unverified guard\nd1 deploy succeeded unverified guard" {
		t.Errorf("records-only entries:\n%s", got)
	}
	if recs, _ := f.ledger.Records(); len(recs) != 3 {
		t.Errorf("reconciled without the API: %d records", len(recs))
	}
}

func TestLoadOffline(t *testing.T) {
	f := newFixture(t)
	src := f.source()
	src.Remote = "nowhere"
	_, warnings, err := Load(context.Background(), src, worker)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) < 1 || !strings.Contains(warnings[0], "could not fetch the team's deploy records") {
		t.Errorf("warnings %q", warnings)
	}
}

func TestCheckAgainstNotes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, _, err := Load(ctx, f.source(), worker); err != nil { // reconciles and notes record 4
		t.Fatal(err)
	}
	if probs, _, err := CheckAgainstNotes(ctx, f.repo, f.ledger); err != nil || len(probs) != 0 {
		t.Fatalf("untouched ledger: %v %v", probs, err)
	}
	// Edit the last line: the chain cannot see it, the notes can.
	data, err := os.ReadFile(f.ledger.Path())
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), `"verified":"unverified"`, `"verified":"good"`, 1)
	if edited == string(data) {
		t.Fatal("fixture has no unverified record to edit")
	}
	if err := os.WriteFile(f.ledger.Path(), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if probs, _ := f.ledger.Verify(); len(probs) != 0 {
		t.Fatalf("the chain caught a last-line edit after all: %v", probs)
	}
	probs, _, err := CheckAgainstNotes(ctx, f.repo, f.ledger)
	if err != nil || len(probs) != 1 || probs[0].Line != 4 || !strings.Contains(probs[0].Message, "verified") {
		t.Fatalf("got %v %v", probs, err)
	}
}
