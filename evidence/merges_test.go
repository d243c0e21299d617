package evidence

import (
	"context"
	"encoding/json"
	"github.com/guardcm/guard/internal/gitx"
	"strings"
	"testing"
	"time"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/gittest"
	"github.com/guardcm/guard/records"
)

var (
	mergeNow    = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	mergePeriod = NewPeriod(mergeNow, 24*time.Hour)
)

// mergeFixture builds a remote whose main received, in the 24 hours before
// mergeNow, every kind of change: a pull-request merge (two commits, review
// trailers), squash merges, direct pushes (normal and emergency, with a
// documented, an overdue and no record), a local merge pushed without a
// pull request, and a commit without a category; plus commits before and
// after the period.
func mergeFixture(t *testing.T) (work string, hashes map[string]string) {
	t.Helper()
	gitEnv(t)
	work, _ = newClone(t)
	h := map[string]string{}
	h["init"] = gittest.CommitAt(t, work, "2026-11-26T10:00:00Z", "Initial commit\n\nChange-Category: normal",
		"src/index.js", "export default {}\n", "README.md", "# api\n")

	h["cve"] = gittest.CommitAt(t, work, "2026-11-27T09:30:00Z", "Patch CVE-2026-1234\n\nChange-Category: emergency",
		"src/auth.js", "export const check = () => true\n")
	gittest.Git(t, work, "checkout", "--quiet", "-b", "feature/search", h["cve"])
	h["search"] = gittest.CommitAt(t, work, "2026-11-27T10:00:00Z",
		"Add search endpoint\n\nChange-Category: normal\nReviewed-by: Grace Hopper <grace@example.com>",
		"src/search.js", "export const search = () => []\n")
	h["searchdoc"] = gittest.CommitAt(t, work, "2026-11-27T10:30:00Z", "Document search\n\nChange-Category: standard",
		"docs/search.md", "# Search\n")
	gittest.Git(t, work, "checkout", "--quiet", "main")
	gittest.Run(t, gittest.At("2026-11-27T11:00:00Z"), work, "merge", "--quiet", "--no-ff", "feature/search",
		"-m", "Merge pull request #12 from acme/feature/search\n\nAdd search\n\nApproved-by: Linus <linus@example.com>")
	h["merge12"] = gittest.Git(t, work, "rev-parse", "HEAD")

	h["squash13"] = gittest.CommitAt(t, work, "2026-11-27T12:00:00Z", "Update README (#13)\n\nChange-Category: standard",
		"README.md", "# api\n\nSearch added.\n")
	h["direct"] = gittest.CommitAt(t, work, "2026-11-27T13:00:00Z", "Tweak timeout\n\nChange-Category: normal",
		"src/index.js", "export default { timeout: 5 }\n")
	h["authfix"] = gittest.CommitAt(t, work, "2026-11-27T14:00:00Z", "Fix auth bypass\n\nChange-Category: emergency",
		"src/auth.js", "export const check = (u) => !!u\n")
	h["record14"] = gittest.CommitAt(t, work, "2026-11-27T15:00:00Z", "Add emergency record for the auth fix (#14)\n\nChange-Category: standard",
		"docs/changes/emergency/2026-11-27-1400-fix-auth-bypass.md",
		"---\ncategory: emergency\ncontrol: A.8.32\nopened: 2026-11-27T14:00:00Z\ndue: 2026-11-28T14:00:00Z\ncommit: "+h["authfix"]+"\n---\n\n## Summary\n\nAuth bypass fixed.\n",
		"docs/changes/emergency/2026-11-27-0800-rollback-api-1a2b3c4d.md",
		"---\ncategory: emergency\ncontrol: A.8.32\nopened: 2026-11-27T08:00:00Z\ndue: 2026-11-28T08:00:00Z\nworker: api\ncommit: "+h["cve"]+"\n---\n\n## Summary\n\nTODO\n",
		"docs/changes/emergency/README.md", "# Emergency changes\n",
		"docs/changes/emergency/broken.md", "# a note without front matter\n")
	h["ratelimit"] = gittest.CommitAt(t, work, "2026-11-27T16:00:00Z", "Hotfix rate limit\n\nChange-Category: emergency",
		"src/limit.js", "export const limit = 10\n")

	gittest.Git(t, work, "checkout", "--quiet", "-b", "hotfix")
	h["raise"] = gittest.CommitAt(t, work, "2026-11-27T17:00:00Z", "Raise limits\n\nChange-Category: normal",
		"src/limit.js", "export const limit = 100\n")
	gittest.Git(t, work, "checkout", "--quiet", "main")
	gittest.Run(t, gittest.At("2026-11-27T17:30:00Z"), work, "merge", "--quiet", "--no-ff", "hotfix", "-m", "Merge branch 'hotfix'")
	h["localmerge"] = gittest.Git(t, work, "rev-parse", "HEAD")

	h["notrailer"] = gittest.CommitAt(t, work, "2026-11-27T18:00:00Z", "Quick change (#15)",
		"src/index.js", "export default { timeout: 6 }\n")
	h["later"] = gittest.CommitAt(t, work, "2026-11-28T10:00:00Z", "Later change (#16)\n\nChange-Category: standard",
		"docs/later.md", "later\n")
	gittest.Git(t, work, "push", "--quiet", "origin", "main")
	return work, h
}

func TestMergeActivityGolden(t *testing.T) {
	work, h := mergeFixture(t)
	repo := openRepo(t, work)
	doc, err := MergeActivity(context.Background(), MergeOptions{
		Repo: repo, Config: config.Defaults(), Period: mergePeriod,
		Generator: "guard test", Fetch: true, FetchTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := Encode(doc)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "merge-activity.json", data)

	// The golden file is only as good as what it shows; spell out the
	// decisions so a regenerated golden cannot silently accept a wrong one.
	changes := doc.Items.([]Change)
	kinds := map[string]string{}
	byCommit := map[string]Change{}
	for _, c := range changes {
		kinds[c.Commit] = c.Kind
		byCommit[c.Commit] = c
	}
	want := map[string]string{
		"cve": KindDirectPush, "merge12": KindMerge, "squash13": KindSquash, "direct": KindDirectPush,
		"authfix": KindDirectPush, "record14": KindSquash, "ratelimit": KindDirectPush,
		"localmerge": KindMerge, "notrailer": KindSquash,
	}
	if len(changes) != len(want) {
		t.Errorf("%d changes, want %d", len(changes), len(want))
	}
	for name, kind := range want {
		if kinds[h[name]] != kind {
			t.Errorf("%s: kind %q, want %q", name, kinds[h[name]], kind)
		}
	}
	for _, name := range []string{"init", "later", "search", "searchdoc", "raise"} {
		if _, ok := kinds[h[name]]; ok {
			t.Errorf("%s is listed as a first-parent change of the period", name)
		}
	}
	m := byCommit[h["merge12"]]
	if m.PullRequest != 12 || strings.Join(m.Categories, ",") != "standard,normal" || len(m.Commits) != 2 {
		t.Errorf("merge #12: pr %d categories %v commits %d", m.PullRequest, m.Categories, len(m.Commits))
	}
	if len(m.Reviews) != 2 || m.Reviews[0].Trailer != "Approved-by" || m.Reviews[1].Trailer != "Reviewed-by" || m.Reviews[1].Commit != h["search"] {
		t.Errorf("merge #12 reviews: %+v", m.Reviews)
	}
	states := map[string]string{}
	for _, c := range changes {
		for _, e := range c.Emergency {
			states[e.Commit] = e.State
		}
	}
	if states[h["cve"]] != string(records.StateOverdue) || states[h["authfix"]] != string(records.StateDocumented) || states[h["ratelimit"]] != RecordMissing {
		t.Errorf("emergency states: %v", states)
	}
	rules := map[string]string{}
	for _, f := range doc.Findings {
		rules[f.Rule+" "+f.Commit] = string(f.Severity)
	}
	for key, sev := range map[string]string{
		"direct-push " + gitx.ShortHash(h["direct"]):                 "error",
		"direct-push " + gitx.ShortHash(h["localmerge"]):             "error",
		"direct-push " + gitx.ShortHash(h["authfix"]):                "notice",
		"direct-push " + gitx.ShortHash(h["cve"]):                    "notice",
		"direct-push " + gitx.ShortHash(h["ratelimit"]):              "notice",
		"emergency-record-overdue " + gitx.ShortHash(h["cve"]):       "error",
		"emergency-without-record " + gitx.ShortHash(h["ratelimit"]): "warning",
		"missing-category " + gitx.ShortHash(h["notrailer"]):         "error",
	} {
		if rules[key] != sev {
			t.Errorf("finding %s: severity %q, want %q (all: %v)", key, rules[key], sev, rules)
		}
	}
	if len(doc.Findings) != 9 {
		t.Errorf("%d findings, want 9: %v", len(doc.Findings), rules)
	}
}

// TestMergeActivityDeterministic runs the collector twice and compares
// bytes, and checks that the JSON keys are sorted at every level.
func TestMergeActivityDeterministic(t *testing.T) {
	work, _ := mergeFixture(t)
	repo := openRepo(t, work)
	run := func() []byte {
		doc, err := MergeActivity(context.Background(), MergeOptions{Repo: repo, Config: config.Defaults(), Period: mergePeriod, Generator: "guard test"})
		if err != nil {
			t.Fatal(err)
		}
		b, err := Encode(doc)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b := run(), run()
	if string(a) != string(b) {
		t.Fatal("two runs over the same history differ")
	}
	assertSortedKeys(t, a)
}

// assertSortedKeys walks the JSON token stream and fails when an object's
// keys are not in ascending order.
func assertSortedKeys(t *testing.T, data []byte) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(data)))
	type frame struct {
		object  bool
		lastKey string
		wantKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if k, ok := tok.(string); ok {
				if k < top.lastKey {
					t.Fatalf("key %q after %q: keys not sorted", k, top.lastKey)
				}
				top.lastKey, top.wantKey = k, false
				continue
			}
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				if top != nil && top.object {
					top.wantKey = true
				}
				stack = append(stack, &frame{object: true, wantKey: true})
			case '[':
				if top != nil && top.object {
					top.wantKey = true
				}
				stack = append(stack, &frame{})
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
		default:
			if top != nil && top.object {
				top.wantKey = true
			}
		}
	}
}

func TestMergeActivityWithoutRemoteBranch(t *testing.T) {
	gitEnv(t)
	work, _ := newClone(t)
	gittest.CommitAt(t, work, "2026-11-27T10:00:00Z", "local\n\nChange-Category: normal", "a.txt", "a\n")
	repo := openRepo(t, work)
	_, err := MergeActivity(context.Background(), MergeOptions{Repo: repo, Config: config.Defaults(), Period: mergePeriod})
	if err == nil || !strings.Contains(err.Error(), "origin/main does not exist") {
		t.Fatalf("err = %v", err)
	}
}

func TestMergeActivityFetchFailureIsNoted(t *testing.T) {
	work, _ := mergeFixture(t)
	gittest.Git(t, work, "remote", "set-url", "origin", work+"/does-not-exist.git")
	repo := openRepo(t, work)
	doc, err := MergeActivity(context.Background(), MergeOptions{Repo: repo, Config: config.Defaults(), Period: mergePeriod, Fetch: true, FetchTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.Sources[0].Note, "not fetched") {
		t.Errorf("source note %q", doc.Sources[0].Note)
	}
	if n := len(doc.Items.([]Change)); n != 9 {
		t.Errorf("%d changes from the last fetched branch, want 9", n)
	}
}

func TestPullRequestNumber(t *testing.T) {
	for _, tc := range []struct {
		subject string
		merge   bool
		want    int
	}{
		{"Merge pull request #12 from acme/feature", true, 12},
		{"Merge pull request #12 from acme/feature", false, 0},
		{"Merge branch 'hotfix'", true, 0},
		{"Update README (#13)", false, 13},
		{"Update README (#13) ", false, 13},
		{"Update README (#13)", true, 0},
		{"Fix (#0)", false, 0},
		{"Refs #13", false, 0},
		{"Update (#13) docs", false, 0},
		{"Merge pull request #99999999999999999999 from x/y", true, 0},
	} {
		if got := PullRequestNumber(tc.subject, tc.merge); got != tc.want {
			t.Errorf("PullRequestNumber(%q, %v) = %d, want %d", tc.subject, tc.merge, got, tc.want)
		}
	}
}

// Without branch protection in guard.toml a direct push is not a
// finding: the change is still listed as one.
func TestMergeActivityUnprotectedBranch(t *testing.T) {
	work, h := mergeFixture(t)
	repo := openRepo(t, work)
	cfg, err := config.Parse("guard.toml", []byte("protected = []\n"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := MergeActivity(context.Background(), MergeOptions{Repo: repo, Config: cfg, Period: mergePeriod})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range doc.Findings {
		if f.Rule == RuleDirectPush {
			t.Errorf("direct-push finding on an unprotected branch: %+v", f)
		}
	}
	for _, c := range doc.Items.([]Change) {
		if c.Commit == h["direct"] && c.Kind != KindDirectPush {
			t.Errorf("kind %q", c.Kind)
		}
	}
}
