package migrations

import (
	"context"
	"fmt"
	"github.com/rogpeppe/go-internal/txtar"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/guardcm/guard/internal/report"
)

// A case is a small migrations folder written as a txtar archive:
//
//	comment:   "nobase" (HasBase=false), "digits: N", "severity: rule=sev ..."
//	-- want --            one expected finding per line:
//	                      "rule severity file:line" optionally "~ message part"
//	-- 0001_a.sql --      a file on base and head with the same content
//	-- new/0002_b.sql --  a file only at the head
//	-- old/0002_b.sql --  a file only on base (or its base version)
//	-- baseline/x.sql --  Options.Baseline (path "x.sql", outside the folder)
//
// Further header lines: "memory: N" (Options.FileMemory in bytes),
// "schema-only" (Options.SchemaOnly), "timeout: D" (Options.FileTimeout).
//
// File names are relative to the migrations folder "migrations".
type want struct {
	rule, severity, file string
	line                 int
	contains             string
}

type caseSpec struct {
	in    Input
	opts  Options
	wants []want
}

const dir = "migrations"

func parseCase(t testing.TB, src string) caseSpec {
	t.Helper()
	ar := txtar.Parse([]byte(src))
	cs := caseSpec{in: Input{Dir: dir, HasBase: true}}
	for _, line := range strings.Split(string(ar.Comment), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case line == "nobase":
			cs.in.HasBase = false
		case line == "infer-digits":
			cs.opts.InferDigits = true
		case strings.HasPrefix(line, "digits:"):
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "digits:")))
			if err != nil {
				t.Fatalf("bad digits line %q", line)
			}
			cs.opts.Digits = n
		case strings.HasPrefix(line, "timeout:"):
			d, err := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(line, "timeout:")))
			if err != nil {
				t.Fatalf("bad timeout line %q", line)
			}
			cs.opts.FileTimeout = d
		case strings.HasPrefix(line, "memory:"):
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(line, "memory:")), 10, 64)
			if err != nil {
				t.Fatalf("bad memory line %q", line)
			}
			cs.opts.FileMemory = n
		case line == "schema-only":
			cs.opts.SchemaOnly = true
		case strings.HasPrefix(line, "severity:"):
			cs.opts.Severity = map[string]report.Severity{}
			for _, kv := range strings.Fields(strings.TrimPrefix(line, "severity:")) {
				k, v, _ := strings.Cut(kv, "=")
				cs.opts.Severity[k] = report.Severity(v)
			}
		default:
			t.Fatalf("unknown case header line %q", line)
		}
	}
	for _, f := range ar.Files {
		switch {
		case f.Name == "want":
			cs.wants = parseWants(t, string(f.Data))
		case strings.HasPrefix(f.Name, "baseline/"):
			cs.opts.Baseline = append(cs.opts.Baseline, File{Path: strings.TrimPrefix(f.Name, "baseline/"), Content: f.Data})
		case strings.HasPrefix(f.Name, "new/"):
			cs.in.Head = append(cs.in.Head, File{Path: dir + "/" + strings.TrimPrefix(f.Name, "new/"), Content: f.Data})
		case strings.HasPrefix(f.Name, "old/"):
			if !cs.in.HasBase {
				t.Fatalf("old/ file %s in a nobase case", f.Name)
			}
			cs.in.Base = append(cs.in.Base, File{Path: dir + "/" + strings.TrimPrefix(f.Name, "old/"), Content: f.Data})
		default:
			fl := File{Path: dir + "/" + f.Name, Content: f.Data}
			cs.in.Head = append(cs.in.Head, fl)
			if cs.in.HasBase {
				cs.in.Base = append(cs.in.Base, fl)
			}
		}
	}
	return cs
}

func parseWants(t testing.TB, s string) []want {
	t.Helper()
	var out []want
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		head, contains, _ := strings.Cut(line, "~")
		fields := strings.Fields(head)
		if len(fields) != 3 {
			t.Fatalf("bad want line %q (want: rule severity file:line [~ text])", line)
		}
		file, ln, ok := strings.Cut(fields[2], ":")
		n, err := strconv.Atoi(ln)
		if !ok || err != nil {
			t.Fatalf("bad location in want line %q", line)
		}
		out = append(out, want{rule: fields[0], severity: fields[1], file: dir + "/" + file, line: n, contains: strings.TrimSpace(contains)})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.file != b.file {
			return a.file < b.file
		}
		if a.line != b.line {
			return a.line < b.line
		}
		return a.rule < b.rule
	})
	return out
}

func format(fs []report.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %s %s %s:%d: %s\n", f.Rule, f.Severity, strings.TrimPrefix(f.File, dir+"/"), f.Line, f.Message)
	}
	return b.String()
}

// checkCase runs Check on a case and compares every finding: rule,
// severity, file and line must match exactly, in order, and each message
// must contain the given text.
func checkCase(t *testing.T, src string) []report.Finding {
	t.Helper()
	cs := parseCase(t, src)
	got, err := Check(context.Background(), cs.in, cs.opts)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	compare(t, got, cs.wants)
	return got
}

func compare(t *testing.T, got []report.Finding, wants []want) {
	t.Helper()
	ok := len(got) == len(wants)
	for i := 0; ok && i < len(got); i++ {
		g, w := got[i], wants[i]
		if g.Rule != w.rule || string(g.Severity) != w.severity || g.File != w.file || g.Line != w.line ||
			!strings.Contains(g.Message, w.contains) {
			ok = false
		}
	}
	if !ok {
		var wb strings.Builder
		for _, w := range wants {
			fmt.Fprintf(&wb, "  %s %s %s:%d ~ %s\n", w.rule, w.severity, strings.TrimPrefix(w.file, dir+"/"), w.line, w.contains)
		}
		t.Errorf("findings differ\ngot:\n%swant:\n%s", format(got), wb.String())
	}
	for _, f := range got {
		if f.Message == "" {
			t.Errorf("finding %s at %s:%d has no message", f.Rule, f.File, f.Line)
		}
		if f.Fix == "" && f.Severity != report.SeverityNotice {
			t.Errorf("finding %s at %s:%d has no fix", f.Rule, f.File, f.Line)
		}
	}
}

// readFolder loads every file directly in a testdata folder as File values
// under the migrations directory.
func readFolder(t testing.TB, folder string) []File {
	t.Helper()
	entries, err := os.ReadDir(folder)
	if err != nil {
		t.Fatal(err)
	}
	var out []File
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(folder, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, File{Path: dir + "/" + e.Name(), Content: data})
	}
	return out
}
