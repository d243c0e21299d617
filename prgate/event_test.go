package prgate

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadEvent(t *testing.T) {
	tests := []struct {
		file string
		want Event
	}{
		{"opened.json", Event{Name: "pull_request", Number: 42, Title: "Show the invoice due date",
			BaseRef: "main", BaseSHA: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
			HeadRef: "invoice-due-date", HeadSHA: "6dcb09b5b57875f334f61aebed695e2e4193db5e",
			HeadRepo: "acme/billing-worker", BaseRepo: "acme/billing-worker", Action: "opened"}},
		{"edited.json", Event{Name: "pull_request", Number: 43, Title: "Rate-limit login",
			Labels:  []string{"category: Normal", "security"},
			BaseRef: "main", BaseSHA: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
			HeadRef: "login-rate-limit", HeadSHA: "3a0f86fb8db8eea7ccbb9a95f325ddbedfb25e15",
			HeadRepo: "acme/billing-worker", BaseRepo: "acme/billing-worker", Action: "edited"}},
		{"synchronize.json", Event{Name: "pull_request", Number: 44, Title: "Archive receipts in R2",
			Labels:  []string{"category: major"},
			BaseRef: "main", BaseSHA: "2b7c4e1d9a8f6e5d4c3b2a1908f7e6d5c4b3a291",
			HeadRef: "receipts-archive", HeadSHA: "9c1f2a7e4d3b8a6c5e0f1d2c3b4a59687766554f",
			HeadRepo: "acme/billing-worker", BaseRepo: "acme/billing-worker", Action: "synchronize"}},
		{"fork.json", Event{Name: "pull_request", Number: 45, Title: "[standard] Fix the deploy command in the README",
			BaseRef: "main", BaseSHA: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
			HeadRef: "patch-1", HeadSHA: "b1946ac92492d2347c6235b4d2611184a1e7f3c5",
			HeadRepo: "octo-contrib/billing-worker", BaseRepo: "acme/billing-worker", Fork: true, Action: "opened"}},
		{"null-body.json", Event{Name: "pull_request", Number: 46, Title: "Add a customers export",
			BaseRef: "main", BaseSHA: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
			HeadRef: "customers-export", HeadSHA: "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391",
			HeadRepo: "acme/billing-worker", BaseRepo: "acme/billing-worker", Action: "opened"}},
		{"labeled.json", Event{Name: "pull_request", Number: 47, Title: "Hotfix: invoice page 500",
			Labels:  []string{"category: emergency"},
			BaseRef: "main", BaseSHA: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
			HeadRef: "hotfix-invoice-500", HeadSHA: "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
			HeadRepo: "acme/billing-worker", BaseRepo: "acme/billing-worker", Action: "labeled"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			ev, err := LoadEvent("pull_request", filepath.Join("testdata", "events", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got := *ev
			if tt.file == "null-body.json" {
				if got.Body != "" {
					t.Errorf("null body read as %q", got.Body)
				}
			} else if !strings.Contains(got.Body, "otivation") && !strings.Contains(got.Body, "Why") {
				t.Errorf("body not read: %q", got.Body)
			}
			got.Body = ""
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("event:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestLoadEventPullRequestTarget(t *testing.T) {
	ev, err := LoadEvent("pull_request_target", filepath.Join("testdata", "events", "fork.json"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Name != "pull_request_target" || !ev.Fork || ev.HeadRepo != "octo-contrib/billing-worker" {
		t.Errorf("got %+v", ev)
	}
}

func TestLoadEventDeletedFork(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "events", "fork.json"))
	if err != nil {
		t.Fatal(err)
	}
	// GitHub sends "repo": null in head when the fork was deleted.
	s := string(data)
	i := strings.Index(s, `"repo": {`)
	j := strings.Index(s[i:], `"base": {`)
	if i < 0 || j < 0 {
		t.Fatal("fixture shape changed")
	}
	s = s[:i] + `"repo": null }, ` + s[i+j:]
	ev, err := ParseEvent("pull_request", "event.json", []byte(s))
	if err != nil {
		t.Fatal(err)
	}
	if !ev.Fork || ev.HeadRepo != "" {
		t.Errorf("deleted fork: Fork=%v HeadRepo=%q", ev.Fork, ev.HeadRepo)
	}
}

func TestLoadEventErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := write("bad.json", "{\n  \"action\": \"opened\",\n  \"number\": 4 2\n}\n")
	truncated := write("truncated.json", "{\n  \"action\": \"opened\",\n  \"pull_request\": {\n")
	wrongType := write("type.json", "{\n  \"pull_request\": {\n    \"number\": \"42\"\n  }\n}\n")
	noSHA := write("nosha.json", `{"pull_request": {"number": 1, "base": {"ref": "main"}, "head": {"ref": "x"}}}`)
	tests := []struct {
		name, event, path string
		want              []string
	}{
		{"push event name", "push", filepath.Join("testdata", "events", "opened.json"), []string{`event "push" is not a pull request event`}},
		{"no event name", "", filepath.Join("testdata", "events", "opened.json"), []string{"GITHUB_EVENT_NAME is empty"}},
		{"no path", "pull_request", "", []string{"GITHUB_EVENT_PATH is empty"}},
		{"missing file", "pull_request", filepath.Join(dir, "nope.json"), []string{"reading event payload", "nope.json"}},
		{"push payload", "pull_request", filepath.Join("testdata", "events", "push.json"), []string{"push.json: event payload has no pull_request object"}},
		{"syntax error", "pull_request", bad, []string{bad + ":3:15: invalid JSON"}},
		{"truncated", "pull_request", truncated, []string{truncated + ":4:1: invalid JSON: unexpected end of JSON input"}},
		{"wrong type", "pull_request", wrongType, []string{wrongType + ":3:15: pull_request.number: cannot use JSON string as int"}},
		{"no sha", "pull_request", noSHA, []string{"nosha.json: pull_request has no base.sha or head.sha"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := LoadEvent(tt.event, tt.path)
			if err == nil {
				t.Fatalf("no error; event %+v", ev)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
