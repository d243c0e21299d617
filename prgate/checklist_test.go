package prgate

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

func readTemplate(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "checklist", "pull_request_template.md"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseChecklistTemplate(t *testing.T) {
	c, err := ParseChecklist(".github/pull_request_template.md", readTemplate(t), "Self-review checklist")
	if err != nil {
		t.Fatal(err)
	}
	want := []ChecklistItem{
		{"Input validation: new inputs are validated before use; D1 queries use bound parameters", 21},
		{"Authorization: every new route checks who is calling", 22},
		{"Secrets: no secret is in code, configuration, logs or tests", 23},
		{"Tests: the change is covered by tests and `bun run test:all` passes", 24},
		{"Rollback: migrations are additive and the previous code runs against the new schema", 26},
	}
	if c.Source != ".github/pull_request_template.md" {
		t.Errorf("source %q", c.Source)
	}
	if !reflect.DeepEqual(c.Items, want) {
		t.Errorf("items:\n got %+v\nwant %+v", c.Items, want)
	}
}

func TestParseChecklist(t *testing.T) {
	tests := []struct {
		name, content, heading string
		want                   []ChecklistItem
		err                    string
	}{
		{name: "whole file without heading",
			content: "# Review\n\n- [ ] one\n* [x] two\n+ [X] three\n1. [ ] four\n2) [ ] five\n",
			want:    []ChecklistItem{{"one", 3}, {"two", 4}, {"three", 5}, {"four", 6}, {"five", 7}}},
		{name: "heading not found means whole file",
			content: "- [ ] one\n- [ ] two\n", heading: "Self-review checklist",
			want: []ChecklistItem{{"one", 1}, {"two", 2}}},
		{name: "section ends at same level, includes deeper levels",
			content: "## Other\n- [ ] no\n## Self-review checklist\n- [ ] a\n### Details\n- [ ] b\n## Next\n- [ ] c\n",
			heading: "self-review CHECKLIST",
			want:    []ChecklistItem{{"a", 4}, {"b", 6}}},
		{name: "closing hashes and emphasis in heading",
			content: "## **Self-review checklist:** ##\n- [ ] a\n", heading: "Self-review checklist",
			want: []ChecklistItem{{"a", 2}}},
		{name: "setext heading",
			content: "Self-review checklist\n---------------------\n- [ ] a\n\nOther\n=====\n- [ ] b\n", heading: "Self-review checklist",
			want: []ChecklistItem{{"a", 3}}},
		{name: "fenced code and comments are not items",
			content: "- [ ] real\n```\n- [ ] fenced\n```\n~~~~md\n- [ ] tilde\n~~~\n- [ ] still fenced\n~~~~\n<!-- - [ ] commented -->\n<!--\n- [ ] in a long comment\n-->\n- [ ] after <!-- note --> comment\n",
			want:    []ChecklistItem{{"real", 1}, {"after comment", 14}}},
		{name: "heading inside a fence does not start the section",
			content: "```\n## Self-review checklist\n- [ ] fenced\n```\n## Self-review checklist\n- [ ] a\n", heading: "Self-review checklist",
			want: []ChecklistItem{{"a", 6}}},
		{name: "continuation lines and CRLF",
			content: "- [ ] first part\r\n  second part\r\n- [ ] next\r\n\r\n  not a continuation\r\n", want: []ChecklistItem{{"first part second part", 1}, {"next", 3}}},
		{name: "nested items and duplicates",
			content: "- [ ] parent\n  - [ ] child\n- [ ] Parent.\n", want: []ChecklistItem{{"parent", 1}, {"child", 2}}},
		{name: "not task items",
			content: "- [] x\n-[ ] y\n- [y] z\n- [ ]\n- [ ]   \n    - [ ] deep indent is still an item\n", want: []ChecklistItem{{"deep indent is still an item", 6}}},
		{name: "no items", content: "# Checklist\n\nNothing.\n", err: "checklist.md: no checklist items"},
		{name: "empty section", content: "## Self-review checklist\n\n## Other\n- [ ] x\n", heading: "Self-review checklist",
			err: `checklist.md: no checklist items (lines like "- [ ] text") under heading "Self-review checklist" (line 1)`},
		{name: "not UTF-8", content: "- [ ] ok\n- [ ] \xff\n", err: "checklist.md:2: checklist is not valid UTF-8"},
		{name: "empty", content: "", err: "no checklist items"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseChecklist("checklist.md", []byte(tt.content), tt.heading)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Items, tt.want) {
				t.Errorf("items:\n got %+v\nwant %+v", c.Items, tt.want)
			}
		})
	}
}

func TestLoadChecklist(t *testing.T) {
	read := func(m fstest.MapFS) func(string) ([]byte, error) {
		return func(p string) ([]byte, error) { return m.ReadFile(p) }
	}
	cfg := Config{}
	// Template first.
	c, err := LoadChecklist(read(fstest.MapFS{
		".github/pull_request_template.md": {Data: readTemplate(t)},
		"docs/self-review-checklist.md":    {Data: []byte("- [ ] other\n")},
	}), cfg)
	if err != nil || c == nil || c.Source != ".github/pull_request_template.md" || len(c.Items) != 5 {
		t.Fatalf("template: %+v, %v", c, err)
	}
	// A template without a checklist passes the turn.
	c, err = LoadChecklist(read(fstest.MapFS{
		".github/pull_request_template.md": {Data: []byte("## Motivation\n")},
		"docs/self-review-checklist.md":    {Data: []byte("# Checklist\n- [ ] other\n")},
	}), cfg)
	if err != nil || c == nil || c.Source != "docs/self-review-checklist.md" || len(c.Items) != 1 {
		t.Fatalf("fallback: %+v, %v", c, err)
	}
	// Nothing usable: the first file's error.
	_, err = LoadChecklist(read(fstest.MapFS{".github/pull_request_template.md": {Data: []byte("## Motivation\n")}}), cfg)
	if err == nil || !strings.Contains(err.Error(), ".github/pull_request_template.md: no checklist items") {
		t.Fatalf("no checklist: %v", err)
	}
	// No file at all.
	c, err = LoadChecklist(read(fstest.MapFS{}), cfg)
	if c != nil || err != nil {
		t.Fatalf("no files: %+v, %v", c, err)
	}
	// Configured files, and a read error that is not "not found".
	c, err = LoadChecklist(read(fstest.MapFS{"REVIEW.md": {Data: []byte("- [ ] a\n")}}), Config{ChecklistFiles: []string{"REVIEW.md"}})
	if err != nil || c == nil || c.Source != "REVIEW.md" {
		t.Fatalf("configured: %+v, %v", c, err)
	}
	_, err = LoadChecklist(func(string) ([]byte, error) { return nil, os.ErrPermission }, cfg)
	if err == nil || !strings.Contains(err.Error(), "reading checklist .github/pull_request_template.md") {
		t.Fatalf("read error: %v", err)
	}
}
