package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseSeverity(t *testing.T) {
	for in, want := range map[string]Severity{
		"error": SeverityError, "ERROR": SeverityError, " warning\t": SeverityWarning,
		"Notice": SeverityNotice, "off": "off", "OFF ": "off",
	} {
		got, err := ParseSeverity(in)
		if err != nil || got != want {
			t.Errorf("ParseSeverity(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "fatal", "err", "warn", "error!", "no tice"} {
		got, err := ParseSeverity(bad)
		if err == nil || got != "" {
			t.Errorf("ParseSeverity(%q) = %q, %v; want an error", bad, got, err)
			continue
		}
		if !strings.Contains(err.Error(), "unknown severity") || !strings.Contains(err.Error(), "error, warning, notice or off") {
			t.Errorf("ParseSeverity(%q) error %q does not list the choices", bad, err)
		}
	}
}

func TestHasErrors(t *testing.T) {
	if HasErrors(nil) {
		t.Error("HasErrors(nil)")
	}
	if HasErrors([]Finding{{Severity: SeverityWarning}, {Severity: SeverityNotice}, {Severity: "off"}}) {
		t.Error("warnings and notices refuse")
	}
	if !HasErrors([]Finding{{Severity: SeverityNotice}, {Severity: SeverityError}}) {
		t.Error("an error finding does not refuse")
	}
}

func TestSortIsStableAndOrdered(t *testing.T) {
	fs := []Finding{
		{File: "b.sql", Line: 2, Rule: "r", Message: "m"},
		{File: "", Rule: "z", Message: "whole range"},
		{File: "a.sql", Line: 10, Rule: "r", Message: "m"},
		{File: "a.sql", Line: 9, Rule: "r", Message: "m"},
		{File: "a.sql", Line: 9, Rule: "q", Message: "z"},
		{File: "a.sql", Line: 9, Rule: "r", Message: "a"},
		// Equal keys: input order must be kept (Commit tells them apart).
		{File: "c.sql", Line: 1, Rule: "r", Message: "same", Commit: "first"},
		{File: "c.sql", Line: 1, Rule: "r", Message: "same", Commit: "second", Severity: SeverityError},
		{File: "c.sql", Line: 1, Rule: "r", Message: "same", Commit: "third"},
	}
	Sort(fs)
	var got []string
	for _, f := range fs {
		got = append(got, f.File+":"+itoa(f.Line)+":"+f.Rule+":"+f.Message+":"+f.Commit)
	}
	want := []string{
		":0:z:whole range:",
		"a.sql:9:q:z:", "a.sql:9:r:a:", "a.sql:9:r:m:", "a.sql:10:r:m:",
		"b.sql:2:r:m:",
		"c.sql:1:r:same:first", "c.sql:1:r:same:second", "c.sql:1:r:same:third",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Sort:\n got %q\nwant %q", got, want)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestText(t *testing.T) {
	for _, tc := range []struct {
		f    Finding
		want string
	}{
		{Finding{Rule: "r", Severity: SeverityError, Message: "bare"}, "guard: error: bare [r]\n"},
		{Finding{Rule: "drop-table", Severity: SeverityWarning, File: "migrations/0002_x.sql", Line: 7, Message: "drops a table", Fix: "add a new table instead"},
			"guard: warning: migrations/0002_x.sql:7: drops a table [drop-table]\nguard: hint: add a new table instead\n"},
		{Finding{Rule: "r", Severity: SeverityNotice, File: "docs/rollouts/", Message: "m"}, "guard: notice: docs/rollouts/: m [r]\n"},
		{Finding{Rule: "missing-category", Severity: SeverityError, Commit: "0123456789ab", Subject: `feat: "quoted"`, Message: "no trailer"},
			"guard: error: 0123456789ab \"feat: \\\"quoted\\\"\": no trailer [missing-category]\n"},
		{Finding{Rule: "r", Severity: SeverityError, Commit: "abc", Message: "no subject"}, "guard: error: abc: no subject [r]\n"},
		{Finding{Rule: "r", Severity: SeverityError, Commit: "abc", Subject: strings.Repeat("é", 80), Message: "m"},
			"guard: error: abc \"" + strings.Repeat("é", 71) + "…\": m [r]\n"},
		{Finding{Rule: "r", Severity: SeverityError, File: "f", Line: 3, Commit: "abc", Subject: "s", Message: "m", Fix: "x"},
			"guard: error: f:3: abc \"s\": m [r]\nguard: hint: x\n"},
	} {
		if got := Text(tc.f); got != tc.want {
			t.Errorf("Text(%+v)\n got %q\nwant %q", tc.f, got, tc.want)
		}
	}
	// A control character in a subject cannot reach the terminal raw.
	got := Text(Finding{Rule: "r", Severity: SeverityError, Commit: "abc", Subject: "a\x1b[2Jb\rc", Message: "m"})
	if strings.ContainsAny(got[:len(got)-1], "\x1b\r\n") {
		t.Errorf("subject control bytes printed raw: %q", got)
	}
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	fs := []Finding{{Rule: "a", Severity: SeverityError, Message: "one"}, {Rule: "b", Severity: SeverityWarning, Message: "two", Fix: "f"}}
	if err := Write(&b, FormatText, fs); err != nil {
		t.Fatal(err)
	}
	if want := "guard: error: one [a]\nguard: warning: two [b]\nguard: hint: f\n"; b.String() != want {
		t.Errorf("text = %q, want %q", b.String(), want)
	}
	b.Reset()
	if err := Write(&b, Format("unknown"), fs[:1]); err != nil || b.String() != "guard: error: one [a]\n" {
		t.Errorf("an unknown format does not fall back to text: %q, %v", b.String(), err)
	}
	b.Reset()
	if err := Write(&b, FormatText, nil); err != nil || b.Len() != 0 {
		t.Errorf("no findings printed %q, %v", b.String(), err)
	}
}

func TestWriteJSON(t *testing.T) {
	for _, fs := range [][]Finding{nil, {}} {
		var b bytes.Buffer
		if err := Write(&b, FormatJSON, fs); err != nil {
			t.Fatal(err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, b.Bytes()); err != nil {
			t.Fatalf("not JSON: %q: %v", b.String(), err)
		}
		if compact.String() != `{"findings":[]}` {
			t.Errorf("Write(json, %#v) = %s, want {\"findings\":[]}", fs, compact.String())
		}
		if !strings.HasSuffix(b.String(), "}\n") {
			t.Errorf("JSON output does not end in a newline: %q", b.String())
		}
	}

	fs := []Finding{
		{Rule: "r1", Severity: SeverityError, File: "a.sql", Line: 3, Commit: "abc", Subject: "s", Message: "m <&> \"q\" \u2028", Fix: "fix"},
		{Rule: "r2", Severity: SeverityNotice, Message: "minimal"},
	}
	var b bytes.Buffer
	if err := Write(&b, FormatJSON, fs); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Findings []map[string]any `json:"findings"`
	}
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"rule": "r1", "severity": "error", "file": "a.sql", "line": 3.0, "commit": "abc", "subject": "s", "message": "m <&> \"q\" \u2028", "fix": "fix"},
		{"rule": "r2", "severity": "notice", "message": "minimal"}, // empty fields omitted
	}
	if !reflect.DeepEqual(back.Findings, want) {
		t.Errorf("JSON findings = %v, want %v", back.Findings, want)
	}
	var typed struct{ Findings []Finding }
	if err := json.Unmarshal(b.Bytes(), &typed); err != nil || !reflect.DeepEqual(typed.Findings, fs) {
		t.Errorf("JSON does not round-trip: %+v, %v", typed.Findings, err)
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		return 0, errors.New("disk full")
	}
	w.n--
	return len(p), nil
}

func TestWriteReportsWriteErrors(t *testing.T) {
	fs := []Finding{{Rule: "a", Message: "1"}, {Rule: "b", Message: "2"}}
	for f, okWrites := range map[Format]int{FormatText: 1, FormatGitHub: 1, FormatJSON: 0} {
		if err := Write(&failingWriter{n: okWrites}, f, fs); err == nil {
			t.Errorf("%s: a failing writer is not reported", f)
		}
	}
}

// parseWorkflowCommand reads one line the way the GitHub Actions runner
// does (ActionCommand.TryParseV2): "::name k=v,k=v::data", properties split
// on ',' and the first '=', then each value and the data unescaped one
// sequence after another, "%25" last.
func parseWorkflowCommand(t *testing.T, line string) (name string, props map[string]string, data string) {
	t.Helper()
	if !strings.HasPrefix(line, "::") {
		t.Fatalf("not a workflow command: %q", line)
	}
	rest := line[2:]
	end := strings.Index(rest, "::")
	if end < 0 {
		t.Fatalf("no data separator: %q", line)
	}
	head, data := rest[:end], rest[end+2:]
	name, propText, _ := strings.Cut(head, " ")
	props = map[string]string{}
	if propText != "" {
		for _, kv := range strings.Split(propText, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("property without '=': %q in %q", kv, line)
			}
			if _, dup := props[k]; dup {
				t.Fatalf("property %q twice in %q", k, line)
			}
			props[k] = unescape(v, "%0D", "\r", "%0A", "\n", "%3A", ":", "%2C", ",", "%25", "%")
		}
	}
	data = unescape(data, "%0D", "\r", "%0A", "\n", "%25", "%")
	return name, props, data
}

func unescape(s string, pairs ...string) string {
	for i := 0; i < len(pairs); i += 2 {
		s = strings.ReplaceAll(s, pairs[i], pairs[i+1])
	}
	return s
}

func TestGitHubCommand(t *testing.T) {
	for _, tc := range []struct {
		f    Finding
		want string
	}{
		{Finding{Rule: "r", Severity: SeverityError, Message: "m"}, "::error title=guard r::m"},
		{Finding{Rule: "r", Severity: SeverityWarning, File: "a.sql", Line: 4, Message: "m"}, "::warning file=a.sql,line=4,title=guard r::m"},
		{Finding{Rule: "r", Severity: SeverityNotice, File: "a.sql", Message: "m"}, "::notice file=a.sql,title=guard r::m"},
		{Finding{Rule: "r", Severity: "off", Line: 4, Message: "m"}, "::error title=guard r::m"}, // a line without a file is dropped
		{Finding{Rule: "r", Severity: SeverityError, Commit: "abc", Subject: "s", Message: "m", Fix: "f"}, "::error title=guard r::abc s: m%0Afix: f"},
		{Finding{Rule: "r", Severity: SeverityError, Message: "100% done\r\n"}, "::error title=guard r::100%25 done%0D%0A"},
		{Finding{Rule: "a:b,c", Severity: SeverityError, File: "d,e:f%.sql", Message: "m"}, "::error file=d%2Ce%3Af%25.sql,title=guard a%3Ab%2Cc::m"},
	} {
		if got := GitHubCommand(tc.f); got != tc.want {
			t.Errorf("GitHubCommand(%+v)\n got %q\nwant %q", tc.f, got, tc.want)
		}
	}
}

// No field of a finding can end the command line, add a property or start
// a second command: what the runner parses back is exactly what was given.
func TestGitHubCommandCannotInject(t *testing.T) {
	evil := []string{
		"\n::error file=x::injected",
		"\r::warning::injected",
		"%0A::error::already escaped",
		"a::b,file=other.txt,line=99",
		"x,title=forged",
		"::add-mask::secret\n::stop-commands::tok",
		"\r\n%25%3A%2C",
	}
	for _, s := range evil {
		for _, f := range []Finding{
			{Rule: "r", Severity: SeverityError, Message: s},
			{Rule: "r", Severity: SeverityError, File: s, Line: 1, Message: "m"},
			{Rule: s, Severity: SeverityWarning, Message: "m"},
			{Rule: "r", Severity: SeverityNotice, Commit: "c", Subject: s, Message: s, Fix: s},
		} {
			line := GitHubCommand(f)
			if strings.ContainsAny(line, "\r\n") {
				t.Errorf("command spans lines: %q", line)
				continue
			}
			var b bytes.Buffer
			if err := Write(&b, FormatGitHub, []Finding{f}); err != nil || b.String() != line+"\n" {
				t.Errorf("Write(github) = %q, %v; want the command and one newline", b.String(), err)
			}
			name, props, data := parseWorkflowCommand(t, line)
			wantName := map[Severity]string{SeverityError: "error", SeverityWarning: "warning", SeverityNotice: "notice"}[f.Severity]
			if name != wantName {
				t.Errorf("command %q parsed as %q", line, name)
			}
			wantProps := map[string]string{"title": "guard " + f.Rule}
			if f.File != "" {
				wantProps["file"] = f.File
				wantProps["line"] = "1"
			}
			if !reflect.DeepEqual(props, wantProps) {
				t.Errorf("properties of %q = %q, want %q", line, props, wantProps)
			}
			wantData := f.Message
			if f.Commit != "" {
				wantData = f.Commit + " " + f.Subject + ": " + f.Message
			}
			if f.Fix != "" {
				wantData += "\nfix: " + f.Fix
			}
			if data != wantData {
				t.Errorf("data of %q = %q, want %q", line, data, wantData)
			}
		}
	}
}

// FuzzGitHubCommand: whatever the fields hold, the runner reads back one
// command with exactly the given properties and message.
func FuzzGitHubCommand(f *testing.F) {
	f.Add("rule", "file.sql", 3, "commit", "subject", "message\n::error::x", "fix")
	f.Add("a:b,c", "d,e%0A", 0, "", "", "100%\r\n", "")
	f.Fuzz(func(t *testing.T, rule, file string, line int, commit, subj, msg, fix string) {
		fd := Finding{Rule: rule, Severity: SeverityWarning, File: file, Line: line, Commit: commit, Subject: subj, Message: msg, Fix: fix}
		cmd := GitHubCommand(fd)
		if strings.ContainsAny(cmd, "\r\n") {
			t.Fatalf("command spans lines: %q", cmd)
		}
		name, props, data := parseWorkflowCommand(t, cmd)
		want := map[string]string{"title": "guard " + rule}
		if file != "" {
			want["file"] = file
			if line > 0 {
				want["line"] = itoa(line)
			}
		}
		wantData := msg
		if commit != "" {
			wantData = commit + " " + subj + ": " + msg
		}
		if fix != "" {
			wantData += "\nfix: " + fix
		}
		if name != "warning" || !reflect.DeepEqual(props, want) || data != wantData {
			t.Fatalf("%q parsed as %q %q %q", cmd, name, props, data)
		}
	})
}
