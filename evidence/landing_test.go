package evidence

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/gittest"
)

// Dates a pusher sets cannot take a change out of the evidence: a commit
// backdated to 2020 on top of the branch used to stop git's --since walk
// and empty the whole period; one dated next year waited for next year.
// Both are listed in the period they landed in, with a warning, and so is
// every honest commit under them.
func TestMergeActivityIgnoresForgedDates(t *testing.T) {
	gitEnv(t)
	work, _ := newClone(t)
	h := map[string]string{}
	h["init"] = gittest.CommitAt(t, work, "2026-11-26T10:00:00Z", "Initial commit\n\nChange-Category: normal", "src/index.js", "export default {}\n")
	h["a"] = gittest.CommitAt(t, work, "2026-11-27T10:00:00Z", "Tweak timeout (#1)\n\nChange-Category: normal", "src/index.js", "export default { t: 1 }\n")
	h["b"] = gittest.CommitAt(t, work, "2026-11-27T12:00:00Z", "Direct change\n\nChange-Category: normal", "src/index.js", "export default { t: 2 }\n")
	h["back"] = gittest.CommitAt(t, work, "2020-01-01T00:00:00Z", "Sneaky change\n\nChange-Category: normal", "src/index.js", "export default { t: 3 }\n")
	gittest.Git(t, work, "push", "--quiet", "origin", "main")
	repo := openRepo(t, work)
	collect := func() *Document {
		t.Helper()
		doc, err := MergeActivity(context.Background(), MergeOptions{
			Repo: repo, Config: config.Defaults(), Period: mergePeriod, Generator: "guard test",
			Fetch: true, FetchTimeout: 10 * time.Second, Now: func() time.Time { return mergeNow },
		})
		if err != nil {
			t.Fatal(err)
		}
		return doc
	}
	check := func(doc *Document, listed []string, outOfOrder ...string) {
		t.Helper()
		changes := doc.Items.([]Change)
		var got []string
		for _, c := range changes {
			for name, hash := range h {
				if hash == c.Commit {
					got = append(got, name)
					if (c.OutOfOrder != "") != slices.Contains(outOfOrder, name) {
						t.Errorf("%s: out_of_order %q", name, c.OutOfOrder)
					}
				}
			}
		}
		if strings.Join(got, " ") != strings.Join(listed, " ") {
			t.Errorf("listed %v, want %v", got, listed)
		}
		warned := map[string]bool{}
		for _, f := range doc.Findings {
			if f.Rule == RuleDateOutOfOrder {
				warned[f.Commit] = true
				if f.Severity != "warning" {
					t.Errorf("%s: severity %s", f.Commit, f.Severity)
				}
			}
		}
		for _, name := range outOfOrder {
			if !warned[h[name][:7]] && !warned[h[name][:12]] {
				t.Errorf("no %s finding for %s: %+v", RuleDateOutOfOrder, name, doc.Findings)
			}
		}
		if len(warned) != len(outOfOrder) {
			t.Errorf("%d %s findings, want %d", len(warned), RuleDateOutOfOrder, len(outOfOrder))
		}
	}
	doc := collect()
	check(doc, []string{"a", "b", "back"}, "back")
	if doc.Sources[0].Revision != h["back"] {
		t.Errorf("the document's branch revision is %s, want the branch's tip %s", doc.Sources[0].Revision, h["back"])
	}

	// Dated next year, then an honest commit on top: all in the period,
	// the two out-of-order ones counted when the honest one landed.
	h["future"] = gittest.CommitAt(t, work, "2027-06-01T00:00:00Z", "From the future\n\nChange-Category: normal", "src/index.js", "export default { t: 4 }\n")
	h["c"] = gittest.CommitAt(t, work, "2026-11-28T08:00:00Z", "Honest change (#2)\n\nChange-Category: normal", "src/index.js", "export default { t: 5 }\n")
	gittest.Git(t, work, "push", "--quiet", "origin", "main")
	check(collect(), []string{"a", "b", "back", "future", "c"}, "back", "future")
}
