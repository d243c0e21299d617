package ledger

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzVerify feeds arbitrary ledger files to the parser and checks that
// Verify and Records agree on what a line is, and that Append always extends
// whatever is there with a correctly chained line without changing the
// verdict on the lines before it.
func FuzzVerify(f *testing.F) {
	dir := f.TempDir()
	l := Open(filepath.Join(dir, "seed.jsonl"))
	appendN(f, l, 3)
	valid, err := os.ReadFile(l.Path())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-20])
	f.Add([]byte(""))
	f.Add([]byte("\n"))
	f.Add([]byte("{\"seq\":1,\"prev\":\"\"}\n{\"seq\":3}\n"))
	f.Add([]byte("{\"seq\":9223372036854775807,\"kind\":\"deploy\",\"prev\":\"\"}\n"))
	f.Add([]byte("{\"seq\":1,\"time\":\"2025-01-01T00:00:00Z\"\r\n\r\nnull\n[1]\n{\"seq\":0}\n{\"seq\":2,\"prev\":\"x\"}"))

	f.Fuzz(func(t *testing.T, content []byte) {
		path := filepath.Join(t.TempDir(), "ledger.jsonl")
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
		l := Open(path)
		probs, err := l.Verify()
		if err != nil {
			t.Fatal(err)
		}
		recs, err := l.Records()
		if err != nil {
			t.Fatal(err)
		}
		lines := splitLines(content)
		unreadable := 0
		lastSeq := 0
		for _, p := range probs {
			if p.Line < 1 || p.Line > len(lines) {
				t.Fatalf("problem outside the file (%d lines): %v", len(lines), p)
			}
			if p.Kind == ProblemTruncated || p.Kind == ProblemBadJSON {
				unreadable++
			}
		}
		if len(recs)+unreadable != len(lines) {
			t.Fatalf("%d records + %d unreadable lines != %d lines", len(recs), unreadable, len(lines))
		}
		if len(recs) > 0 {
			lastSeq = recs[len(recs)-1].Seq
		}

		rec, err := l.Append(Record{Kind: KindDeploy, Status: StatusPending, Worker: "fuzz"})
		if err != nil {
			if lastSeq == math.MaxInt {
				return
			}
			t.Fatalf("append: %v", err)
		}
		if rec.Seq != lastSeq+1 {
			t.Fatalf("appended seq %d after last seq %d", rec.Seq, lastSeq)
		}
		after, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		newLines := splitLines(after)
		if len(newLines) != len(lines)+1 {
			t.Fatalf("append made %d lines of %d", len(newLines), len(lines))
		}
		for i := range lines {
			if string(newLines[i]) != string(lines[i]) {
				t.Fatalf("append changed line %d", i+1)
			}
		}
		probs2, err := l.Verify()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(verdict(probs2), verdict(probs)) {
			t.Fatalf("append changed the verdict:\nbefore %v\nafter  %v", probs, probs2)
		}
	})
}

// verdict is what a problem list says, without the wording (which notes
// whether a truncated line is the last one).
func verdict(probs []Problem) []Problem {
	res := make([]Problem, len(probs))
	for i, p := range probs {
		res[i] = Problem{Line: p.Line, Kind: p.Kind}
	}
	return res
}
