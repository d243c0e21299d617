package records

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var opened = time.Date(2026, 11, 2, 9, 41, 27, 500, time.UTC)

func rollbackRecord() *Record {
	r := NewRollback(opened)
	r.Worker, r.Env = "api", ""
	r.FromVersion, r.ToVersion = "3f1c2b9a-0000-4000-8000-000000000003", "9a8b7c6d-0000-4000-8000-000000000001"
	r.FromCommit, r.ToCommit = strings.Repeat("c", 40), strings.Repeat("a", 40)
	r.DeploymentID = "d0d0d0d0-0000-4000-8000-000000000004"
	r.Operator = "ada@example.com"
	r.Reason = `checkout fails: "500" # on /pay`
	return r
}

func TestRenderParseRoundTrip(t *testing.T) {
	r := rollbackRecord()
	events := []Event{
		{opened.Add(-time.Hour), "version 3f1c2b9a deployed by bob@example.com"},
		{opened, "guard rollback started\nby ada"},
	}
	data := r.Render(events)
	got, err := Parse("x.md", data)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, data)
	}
	want := *r
	want.Path = "x.md"
	want.TODO = got.TODO
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", *got, want)
	}
	if got.Kind() != KindRollback {
		t.Errorf("kind %q", got.Kind())
	}
	if !got.Opened.Equal(time.Date(2026, 11, 2, 9, 41, 27, 0, time.UTC)) || got.Due.Sub(got.Opened) != 24*time.Hour {
		t.Errorf("opened %s due %s", got.Opened, got.Due)
	}
	// Every section the rollback cannot fill holds the marker; the
	// timeline holds the events on one line each.
	text := string(data)
	for _, s := range []string{"## Summary\n\nTODO", "## Impact\n\nTODO", "## Root cause\n\nTODO", "## Follow-up\n\nTODO", "## Approval\n\nTODO", "## Timeline"} {
		if !strings.Contains(text, s) {
			t.Errorf("missing %q in\n%s", s, text)
		}
	}
	if !strings.Contains(text, "- 2026-11-02T09:41:27Z — guard rollback started by ada\n") {
		t.Errorf("timeline event not on one line:\n%s", text)
	}
	for _, k := range []string{"category: emergency", "control: A.8.32", "opened: 2026-11-02T09:41:27Z", "due: 2026-11-03T09:41:27Z",
		"worker: api", `env: ""`, "from_version: 3f1c2b9a-", "to_version: 9a8b7c6d-", "from_commit: ccc", "to_commit: aaa",
		"deployment_id: d0d0d0d0-", "operator: ada@example.com", `reason: "checkout fails: \"500\" # on /pay"`} {
		if !strings.Contains(text, "\n"+k) {
			t.Errorf("front matter lacks %q:\n%s", k, text)
		}
	}
	if len(got.TODO) != 6 {
		t.Errorf("TODO lines %v, want 6", got.TODO)
	}
}

func TestCommitRecord(t *testing.T) {
	r := NewCommit(opened)
	r.Commit, r.Subject, r.Operator = strings.Repeat("b", 40), "fix: stop the outage", "ada@example.com"
	if r.FileName() != "2026-11-02-0941-emergency-bbbbbbbbbbbb.md" {
		t.Errorf("file name %q", r.FileName())
	}
	got, err := Parse("y.md", r.Render(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind() != KindCommit || got.Commit != r.Commit || got.Subject != r.Subject || got.Worker != "" {
		t.Errorf("got %+v", got)
	}
	if strings.Contains(string(r.Render(nil)), "to_version") {
		t.Error("a commit record has rollback fields")
	}
}

func TestFileName(t *testing.T) {
	r := rollbackRecord()
	if got := r.FileName(); got != "2026-11-02-0941-rollback-api-9a8b7c6d.md" {
		t.Errorf("got %q", got)
	}
	r.Worker = "../etc/pass wd"
	if got := r.FileName(); strings.ContainsAny(got, "/ ") || !strings.HasPrefix(got, "2026-11-02-0941-rollback-etc-pass-wd-") {
		t.Errorf("unsafe worker name not cleaned: %q", got)
	}
}

func TestState(t *testing.T) {
	r := rollbackRecord()
	data := r.Render(nil)
	rec, err := Parse("r.md", data)
	if err != nil {
		t.Fatal(err)
	}
	if s := rec.State(opened.Add(23 * time.Hour)); s != StateOpen {
		t.Errorf("within 24h: %s", s)
	}
	if s := rec.State(rec.Due); s != StateOpen {
		t.Errorf("at the due time: %s", s)
	}
	if s := rec.State(rec.Due.Add(time.Second)); s != StateOverdue {
		t.Errorf("past due: %s", s)
	}
	done := todoRE().ReplaceAllString(string(data), "done")
	rec, err = Parse("r.md", []byte(done))
	if err != nil {
		t.Fatal(err)
	}
	if s := rec.State(opened.Add(1000 * time.Hour)); s != StateDocumented {
		t.Errorf("no TODO left: %s", s)
	}
	// "TODOs" or "todo" are prose, not the marker.
	rec, _ = Parse("r.md", []byte(strings.Replace(done, "## Impact", "## Impact\n\nno todo or TODOs here", 1)))
	if len(rec.TODO) != 0 {
		t.Errorf("marker matched in prose: %v", rec.TODO)
	}
}

func TestCreateNeverOverwrites(t *testing.T) {
	root := t.TempDir()
	var paths []string
	for i := 0; i < 3; i++ {
		r := rollbackRecord()
		r.Reason = []string{"first", "second", "third"}[i]
		p, err := Create(root, "docs/changes/emergency", r, nil)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, r.Path)
		if filepath.ToSlash(p) != filepath.ToSlash(filepath.Join(root, r.Path)) {
			t.Errorf("path %s vs %s", p, r.Path)
		}
	}
	want := []string{
		"docs/changes/emergency/2026-11-02-0941-rollback-api-9a8b7c6d.md",
		"docs/changes/emergency/2026-11-02-0941-rollback-api-9a8b7c6d-2.md",
		"docs/changes/emergency/2026-11-02-0941-rollback-api-9a8b7c6d-3.md",
	}
	if !reflect.DeepEqual(paths, want) {
		t.Fatalf("paths %v", paths)
	}
	for i, p := range want {
		data, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "reason: "+[]string{"first", "second", "third"}[i]) {
			t.Errorf("%s was overwritten:\n%s", p, data)
		}
	}
	recs, probs, err := List(root, "docs/changes/emergency")
	if err != nil || len(probs) != 0 || len(recs) != 3 {
		t.Fatalf("list: %d records, problems %v, err %v", len(recs), probs, err)
	}
}

func TestListReportsBadFilesAndKeepsTheRest(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "recs")
	if _, err := Create(root, "recs", rollbackRecord(), nil); err != nil {
		t.Fatal(err)
	}
	must := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must("README.md", "# Emergency records\n")
	must("notes.txt", "not a record")
	must("broken.md", "---\ncategory: emergency\ncontrol: A.8.32\nopened: yesterday\ndue: 2026-11-03T09:41:27Z\n---\n")
	recs, probs, err := List(root, "recs")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || len(probs) != 1 {
		t.Fatalf("records %d problems %v", len(recs), probs)
	}
	var pe *ParseError
	if !errors.As(probs[0], &pe) || pe.File != "recs/broken.md" || pe.Line != 4 {
		t.Fatalf("problem %v", probs[0])
	}
	if got := probs[0].Error(); !strings.HasPrefix(got, "recs/broken.md:4: opened \"yesterday\" is not a UTC time") {
		t.Errorf("message %q", got)
	}
	if recs, probs, err := List(root, "missing"); recs != nil || probs != nil || err != nil {
		t.Errorf("missing folder: %v %v %v", recs, probs, err)
	}
}

func TestParseHandEdits(t *testing.T) {
	valid := "---\r\n# filled in by hand\r\ncategory: emergency\r\ncontrol: 'A.8.32'\r\nopened: 2026-11-02 09:41:27Z\r\ndue: \"2026-11-03T09:41:27Z\" # policy\r\n" +
		"worker: api   # the worker\r\nreason: 'it''s broken'\r\napprover: \"Grace \\u00e9\\ud83d\\ude00\"\r\n---\r\n\r\n## Summary\r\nAll done.\r\n"
	r, err := Parse("h.md", []byte("\xef\xbb\xbf"+valid))
	if err != nil {
		t.Fatal(err)
	}
	if r.Worker != "api" || r.Reason != "it's broken" || r.Kind() != KindRollback || len(r.TODO) != 0 {
		t.Errorf("got %+v", r)
	}
	if len(r.Extra) != 1 || r.Extra[0] != (Field{"approver", "Grace é😀", 9}) {
		t.Errorf("extra %+v", r.Extra)
	}
}

func TestParseErrorsAreLocated(t *testing.T) {
	head := "---\ncategory: emergency\ncontrol: A.8.32\nopened: 2026-11-02T09:41:27Z\ndue: 2026-11-03T09:41:27Z\n"
	for _, tc := range []struct {
		name, body string
		line       int
		msg        string
	}{
		{"no front matter", "# Record\n", 1, "no front matter"},
		{"unclosed", head, 1, "not closed"},
		{"no colon", head + "worker api\n---\n", 6, `want "key: value"`},
		{"bad key", head + "work er: api\n---\n", 6, "invalid key"},
		{"duplicate", head + "worker: a\nworker: b\n---\n", 7, `key "worker" repeats line 6`},
		{"indented", head + "reason: x\n  more\n---\n", 7, "indented line"},
		{"unterminated", head + "reason: \"x\n---\n", 6, "reason: unterminated double-quoted value"},
		{"bad escape", head + "reason: \"\\q\"\n---\n", 6, `unknown escape \q`},
		{"junk after quote", head + "reason: \"x\" y\n---\n", 6, "after the closing quote"},
		{"block scalar", head + "reason: |\n---\n", 6, "multi-line values"},
		{"list", head + "reason: [a, b]\n---\n", 6, "lists and maps"},
		{"wrong category", strings.Replace(head, "category: emergency", "category: normal", 1) + "---\n", 2, `category must be "emergency"`},
		{"missing control", strings.Replace(head, "control: A.8.32\n", "", 1) + "---\n", 1, `control must be "A.8.32"`},
		{"bad due", strings.Replace(head, "due: 2026-11-03T09:41:27Z", "due: tomorrow", 1) + "---\n", 5, `due "tomorrow" is not a UTC time`},
		{"due too late", strings.Replace(head, "due: 2026-11-03T09:41:27Z", "due: 2026-11-04T09:41:27Z", 1) + "---\n", 5, "at most 24 hours later"},
		{"due before opened", strings.Replace(head, "due: 2026-11-03T09:41:27Z", "due: 2026-11-01T09:41:27Z", 1) + "---\n", 5, "must be after opened"},
		{"missing opened", strings.Replace(head, "opened: 2026-11-02T09:41:27Z\n", "", 1) + "---\n", 1, "opened is missing"},
		{"not utf-8", head + "reason: \xff\n---\n", 0, "not UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("docs/r.md", []byte(tc.body))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("want a *ParseError, got %v", err)
			}
			if pe.File != "docs/r.md" || pe.Line != tc.line || !strings.Contains(pe.Msg, tc.msg) {
				t.Errorf("got %q (line %d), want line %d with %q", err, pe.Line, tc.line, tc.msg)
			}
		})
	}
}

func TestQuoteKeepsYAMLStrings(t *testing.T) {
	for v, want := range map[string]string{
		"api":             "api",
		"ada@example.com": "ada@example.com",
		"":                `""`,
		"yes":             `"yes"`,
		"Null":            `"Null"`,
		"1234":            `"1234"`,
		"1e10":            `"1e10"`,
		"a: b":            `"a: b"`,
		"-x":              `"-x"`,
		"#x":              `"#x"`,
		"<b>&":            `"<b>&"`,
	} {
		if got := quote("k", v); got != want {
			t.Errorf("quote(%q) = %s, want %s", v, got, want)
		}
	}
}
