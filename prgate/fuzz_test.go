package prgate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/policy"
)

// FuzzParseChecklist checks ParseChecklist never panics and that what it
// returns is usable by the gate: items are non-empty, located on a real line
// holding a checkbox, unique by normalised text, and a description that ticks
// every item (one per line, as a person would paste it) passes the checklist
// rule, while one that leaves them unticked names every item.
func FuzzParseChecklist(f *testing.F) {
	f.Add(readTemplate(f), "Self-review checklist")
	f.Add([]byte("- [ ] a\n- [x] b\n"), "")
	f.Add([]byte("## Self-review checklist\n- [ ] a\n  continued\n## Next\n- [ ] c\n"), "self-review checklist")
	f.Add([]byte("```\n- [ ] fenced\n```\n<!-- - [ ] c -->\n- [ ] real\n"), "")
	f.Add([]byte("Checklist\n=========\n1. [X] one\r\n2) [ ] two\r\n"), "Checklist")
	f.Add([]byte("- [ ] `code` *emph* _under_ ~strike~\n- [ ] <!-- open\n- [ ] x -->y\n"), "")
	f.Add([]byte("~~~~\n- [ ] a\n~~~\n- [ ] b\n~~~~\n- [ ] c\n"), "")
	f.Add([]byte("- [ ] a\n- [ ] A.\n- [ ] a  b\n- [ ] a\tb\n"), "")
	f.Fuzz(func(t *testing.T, content []byte, heading string) {
		c, err := ParseChecklist("c.md", content, heading)
		if err != nil {
			if c != nil {
				t.Fatal("checklist and error both returned")
			}
			return
		}
		if !utf8.Valid(content) {
			t.Fatal("accepted invalid UTF-8")
		}
		if len(c.Items) == 0 {
			t.Fatal("no items and no error")
		}
		lines := strings.Split(string(content), "\n")
		seen := map[string]bool{}
		for _, it := range c.Items {
			if it.Line < 1 || it.Line > len(lines) {
				t.Fatalf("item %q on line %d of %d", it.Text, it.Line, len(lines))
			}
			if !strings.Contains(lines[it.Line-1], "[") {
				t.Fatalf("item %q: line %d has no checkbox: %q", it.Text, it.Line, lines[it.Line-1])
			}
			n := normalize(it.Text)
			if n == "" || seen[n] || strings.Contains(it.Text, "\n") {
				t.Fatalf("bad or duplicate item %q", it.Text)
			}
			seen[n] = true
		}
		c2, err := ParseChecklist("c.md", content, heading)
		if err != nil || len(c2.Items) != len(c.Items) {
			t.Fatal("not deterministic")
		}
		render := func(box string) string {
			var b strings.Builder
			b.WriteString("## Motivation\nreason\n\n")
			for _, it := range c.Items {
				b.WriteString("- [" + box + "] " + it.Text + "\n")
			}
			return b.String()
		}
		in := Input{Event: &Event{Number: 1, Body: render("x")}, Category: policy.Normal, Checklist: c}
		if fs := only(Check(in, Config{}), RuleChecklist); len(fs) != 0 {
			t.Fatalf("ticked checklist refused: %+v\nbody:\n%s", fs, in.Event.Body)
		}
		in.Event.Body = render(" ")
		if fs := only(Check(in, Config{}), RuleChecklist); len(fs) != len(c.Items) && len(c.Items) > 0 {
			// Prefix matching may let one body item satisfy two
			// checklist items, never fewer findings than unticked items.
			t.Fatalf("unticked checklist: %d findings for %d items\nbody:\n%s", len(fs), len(c.Items), in.Event.Body)
		}
	})
}

// FuzzParseEvent: any bytes give an event or an error, never a panic, and a
// JSON error is located as path:line:col inside the input.
func FuzzParseEvent(f *testing.F) {
	for _, name := range []string{"opened.json", "fork.json", "null-body.json", "push.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "events", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"pull_request": {"number": "1\"2", "base": {"sha": "a"}, "head": {"sha": "b", "repo": null}}}`))
	f.Add([]byte("{\n\"pull_request\": {\"labels\": [{\"name\": 7}]}}"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := ParseEvent("pull_request", "e.json", data)
		if err != nil {
			if ev != nil {
				t.Fatal("event and error both returned")
			}
			var line, col int
			if n, _ := fmt.Sscanf(err.Error(), "e.json:%d:%d:", &line, &col); n == 2 {
				lines := strings.Split(string(data), "\n")
				if line < 1 || line > len(lines) || col < 1 || col > len(lines[line-1])+1 {
					t.Fatalf("error %q located outside the input (%d lines)", err, len(lines))
				}
			} else if !strings.HasPrefix(err.Error(), "e.json: ") {
				t.Fatalf("error not located: %q", err)
			}
			return
		}
		if ev.BaseSHA == "" || ev.HeadSHA == "" {
			t.Fatalf("event without shas: %+v", ev)
		}
	})
}

// FuzzCheck: any description, title and label give well-formed findings.
func FuzzCheck(f *testing.F) {
	f.Add("## Motivation\nreason\n- [x] a\n", "[normal] x", "category: major", "docs/rollouts/p.md")
	f.Add("Why\n===\n<!--\n", "[emergency][standard]", "Category:", "")
	f.Add("```\n## Motivation\n", "[category: x]", "category: emergency", "docs/threat-model.md")
	f.Fuzz(func(t *testing.T, body, title, label, changed string) {
		cl := &Checklist{Source: "c.md", Items: []ChecklistItem{{"a", 1}, {"b c", 2}}}
		for _, cat := range []policy.Category{policy.Unknown, policy.Standard, policy.Normal, policy.Major, policy.Emergency} {
			in := Input{Event: &Event{Number: 1, Title: title, Body: body, Labels: []string{label}}, Category: cat,
				CommitCategories: map[policy.Category]int{cat: 1, policy.Normal: 1}, Checklist: cl,
				ChangedPaths: []string{changed}, ExistingRecords: []string{changed}}
			fs := Check(in, Config{})
			for _, x := range fs {
				if x.Rule == "" || x.Message == "" || x.Fix == "" || (x.Severity != report.SeverityError && x.Severity != report.SeverityNotice) {
					t.Fatalf("malformed finding %+v", x)
				}
			}
			s := Summary(in, fs)
			if !strings.HasPrefix(s, "## guard · pull request #1") {
				t.Fatalf("summary starts %q", s[:min(len(s), 40)])
			}
			for _, line := range strings.Split(s, "\n") {
				if strings.HasPrefix(line, "| error |") || strings.HasPrefix(line, "| notice |") {
					if n := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|"); n != 6 {
						t.Fatalf("summary row with %d separators: %q", n, line)
					}
				}
			}
		}
	})
}
