package evidence

import (
	"context"
	"github.com/guardcm/guard/internal/gitx"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/cfemu"
	"github.com/guardcm/guard/internal/gittest"
	"github.com/guardcm/guard/ledger"
	"github.com/guardcm/guard/records"
)

var (
	deployNow    = time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	deployPeriod = NewPeriod(deployNow, 7*24*time.Hour)
)

const testWorker = "api"

// clock is the emulator's settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(s string) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

type deployFixture struct {
	work    string
	emu     *cfemu.Emulator
	api     *cfapi.Client
	ledger  *ledger.Ledger
	commits map[string]string
	// ids maps every version and deployment ID the emulator assigned to
	// a stable name for the golden file.
	ids map[string]string
}

// deployFixture: commits A and B on origin/main and X only in this clone;
// the worker's history, as the emulator and the ledger tell it:
//
//	11-19 v1 (A) first deploy by guard            (before the period)
//	11-22 v2 (B) deploy by guard, verified good
//	11-23 v3 (X) deploy outside guard, commit not on the branch
//	11-24 v2     rollback by guard, record committed on main
//	11-25 v1     rollback outside guard (wrangler rollback), no record
//	11-26        deploy by guard that failed (no deployment)
//	11-27 v2 90% + v1 10%: a gradual deploy outside guard
func newDeployFixture(t *testing.T) *deployFixture {
	t.Helper()
	gitEnv(t)
	work, _ := newClone(t)
	f := &deployFixture{work: work, commits: map[string]string{}, ids: map[string]string{}}
	f.commits["A"] = gittest.CommitAt(t, work, "2026-11-18T10:00:00Z", "Initial worker\n\nChange-Category: normal", "src/index.js", "export default {}\n")
	f.commits["B"] = gittest.CommitAt(t, work, "2026-11-21T10:00:00Z", "Add search\n\nChange-Category: normal", "src/search.js", "export {}\n")
	gittest.Git(t, work, "push", "--quiet", "origin", "main")
	gittest.Git(t, work, "checkout", "--quiet", "-b", "local-only")
	f.commits["X"] = gittest.CommitAt(t, work, "2026-11-23T09:00:00Z", "Experiment\n\nChange-Category: normal", "src/x.js", "export {}\n")
	gittest.Git(t, work, "checkout", "--quiet", "main")
	recordPath := "docs/changes/emergency/2026-11-24-1000-rollback-api-v2.md"
	gittest.CommitAt(t, work, "2026-11-24T11:00:00Z", "Record the rollback (#21)\n\nChange-Category: standard", recordPath,
		"---\ncategory: emergency\ncontrol: A.8.32\nopened: 2026-11-24T10:00:00Z\ndue: 2026-11-25T10:00:00Z\nworker: api\n---\n\n## Summary\n\nSearch broke logins; rolled back.\n")
	gittest.Git(t, work, "push", "--quiet", "origin", "main")

	clk := &clock{}
	f.emu = cfemu.New(cfemu.WithClock(clk.now), cfemu.WithAuthorEmail("ops@example.com"))
	srv := httptest.NewServer(f.emu)
	t.Cleanup(srv.Close)
	f.api = cfapi.New("test-token", cfemu.DefaultAccountID, cfapi.WithBaseURL(srv.URL+cfemu.APIPrefix), cfapi.WithRetries(0))
	repo := openRepo(t, work)
	f.ledger = ledger.Open(ledger.DefaultPath(repo))
	acct := cfemu.DefaultAccountID

	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	latest := func() string {
		sc := f.emu.Snapshot().Accounts[acct].Scripts[testWorker]
		return sc.Deployments[len(sc.Deployments)-1].ID
	}
	appendRec := func(r ledger.Record) {
		t.Helper()
		r.Worker, r.Account = testWorker, acct
		_, err := f.ledger.Append(r)
		check(err)
	}
	ann := func(commit, msg string) map[string]string {
		return map[string]string{"workers/tag": commit, "workers/message": msg}
	}

	clk.set("2026-11-19T10:00:00Z")
	v1, err := f.emu.UploadVersion(acct, testWorker, ann(f.commits["A"], "Initial worker [guard "+f.commits["A"][:7]+" normal]"))
	check(err)
	d1 := latest()
	appendRec(ledger.Record{Time: clk.now(), Kind: ledger.KindDeploy, Status: ledger.StatusSucceeded, Commit: f.commits["A"],
		Categories: []string{"normal"}, VersionID: v1, DeploymentID: d1, Operator: "ada@example.com", Verified: ledger.VerifiedGood})

	clk.set("2026-11-22T10:00:00Z")
	v2, err := f.emu.UploadVersion(acct, testWorker, ann(f.commits["B"], "Add search [guard "+f.commits["B"][:7]+" normal]"))
	check(err)
	d2, err := f.emu.Deploy(acct, testWorker, "Add search [guard "+f.commits["B"][:7]+" normal]", cfemu.DeploymentVersion{VersionID: v2, Percentage: 100})
	check(err)
	appendRec(ledger.Record{Time: clk.now(), Kind: ledger.KindDeploy, Status: ledger.StatusSucceeded, Commit: f.commits["B"],
		Categories: []string{"normal"}, VersionID: v2, DeploymentID: d2, Operator: "ada@example.com", Verified: ledger.VerifiedGood})

	clk.set("2026-11-23T10:00:00Z")
	v3, err := f.emu.UploadVersion(acct, testWorker, ann(f.commits["X"], "experiment"))
	check(err)
	d3, err := f.emu.Deploy(acct, testWorker, "experiment", cfemu.DeploymentVersion{VersionID: v3, Percentage: 100})
	check(err)

	clk.set("2026-11-24T10:00:00Z")
	d4, err := f.emu.Deploy(acct, testWorker, "Rollback: search broke logins", cfemu.DeploymentVersion{VersionID: v2, Percentage: 100})
	check(err)
	appendRec(ledger.Record{Time: clk.now(), Kind: ledger.KindRollback, Status: ledger.StatusSucceeded, Commit: f.commits["B"],
		VersionID: v2, DeploymentID: d4, FromVersion: v3, Operator: "ada@example.com", Reason: "search broke logins",
		RecordFile: recordPath})

	clk.set("2026-11-25T10:00:00Z")
	d5, err := f.emu.Deploy(acct, testWorker, "", cfemu.DeploymentVersion{VersionID: v1, Percentage: 100})
	check(err)

	clk.set("2026-11-27T10:00:00Z")
	d6, err := f.emu.Deploy(acct, testWorker, "gradual", cfemu.DeploymentVersion{VersionID: v2, Percentage: 90}, cfemu.DeploymentVersion{VersionID: v1, Percentage: 10})
	check(err)

	appendRec(ledger.Record{Time: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), Kind: ledger.KindDeploy, Status: ledger.StatusFailed,
		Commit: f.commits["B"], Categories: []string{"normal"}, Operator: "ada@example.com", Error: "wrangler deploy exited with status 1"})

	for name, id := range map[string]string{"v1": v1, "v2": v2, "v3": v3, "d1": d1, "d2": d2, "d3": d3, "d4": d4, "d5": d5, "d6": d6} {
		f.ids[id] = "<" + name + ">"
	}
	return f
}

// normalize replaces what the emulator makes up (IDs, port) and what
// depends on it (the ledger's digest) with stable names.
func (f *deployFixture) normalize(data []byte, baseURL string) []byte {
	s := string(data)
	ids := make([]string, 0, len(f.ids))
	for id := range f.ids {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		s = strings.ReplaceAll(s, id, f.ids[id])
	}
	s = strings.ReplaceAll(s, baseURL, "<api>")
	s = regexp.MustCompile(`"revision": "seq ([0-9]+) sha256:[0-9a-f]{64}"`).ReplaceAllString(s, `"revision": "seq $1 sha256:<ledger line>"`)
	return []byte(s)
}

func TestDeploymentsGolden(t *testing.T) {
	f := newDeployFixture(t)
	repo := openRepo(t, f.work)
	doc, err := Deployments(context.Background(), DeploymentOptions{
		Repo: repo, Config: config.Defaults(), Period: deployPeriod, Generator: "guard test",
		Worker: testWorker, Account: cfemu.DefaultAccountID, API: f.api, Ledger: f.ledger,
		Fetch: true, FetchTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := Encode(doc)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "deployments.json", f.normalize(data, f.api.BaseURL()))

	items := doc.Items.([]Deployment)
	var got []string
	for _, d := range items {
		got = append(got, f.ids[d.DeploymentID]+" "+d.Kind+" "+d.Status+" "+d.Source+" "+f.ids[d.VersionID])
	}
	want := []string{
		"<d2> deploy succeeded guard <v2>",
		"<d3> deploy succeeded outside <v3>",
		"<d4> rollback succeeded guard <v2>",
		"<d5> rollback succeeded outside <v1>",
		" deploy failed guard ",
		"<d6> deploy succeeded outside <v2>",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("items:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var rules []string
	for _, fd := range doc.Findings {
		rules = append(rules, fd.Rule+" "+fd.Commit)
	}
	sort.Strings(rules)
	wantRules := []string{
		"commit-not-on-branch " + gitx.ShortHash(f.commits["X"]),
		"outside-deploy " + gitx.ShortHash(f.commits["A"]),
		"outside-deploy " + gitx.ShortHash(f.commits["X"]),
		"outside-deploy " + gitx.ShortHash(f.commits["B"]),
		"rollback-without-record " + gitx.ShortHash(f.commits["A"]),
	}
	sort.Strings(wantRules)
	if strings.Join(rules, "\n") != strings.Join(wantRules, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(rules, "\n"), strings.Join(wantRules, "\n"))
	}
	if items[2].Record == "" || items[2].RecordState != string(records.StateDocumented) {
		t.Errorf("guard's rollback: record %q state %q", items[2].Record, items[2].RecordState)
	}
	if items[1].OnBranch == nil || *items[1].OnBranch {
		t.Errorf("outside deploy of X: on_branch %v", items[1].OnBranch)
	}
	if split := items[5].Versions; len(split) != 2 || split[0].Percentage != 90 || f.ids[split[1].VersionID] != "<v1>" {
		t.Errorf("split deployment versions: %+v", split)
	}
	if strings.Contains(string(data), "test-token") {
		t.Error("the API token is in the document")
	}
}

// A commit the clone does not have cannot be shown to be on the branch.
func TestDeploymentsUnknownCommit(t *testing.T) {
	f := newDeployFixture(t)
	gittest.Git(t, f.work, "branch", "--quiet", "-D", "local-only")
	gittest.Git(t, f.work, "reflog", "expire", "--expire=now", "--all")
	gittest.Git(t, f.work, "gc", "--quiet", "--prune=now")
	repo := openRepo(t, f.work)
	doc, err := Deployments(context.Background(), DeploymentOptions{
		Repo: repo, Config: config.Defaults(), Period: deployPeriod,
		Worker: testWorker, Account: cfemu.DefaultAccountID, API: f.api, Ledger: f.ledger,
	})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, fd := range doc.Findings {
		if fd.Rule == RuleCommitNotOnBranch {
			found = strings.Contains(fd.Message, "this clone does not have")
		}
	}
	if !found {
		t.Errorf("no commit-not-on-branch finding for a commit the clone lacks: %+v", doc.Findings)
	}
	for _, d := range doc.Items.([]Deployment) {
		if d.Commit == f.commits["X"] && d.OnBranch != nil {
			t.Errorf("on_branch %v for an unknown commit, want null", *d.OnBranch)
		}
	}
}

// Without the API the collection fails rather than publish a document
// that cannot show outside deployments.
func TestDeploymentsAPIDown(t *testing.T) {
	f := newDeployFixture(t)
	if err := f.emu.AddFault(cfemu.Fault{Path: "/accounts/*/workers/scripts/*/deployments", Status: 500}); err != nil {
		t.Fatal(err)
	}
	repo := openRepo(t, f.work)
	_, err := Deployments(context.Background(), DeploymentOptions{
		Repo: repo, Config: config.Defaults(), Period: deployPeriod,
		Worker: testWorker, Account: cfemu.DefaultAccountID, API: f.api, Ledger: f.ledger,
	})
	if err == nil {
		t.Fatal("no error with the API failing")
	}
	if strings.Contains(err.Error(), "test-token") {
		t.Error("the token is in the error")
	}
}
