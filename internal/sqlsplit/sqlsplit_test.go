package sqlsplit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteComplete asks SQLite's own sqlite3_complete about s. It is the
// oracle the splitter is checked against.
func sqliteComplete(tb testing.TB, tls *libc.TLS, s string) bool {
	tb.Helper()
	cs, err := libc.CString(s)
	if err != nil {
		tb.Fatal(err)
	}
	defer libc.Xfree(tls, cs)
	return sqlite3.Xsqlite3_complete(tls, cs) != 0
}

type splitWant struct {
	text       string
	line, end  int
	terminated bool
}

var splitCases = []struct {
	name string
	in   string
	want []splitWant
}{
	{"two statements and a comment", "CREATE TABLE a(x);\n\n-- c;\nCREATE TABLE b(\n  y\n);\n",
		[]splitWant{{"CREATE TABLE a(x);", 1, 1, true}, {"CREATE TABLE b(\n  y\n);", 4, 6, true}}},
	{"semicolons in strings and identifiers", "INSERT INTO t VALUES ('a;b', \"c;d\", [e;f], `g;h`);SELECT 'it''s;';",
		[]splitWant{{"INSERT INTO t VALUES ('a;b', \"c;d\", [e;f], `g;h`);", 1, 1, true}, {"SELECT 'it''s;';", 1, 1, true}}},
	{"semicolons in comments", "-- x;\nSELECT 1; /* ; */ SELECT 2 -- ;\n;",
		[]splitWant{{"SELECT 1;", 2, 2, true}, {"SELECT 2 -- ;\n;", 2, 3, true}}},
	{"trigger body", "CREATE TRIGGER t AFTER INSERT ON x BEGIN\n  INSERT INTO y VALUES (1);\n  DELETE FROM z;\nEND;\nSELECT 1;",
		[]splitWant{{"CREATE TRIGGER t AFTER INSERT ON x BEGIN\n  INSERT INTO y VALUES (1);\n  DELETE FROM z;\nEND;", 1, 4, true}, {"SELECT 1;", 5, 5, true}}},
	{"temp trigger with CASE END inside", "create temporary trigger t after insert on x begin select case when 1 then 2 end; end ; select 3;",
		[]splitWant{{"create temporary trigger t after insert on x begin select case when 1 then 2 end; end ;", 1, 1, true}, {"select 3;", 1, 1, true}}},
	{"EXPLAIN CREATE TRIGGER", "EXPLAIN CREATE TEMP TRIGGER t AFTER INSERT ON x BEGIN SELECT 1; END;",
		[]splitWant{{"EXPLAIN CREATE TEMP TRIGGER t AFTER INSERT ON x BEGIN SELECT 1; END;", 1, 1, true}}},
	{"a table named trigger is not a trigger", "CREATE TABLE trigger(x); SELECT 1;",
		[]splitWant{{"CREATE TABLE trigger(x);", 1, 1, true}, {"SELECT 1;", 1, 1, true}}},
	{"empty statements", ";; ;\n;", nil},
	{"only comments", "-- a\n/* b */\n", nil},
	{"unterminated last statement", "SELECT 1;\nSELECT 2 -- no semicolon\n",
		[]splitWant{{"SELECT 1;", 1, 1, true}, {"SELECT 2", 2, 2, false}}},
	{"unterminated string swallows the rest", "SELECT 1; SELECT 'abc;\nDROP TABLE x;",
		[]splitWant{{"SELECT 1;", 1, 1, true}, {"SELECT 'abc;\nDROP TABLE x;", 1, 2, false}}},
	{"unterminated comment after the last statement", "SELECT 1; /* never closed ;",
		[]splitWant{{"SELECT 1;", 1, 1, true}}},
	{"drizzle breakpoints", "DROP TABLE `a`;--> statement-breakpoint\nCREATE TABLE b(x);",
		[]splitWant{{"DROP TABLE `a`;", 1, 1, true}, {"CREATE TABLE b(x);", 2, 2, true}}},
	{"CRLF", "SELECT 1;\r\nSELECT\r\n 2;\r\n",
		[]splitWant{{"SELECT 1;", 1, 1, true}, {"SELECT\r\n 2;", 2, 3, true}}},
	{"non-ASCII identifiers", "CREATE TABLE טבלה(כמות int); -- ←\nSELECT 'é';",
		[]splitWant{{"CREATE TABLE טבלה(כמות int);", 1, 1, true}, {"SELECT 'é';", 2, 2, true}}},
	{"minus and slash are operators", "SELECT 1-1, 4/2;",
		[]splitWant{{"SELECT 1-1, 4/2;", 1, 1, true}}},
}

func TestSplit(t *testing.T) {
	tls := libc.NewTLS()
	defer tls.Close()
	for _, c := range splitCases {
		t.Run(c.name, func(t *testing.T) {
			got := Split(c.in)
			if len(got) != len(c.want) {
				t.Fatalf("got %d statements, want %d: %#v", len(got), len(c.want), got)
			}
			for i, w := range c.want {
				g := got[i]
				if g.Text != w.text || g.Line != w.line || g.EndLine != w.end || g.Terminated != w.terminated {
					t.Errorf("statement %d:\ngot  %q line %d-%d terminated=%v\nwant %q line %d-%d terminated=%v",
						i+1, g.Text, g.Line, g.EndLine, g.Terminated, w.text, w.line, w.end, w.terminated)
				}
			}
			checkSplitInvariants(t, tls, c.in, got)
		})
	}
}

// checkSplitInvariants holds for every input:
//   - statements are in order, do not overlap, and Text == input[Start:End];
//   - Line and EndLine count the newlines before Start and End-1;
//   - what lies between statements splits into nothing (only whitespace,
//     comments and semicolons), so the input is exactly the statements
//     plus that filler;
//   - every statement but the last is terminated by ';';
//   - SQLite agrees: sqlite3_complete says the input is complete exactly at
//     the end of each terminated statement and at no ';' inside one.
func checkSplitInvariants(t testing.TB, tls *libc.TLS, in string, stmts []Statement) {
	t.Helper()
	prev := 0
	for i, st := range stmts {
		if st.Start < prev || st.End <= st.Start || st.End > len(in) {
			t.Fatalf("statement %d has bad bounds [%d,%d) after %d (input %d bytes)", i, st.Start, st.End, prev, len(in))
		}
		if in[st.Start:st.End] != st.Text {
			t.Fatalf("statement %d: Text is not input[Start:End]", i)
		}
		if gap := Split(in[prev:st.Start]); len(gap) != 0 {
			t.Fatalf("gap before statement %d holds a statement: %q", i, in[prev:st.Start])
		}
		if want := 1 + strings.Count(in[:st.Start], "\n"); st.Line != want {
			t.Fatalf("statement %d: Line %d, want %d", i, st.Line, want)
		}
		if want := 1 + strings.Count(in[:st.End-1], "\n"); st.EndLine != want {
			t.Fatalf("statement %d: EndLine %d, want %d", i, st.EndLine, want)
		}
		if st.Terminated && !strings.HasSuffix(st.Text, ";") {
			t.Fatalf("statement %d: terminated but does not end in ';'", i)
		}
		if !st.Terminated && i != len(stmts)-1 {
			t.Fatalf("statement %d is unterminated but not last", i)
		}
		prev = st.End
	}
	if gap := Split(in[prev:]); len(gap) != 0 {
		t.Fatalf("tail holds a statement: %q", in[prev:])
	}
	if tls == nil || strings.IndexByte(in, 0) >= 0 || len(in) > 2048 {
		return // C strings end at NUL; keep the quadratic oracle cheap
	}
	for i, st := range stmts {
		if st.Terminated && !sqliteComplete(t, tls, in[:st.End]) {
			t.Fatalf("statement %d ends at %d but sqlite3_complete says the input is not complete there", i, st.End)
		}
		for q := st.Start; q < st.End-1; q++ {
			if in[q] == ';' && sqliteComplete(t, tls, in[:q+1]) {
				t.Fatalf("statement %d: sqlite3_complete says the input is complete at byte %d, inside the statement", i, q+1)
			}
		}
	}
}

// FuzzSplit checks the invariants above on arbitrary input; the seed corpus
// in testdata/fuzz/FuzzSplit holds tricky hand-written inputs, and the unit
// cases and real migrations are added here.
func FuzzSplit(f *testing.F) {
	for _, c := range splitCases {
		f.Add(c.in)
	}
	files, _ := filepath.Glob("../../migrations/testdata/d1/*/migrations/*.sql")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(string(data))
		}
	}
	tls := libc.NewTLS()
	defer tls.Close()
	f.Fuzz(func(t *testing.T, in string) {
		checkSplitInvariants(t, tls, in, Split(in))
	})
}

// BenchmarkSplit splits every real migration of the corpus.
func BenchmarkSplit(b *testing.B) {
	files, _ := filepath.Glob("../../migrations/testdata/d1/*/migrations/*.sql")
	var all []string
	size := 0
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			all = append(all, string(data))
			size += len(data)
		}
	}
	b.SetBytes(int64(size))
	for b.Loop() {
		for _, s := range all {
			Split(s)
		}
	}
}
