package prgate

import (
	"strings"
	"testing"

	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/policy"
)

// rules returns "rule:severity" for each finding, with the message, for
// failure output.
func ruleList(fs []report.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule)
	}
	return out
}

func only(fs []report.Finding, rule string) []report.Finding {
	var out []report.Finding
	for _, f := range fs {
		if f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

func TestCheckDescription(t *testing.T) {
	tests := []struct {
		name, body string
		cfg        Config
		want       string // "" = no finding; else a substring of the message
	}{
		{"motivation", "## Motivation\nCustomers asked for it.\n", Config{}, ""},
		{"why, level 4, trailing colon", "#### Why:\nBecause the old path leaks.\n", Config{}, ""},
		{"motivation and context", "## Motivation and Context\nIt was slow.\n", Config{}, ""},
		{"setext", "Motivation\n----------\nBecause.\n", Config{}, ""},
		{"bold heading text", "## **Motivation**\nBecause.\n", Config{}, ""},
		{"content after a subsection-less empty line", "## Motivation\n\n\nreasons\n## Other\n", Config{}, ""},
		{"one of two motivation sections filled", "## Why\nTBD\n## Motivation\nreal reason\n", Config{}, ""},
		{"configured heading", "## Rationale\nreason\n", Config{MotivationHeadings: []string{"Rationale"}}, ""},
		{"null body", "", Config{}, "has no description"},
		{"blank body", " \n\t\n", Config{}, "has no description"},
		{"comment-only body", "<!-- describe -->\n<!--\nmore\n-->\n", Config{}, "has no description"},
		{"no heading", "This fixes the thing.\n", Config{}, "has no motivation section"},
		{"whyever is not why", "## Whyever\nreason\n", Config{}, "has no motivation section"},
		{"heading only in code", "```\n## Motivation\nreason\n```\n", Config{}, "has no motivation section"},
		{"heading only in comment", "<!-- ## Motivation -->\nreason\n", Config{}, "has no motivation section"},
		{"bold line is not a heading", "**Motivation**: reason\n", Config{}, "has no motivation section"},
		{"empty section", "## Motivation\n\n## Changes\nstuff\n", Config{}, "empty or holds only a placeholder"},
		{"comment placeholder", "## Motivation\n<!-- Why is this change needed? -->\n\n## Changes\nx\n", Config{}, "empty or holds only a placeholder"},
		{"todo", "## Motivation\n- TODO: explain\n", Config{}, "empty or holds only a placeholder"},
		{"n/a and dots", "## Why\nN/A\n...\n_No response_\n", Config{}, "empty or holds only a placeholder"},
		{"angle placeholder", "## Motivation\n<why this change is needed>\n", Config{}, "empty or holds only a placeholder"},
		{"bracket placeholder", "## Motivation\n[Describe the problem]\n", Config{}, "empty or holds only a placeholder"},
		{"only a subsection", "## Motivation\n### Details\nreason\n", Config{}, "empty or holds only a placeholder"},
		{"only a rule", "## Motivation\n***\n", Config{}, "empty or holds only a placeholder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := &Event{Number: 7, Body: tt.body}
			fs := only(Check(Input{Event: ev, Category: policy.Standard}, tt.cfg), RuleDescription)
			if tt.want == "" {
				if len(fs) != 0 {
					t.Fatalf("unexpected findings: %+v", fs)
				}
				return
			}
			if len(fs) != 1 {
				t.Fatalf("want 1 finding, got %+v", fs)
			}
			f := fs[0]
			if !strings.Contains(f.Message, tt.want) || f.Severity != report.SeverityError || f.Fix == "" {
				t.Errorf("finding %+v, want message containing %q, severity error and a fix", f, tt.want)
			}
			if !strings.Contains(f.Message, "#7") {
				t.Errorf("message does not name the pull request: %q", f.Message)
			}
		})
	}
}

func TestDeclaredCategory(t *testing.T) {
	tests := []struct {
		title  string
		labels []string
		want   policy.Category
		ok     bool
		err    string
	}{
		{"Fix login", nil, policy.Unknown, false, ""},
		{"Fix login", []string{"bug", "security"}, policy.Unknown, false, ""},
		{"Fix login", []string{"category: emergency"}, policy.Emergency, true, ""},
		{"Fix login", []string{"Category: EMERGENCY"}, policy.Emergency, true, ""},
		{"Fix login", []string{"category:major"}, policy.Major, true, ""},
		{"[emergency] Fix login", nil, policy.Emergency, true, ""},
		{"Fix login [Standard]", nil, policy.Standard, true, ""},
		{"[WIP] [category: normal] Fix login", nil, policy.Normal, true, ""},
		{"[WIP] Fix login", nil, policy.Unknown, false, ""},
		{"[emergency] Fix", []string{"category: emergency"}, policy.Emergency, true, ""},
		{"[normal] Fix", []string{"category: emergency"}, policy.Unknown, false, `conflicting category declarations: label "category: emergency" says emergency, title "[normal]" says normal`},
		{"Fix", []string{"category: normal", "category: major"}, policy.Unknown, false, "conflicting category declarations"},
		{"Fix", []string{"category: urgent"}, policy.Unknown, false, `label "category: urgent"`},
		{"[category: urgent] Fix", nil, policy.Unknown, false, `title "[category: urgent]"`},
	}
	for _, tt := range tests {
		got, ok, err := DeclaredCategory(tt.title, tt.labels)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("DeclaredCategory(%q, %q) err = %v, want %q", tt.title, tt.labels, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want || ok != tt.ok {
			t.Errorf("DeclaredCategory(%q, %q) = %v, %v, %v; want %v, %v", tt.title, tt.labels, got, ok, err, tt.want, tt.ok)
		}
	}
}

func TestCheckCategoryMismatch(t *testing.T) {
	type counts = map[policy.Category]int
	tests := []struct {
		name   string
		title  string
		labels []string
		cat    policy.Category
		counts counts
		want   string // "" = no finding
	}{
		{"nothing declared", "Fix", nil, policy.Normal, counts{policy.Normal: 2}, ""},
		{"emergency all emergency", "Fix", []string{"category: emergency"}, policy.Emergency, counts{policy.Emergency: 3}, ""},
		{"emergency with others", "Fix", []string{"category: emergency"}, policy.Emergency, counts{policy.Emergency: 1, policy.Normal: 2, policy.Standard: 1},
			`declares emergency (label "category: emergency") but 3 of its 4 commits are not emergency (1 standard, 2 normal)`},
		{"normal but all emergency", "[normal] Fix", nil, policy.Emergency, counts{policy.Emergency: 2}, "but every commit is emergency"},
		{"standard but normal commits", "[standard] Fix", nil, policy.Normal, counts{policy.Standard: 1, policy.Normal: 1},
			`declares standard (title "[standard]") but its commits include normal (1 standard, 1 normal)`},
		{"major but only normal", "Fix", []string{"category: major"}, policy.Normal, counts{policy.Normal: 1}, "but no commit is major (1 normal)"},
		{"normal matches highest", "[normal] Fix", nil, policy.Normal, counts{policy.Standard: 3, policy.Normal: 1}, ""},
		{"normal with an emergency commit", "[normal] Fix", nil, policy.Normal, counts{policy.Emergency: 1, policy.Normal: 1}, ""},
		{"no breakdown uses Category", "[standard] Fix", nil, policy.Major, nil, "but its commits include major (1 major)"},
		{"no commits", "[standard] Fix", nil, policy.Unknown, nil, ""},
		{"conflict", "[normal] Fix", []string{"category: standard"}, policy.Normal, counts{policy.Normal: 1}, "conflicting category declarations"},
		{"unknown label value", "Fix", []string{"category: hotfix"}, policy.Normal, counts{policy.Normal: 1}, `label "category: hotfix"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := &Event{Number: 9, Title: tt.title, Labels: tt.labels, Body: "## Motivation\nreason\n"}
			fs := only(Check(Input{Event: ev, Category: tt.cat, CommitCategories: tt.counts,
				Checklist: &Checklist{Source: "c.md", Items: []ChecklistItem{{"x", 1}}}}, Config{}), RuleCategoryMismatch)
			if tt.want == "" {
				if len(fs) != 0 {
					t.Fatalf("unexpected findings: %+v", fs)
				}
				return
			}
			if len(fs) != 1 || !strings.Contains(fs[0].Message, tt.want) || fs[0].Fix == "" || fs[0].Severity != report.SeverityError {
				t.Fatalf("want one error containing %q with a fix, got %+v", tt.want, fs)
			}
		})
	}
}

func TestCheckChecklist(t *testing.T) {
	cl, err := ParseChecklist(".github/pull_request_template.md", readTemplate(t), "Self-review checklist")
	if err != nil {
		t.Fatal(err)
	}
	all := func(box string) string {
		var b strings.Builder
		b.WriteString("## Motivation\nreason\n\n## Self-review checklist\n")
		for _, it := range cl.Items {
			b.WriteString("- [" + box + "] " + it.Text + "\n")
		}
		return b.String()
	}
	tests := []struct {
		name string
		cat  policy.Category
		body string
		cl   *Checklist
		want []string // one message substring per finding, in order
	}{
		{"all ticked", policy.Normal, all("x"), cl, nil},
		{"all ticked upper X", policy.Major, all("X"), cl, nil},
		{"standard needs none", policy.Standard, "## Motivation\nreason\n", cl, nil},
		{"emergency needs none", policy.Emergency, "## Motivation\nreason\n", cl, nil},
		{"all unticked", policy.Normal, all(" "), cl, []string{
			`not ticked in the description of pull request #3: "Input validation`, `not ticked in the description of pull request #3: "Authorization`,
			`not ticked in the description of pull request #3: "Secrets`, `not ticked in the description of pull request #3: "Tests`, `not ticked in the description of pull request #3: "Rollback`}},
		{"absent", policy.Normal, "## Motivation\nreason\n", cl, []string{"does not carry the self-review checklist (5 items from .github/pull_request_template.md)"}},
		{"one deleted, one unticked, reformatted ok", policy.Normal,
			"## Motivation\nreason\n- [x] input   VALIDATION: new inputs are validated before use; D1 queries use **bound** parameters.\n" +
				"- [ ] Authorization: every new route checks who is calling\n" +
				"- [x] Secrets: no secret is in code, configuration, logs or tests\n" +
				"- [x] Tests: the change is covered by tests and\n  `bun run test:all` passes (see x_test.ts)\n", cl,
			[]string{`not ticked in the description of pull request #3: "Authorization`, `missing from the description of pull request #3: "Rollback`}},
		{"ticked only inside a code block", policy.Normal, "## Motivation\nreason\n```\n" + all("x") + "```\n" + all(" "), cl,
			[]string{"not ticked", "not ticked", "not ticked", "not ticked", "not ticked"}},
		{"ticked only inside a comment", policy.Normal, "## Motivation\nreason\n<!--\n" + all("x") + "-->\n", cl,
			[]string{"does not carry the self-review checklist"}},
		{"reworded item is missing", policy.Normal, strings.Replace(all("x"), "who is calling", "the caller", 1), cl,
			[]string{`missing from the description of pull request #3: "Authorization`}},
		{"duplicate: one ticked copy suffices", policy.Normal, all(" ") + all("x"), cl, nil},
		{"no checklist file", policy.Normal, all("x"), nil, []string{"needs a self-review checklist, and the repository has none"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := only(Check(Input{Event: &Event{Number: 3, Body: tt.body}, Category: tt.cat, Checklist: tt.cl}, Config{}), RuleChecklist)
			if len(fs) != len(tt.want) {
				t.Fatalf("want %d findings, got %d: %+v", len(tt.want), len(fs), fs)
			}
			for i, f := range fs {
				if !strings.Contains(f.Message, tt.want[i]) || f.Fix == "" || f.Severity != report.SeverityError {
					t.Errorf("finding %d: %+v, want message containing %q, a fix, severity error", i, f, tt.want[i])
				}
				if tt.cl != nil && len(tt.want) > 1 && (f.File != tt.cl.Source || f.Line == 0) {
					t.Errorf("finding %d not located at the checklist item: %s:%d", i, f.File, f.Line)
				}
			}
		})
	}
}

func TestCheckMajorLinks(t *testing.T) {
	base := "## Motivation\nnew service\n" + "- [x] x\n"
	cl := &Checklist{Source: "c.md", Items: []ChecklistItem{{"x", 1}}}
	tests := []struct {
		name    string
		body    string
		changed []string
		cfg     Config
		want    []string
	}{
		{"complete", base + "Threat model: docs/threat-model.md\nRollout: [plan](docs/rollouts/2026-03-receipts.md)\n",
			[]string{"src/a.ts", "docs/threat-model.md", "docs/rollouts/2026-03-receipts.md"}, Config{}, nil},
		{"github links", base + "https://github.com/acme/w/blob/b/docs/threat-model.md and https://github.com/acme/w/blob/b/docs/rollouts/2026-03-receipts.md\n",
			[]string{"./docs/threat-model.md", "docs/rollouts/2026-03-receipts.md"}, Config{}, nil},
		{"nothing", base, []string{"src/a.ts"}, Config{}, []string{
			"does not update the threat model docs/threat-model.md", "does not link the threat-model change",
			"adds no rollout plan under docs/rollouts/", "does not link the rollout plan (docs/rollouts/<plan>.md)"}},
		{"files changed, not linked", base, []string{"docs/threat-model.md", "docs/rollouts/b.md", "docs/rollouts/a.md"}, Config{}, []string{
			"does not link the threat-model change", "does not link the rollout plan (docs/rollouts/a.md)"}},
		{"linked, not changed", base + "docs/threat-model.md docs/rollouts/old-plan.md\n", nil, Config{}, []string{
			"does not update the threat model", "adds no rollout plan"}},
		{"readme is not a plan", base + "docs/threat-model.md docs/rollouts/README.md\n", []string{"docs/threat-model.md", "docs/rollouts/README.md"}, Config{}, []string{
			"adds no rollout plan", "does not link the rollout plan"}},
		{"mention in a comment does not count", base + "<!-- docs/threat-model.md docs/rollouts/p.md -->\n", []string{"docs/threat-model.md", "docs/rollouts/p.md"}, Config{}, []string{
			"does not link the threat-model change", "does not link the rollout plan (docs/rollouts/p.md)"}},
		{"configured paths", base + "sec/tm.md plans/p.md\n", []string{"sec/tm.md", "plans/p.md"}, Config{ThreatModel: "sec/tm.md", RolloutDir: "plans/"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := only(Check(Input{Event: &Event{Number: 5, Body: tt.body}, Category: policy.Major,
				CommitCategories: map[policy.Category]int{policy.Major: 1}, Checklist: cl, ChangedPaths: tt.changed}, tt.cfg), RuleMajorLinks)
			if len(fs) != len(tt.want) {
				t.Fatalf("want %d findings, got %d: %+v", len(tt.want), len(fs), fs)
			}
			for i, f := range fs {
				if !strings.Contains(f.Message, tt.want[i]) || f.Fix == "" || f.Severity != report.SeverityError {
					t.Errorf("finding %d: %+v, want message containing %q", i, f, tt.want[i])
				}
			}
		})
	}
	// Not major: no such finding.
	if fs := only(Check(Input{Event: &Event{Body: base}, Category: policy.Normal, Checklist: cl}, Config{}), RuleMajorLinks); len(fs) != 0 {
		t.Errorf("normal pull request got %+v", fs)
	}
}

func TestCheckEmergencyRecord(t *testing.T) {
	ev := &Event{Number: 8, Body: "## Motivation\nprod down\n", Labels: []string{"category: emergency"}}
	tests := []struct {
		name     string
		changed  []string
		existing []string
		file     string
		want     string
	}{
		{"none", nil, nil, "", "no record exists yet under docs/changes/emergency/"},
		{"added by the pr", []string{"src/a.ts", "docs/changes/emergency/2026-03-02-1402-invoice.md"},
			[]string{"docs/changes/emergency/2025-01-01-0000-old.md", "docs/changes/emergency/2026-03-02-1402-invoice.md"},
			"docs/changes/emergency/2026-03-02-1402-invoice.md", "its record: docs/changes/emergency/2026-03-02-1402-invoice.md"},
		{"only older ones", []string{"src/a.ts"},
			[]string{"docs/changes/emergency/2026-01-05-0900-b.md", "docs/changes/emergency/2025-01-01-0000-a.md"},
			"docs/changes/emergency/2026-01-05-0900-b.md", "the newest in the repository is docs/changes/emergency/2026-01-05-0900-b.md"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := Check(Input{Event: ev, Category: policy.Emergency, CommitCategories: map[policy.Category]int{policy.Emergency: 1},
				ChangedPaths: tt.changed, ExistingRecords: tt.existing}, Config{})
			if len(fs) != 1 || fs[0].Rule != RuleEmergencyRecord {
				t.Fatalf("want only the emergency notice, got %v: %+v", ruleList(fs), fs)
			}
			f := fs[0]
			if f.Severity != report.SeverityNotice || f.File != tt.file || !strings.Contains(f.Message, tt.want) ||
				!strings.Contains(f.Message, "within 24 hours") || f.Fix == "" {
				t.Errorf("finding %+v, want notice on %q containing %q", f, tt.file, tt.want)
			}
		})
	}
	// Not emergency: no notice.
	if fs := only(Check(Input{Event: ev, Category: policy.Standard}, Config{}), RuleEmergencyRecord); len(fs) != 0 {
		t.Errorf("standard pull request got %+v", fs)
	}
}

func TestCheckNilEvent(t *testing.T) {
	fs := Check(Input{Category: policy.Standard}, Config{})
	if len(fs) != 1 || fs[0].Rule != RuleDescription || !strings.Contains(fs[0].Message, "the pull request has no description") {
		t.Fatalf("got %+v", fs)
	}
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if strings.Join(c.MotivationHeadings, ",") != "Motivation,Why" ||
		strings.Join(c.ChecklistFiles, ",") != ".github/pull_request_template.md,docs/self-review-checklist.md" ||
		c.ChecklistHeading != "Self-review checklist" || c.ThreatModel != "docs/threat-model.md" ||
		c.RolloutDir != "docs/rollouts" || c.RecordsDir != "docs/changes/emergency" {
		t.Errorf("defaults: %+v", c)
	}
}
