package prgate

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

type counts = map[policy.Category]int

// goldenCases pair each recorded event with what the range checks would have
// found in that pull request's commits.
var goldenCases = []struct {
	name, event string
	cat         policy.Category
	counts      counts
	changed     []string
	records     []string
}{
	// A normal pull request that does everything right: no findings.
	{name: "opened-normal-pass", event: "opened.json", cat: policy.Normal,
		counts: counts{policy.Normal: 2, policy.Standard: 1}, changed: []string{"src/invoices.ts", "migrations/0007_due_date.sql"}},
	// Edited: two items unticked and one deleted; the label matches.
	{name: "edited-checklist", event: "edited.json", cat: policy.Normal,
		counts: counts{policy.Normal: 1}, changed: []string{"src/login.ts"}},
	// A new push to a major pull request: threat model changed and linked,
	// no rollout plan, one checklist item unticked.
	{name: "synchronize-major", event: "synchronize.json", cat: policy.Major,
		counts: counts{policy.Major: 1, policy.Normal: 2}, changed: []string{"docs/threat-model.md", "receipts/wrangler.toml", "receipts/src/index.ts"}},
	// From a fork, declared standard in the title, but one commit is normal.
	{name: "fork-standard-mismatch", event: "fork.json", cat: policy.Normal,
		counts: counts{policy.Standard: 1, policy.Normal: 1}, changed: []string{"README.md", "package.json"}},
	// No description at all, normal: description and checklist refused.
	{name: "null-body", event: "null-body.json", cat: policy.Normal,
		counts: counts{policy.Normal: 3}, changed: []string{"src/export.ts"}},
	// Labelled emergency with a normal commit mixed in; the record is added.
	{name: "labeled-emergency", event: "labeled.json", cat: policy.Emergency,
		counts: counts{policy.Emergency: 1, policy.Normal: 1}, changed: []string{"src/invoice.ts", "docs/changes/emergency/2026-03-02-1410-invoice-500.md"},
		records: []string{"docs/changes/emergency/2025-11-20-0815-rollback-billing-a1b2c3d.md", "docs/changes/emergency/2026-03-02-1410-invoice-500.md"}},
}

func TestGolden(t *testing.T) {
	cl, err := ParseChecklist(".github/pull_request_template.md", readTemplate(t), DefaultConfig().ChecklistHeading)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := LoadEvent("pull_request", filepath.Join("testdata", "events", tc.event))
			if err != nil {
				t.Fatal(err)
			}
			in := Input{Event: ev, Category: tc.cat, CommitCategories: tc.counts, Checklist: cl,
				ChangedPaths: tc.changed, ExistingRecords: tc.records}
			fs := Check(in, Config{})
			var ann bytes.Buffer
			if err := report.Write(&ann, report.FormatGitHub, fs); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".github.txt", ann.Bytes())
			golden(t, tc.name+".summary.md", []byte(Summary(in, fs)))
		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./prgate -run TestGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (rerun with -update after checking):\n--- got\n%s\n--- want\n%s", p, got, want)
	}
}

// The golden cases together must exercise every rule, so a rule that stops
// firing cannot go unnoticed in review of the golden files.
func TestGoldenCoversEveryRule(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range goldenCases {
		b, err := os.ReadFile(filepath.Join("testdata", "golden", tc.name+".github.txt"))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []string{RuleDescription, RuleChecklist, RuleMajorLinks, RuleCategoryMismatch, RuleEmergencyRecord} {
			if strings.Contains(string(b), "title=guard "+r+"::") {
				seen[r] = true
			}
		}
	}
	for _, r := range []string{RuleDescription, RuleChecklist, RuleMajorLinks, RuleCategoryMismatch, RuleEmergencyRecord} {
		if !seen[r] {
			t.Errorf("no golden case produces %s", r)
		}
	}
}

func TestSummaryEscapes(t *testing.T) {
	ev := &Event{Number: 1, Title: "Fix | pipes <script>alert(1)</script> & `ticks`", Body: "x",
		BaseRef: "main", BaseSHA: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", HeadRef: "a|b", HeadSHA: "6dcb09b5b578"}
	fs := []report.Finding{{Rule: RuleDescription, Severity: report.SeverityError, Message: "line one\nline | two <b>", Fix: "do <i>it</i>"}}
	s := Summary(Input{Event: ev, Category: policy.Normal}, fs)
	for _, bad := range []string{"<script>", "<b>", "<i>", "line one\nline"} {
		if strings.Contains(s, bad) {
			t.Errorf("summary contains unescaped %q:\n%s", bad, s)
		}
	}
	for _, want := range []string{`Fix \| pipes &lt;script&gt;`, `line one<br>line \| two &lt;b&gt;`, "`a\\|b`", "| Commits | not counted |", "1 error, 0 warnings, 0 notices"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	// Every table row has the same number of unescaped pipes as its header.
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "| error |") {
			if n := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|"); n != 6 {
				t.Errorf("row has %d cell separators: %s", n, line)
			}
		}
	}
}
