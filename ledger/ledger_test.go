package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func appendN(t testing.TB, l *Ledger, n int) []Record {
	t.Helper()
	var res []Record
	for i := range n {
		rec, err := l.Append(Record{Kind: KindDeploy, Status: StatusSucceeded, Worker: "api",
			Commit: fmt.Sprintf("%040d", i), VersionID: fmt.Sprintf("v%d", i+1), Verified: VerifiedGood})
		if err != nil {
			t.Fatal(err)
		}
		res = append(res, rec)
	}
	return res
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(string(data), "\n")
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustVerify(t *testing.T, l *Ledger) []Problem {
	t.Helper()
	probs, err := l.Verify()
	if err != nil {
		t.Fatal(err)
	}
	return probs
}

func TestAppendChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "guard", "ledger.jsonl")
	l := Open(path)
	if recs, err := l.Records(); err != nil || recs != nil {
		t.Fatalf("missing ledger: %v, %v", recs, err)
	}
	if probs := mustVerify(t, l); probs != nil {
		t.Fatalf("missing ledger: %v", probs)
	}
	written := appendN(t, l, 3)
	for i, r := range written {
		if r.Seq != i+1 {
			t.Errorf("record %d: seq %d", i, r.Seq)
		}
		if r.Time.IsZero() || r.Time.Location() != time.UTC {
			t.Errorf("record %d: time %v not set in UTC", i, r.Time)
		}
	}
	lines := readLines(t, path)
	if len(lines) != 4 || lines[3] != "" {
		t.Fatalf("want 3 newline-terminated lines, got %q", lines)
	}
	if written[0].Prev != "" {
		t.Errorf("first prev = %q", written[0].Prev)
	}
	for i := 1; i < 3; i++ {
		if want := hashLine([]byte(strings.TrimSuffix(lines[i-1], "\n"))); written[i].Prev != want {
			t.Errorf("record %d prev %s, want %s", i+1, written[i].Prev, want)
		}
	}
	got, err := l.Records()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, written) {
		t.Errorf("Records() = %+v\nwant %+v", got, written)
	}
	if probs := mustVerify(t, l); len(probs) != 0 {
		t.Errorf("clean ledger: %v", probs)
	}
}

func TestRecordEncoding(t *testing.T) {
	l := Open(filepath.Join(t.TempDir(), "ledger.jsonl"))
	at := time.Date(2025, 3, 4, 5, 6, 7, 8, time.FixedZone("x", 3600))
	rec, err := l.Append(Record{Time: at, Kind: KindRollback, Status: StatusFailed, Ref: 0, Worker: "api",
		D1Bookmarks: map[string]string{"z": "2", "a": "1"}, Reason: "<bad> & worse", Categories: []string{"emergency"}})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"seq":1,"time":"2025-03-04T04:06:07.000000008Z","kind":"rollback","status":"failed","worker":"api","env":"","account":"","commit":"","tree":"","categories":["emergency"],"version_id":"","deployment_id":"","wrangler_version":"","operator":"","reason":"<bad> & worse","d1_bookmarks":{"a":"1","z":"2"},"prev":""}` + "\n"
	if string(data) != want {
		t.Errorf("line:\n%s\nwant:\n%s", data, want)
	}
	if !rec.Time.Equal(at) {
		t.Errorf("time %v, want %v", rec.Time, at)
	}
	// Nil categories are written as [] so readers see one shape.
	l2 := Open(filepath.Join(t.TempDir(), "ledger.jsonl"))
	if _, err := l2.Append(Record{Kind: KindDeploy, Status: StatusPending}); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(l2.Path())
	if !bytes.Contains(data, []byte(`"categories":[]`)) {
		t.Errorf("nil categories: %s", data)
	}
}

func TestAppendRejects(t *testing.T) {
	l := Open(filepath.Join(t.TempDir(), "ledger.jsonl"))
	for _, rec := range []Record{
		{Kind: "deploi", Status: StatusPending},
		{Kind: KindDeploy, Status: "done"},
		{Kind: KindDeploy, Status: StatusSucceeded, Verified: "maybe"},
		{Kind: KindDeploy, Status: StatusSucceeded, Ref: 1}, // no record 1 yet
	} {
		if _, err := l.Append(rec); err == nil {
			t.Errorf("Append(%+v) succeeded", rec)
		}
	}
	if _, err := os.Stat(l.Path()); err == nil {
		if recs, _ := l.Records(); len(recs) != 0 {
			t.Errorf("rejected records were written: %+v", recs)
		}
	}
}

func TestVerifyEditedLine(t *testing.T) {
	l := Open(filepath.Join(t.TempDir(), "ledger.jsonl"))
	appendN(t, l, 3)
	lines := readLines(t, l.Path())
	lines[1] = strings.Replace(lines[1], `"verified":"good"`, `"verified":"bad"`, 1)
	if !strings.Contains(lines[1], `"bad"`) {
		t.Fatal("edit did not apply")
	}
	writeFile(t, l.Path(), strings.Join(lines, ""))
	probs := mustVerify(t, l)
	if len(probs) != 1 || probs[0].Line != 2 || probs[0].Kind != ProblemBrokenChain {
		t.Fatalf("edited line 2: %v", probs)
	}
	if !strings.Contains(probs[0].Message, "line 2 was edited") {
		t.Errorf("message does not name the line: %q", probs[0].Message)
	}
	// The edited record still reads; the damage is in the chain.
	if recs, _ := l.Records(); len(recs) != 3 || recs[1].Verified != VerifiedBad {
		t.Errorf("records after edit: %+v", recs)
	}
}

func TestVerifyEditedFirstLine(t *testing.T) {
	l := Open(filepath.Join(t.TempDir(), "ledger.jsonl"))
	appendN(t, l, 2)
	lines := readLines(t, l.Path())
	lines[0] = strings.Replace(lines[0], `"worker":"api"`, `"worker":"web"`, 1)
	writeFile(t, l.Path(), strings.Join(lines, ""))
	probs := mustVerify(t, l)
	if len(probs) != 1 || probs[0].Line != 1 || probs[0].Kind != ProblemBrokenChain {
		t.Fatalf("edited line 1: %v", probs)
	}
}

func TestVerifyTruncatedLastLine(t *testing.T) {
	l := Open(filepath.Join(t.TempDir(), "ledger.jsonl"))
	written := appendN(t, l, 3)
	data, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, l.Path())
	cut := len(data) - len(lines[2]) + len(lines[2])/2 // the middle of line 3
	writeFile(t, l.Path(), string(data[:cut]))

	probs := mustVerify(t, l)
	if len(probs) != 1 || probs[0].Line != 3 || probs[0].Kind != ProblemTruncated {
		t.Fatalf("truncated line 3: %v", probs)
	}
	recs, err := l.Records()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(recs, written[:2]) {
		t.Errorf("Records() after truncation = %+v", recs)
	}

	// The next append keeps the partial line as evidence, starts a new line
	// chained to it, and continues the sequence after the last whole record.
	next, err := l.Append(Record{Kind: KindDeploy, Status: StatusPending, Worker: "api"})
	if err != nil {
		t.Fatal(err)
	}
	if next.Seq != 3 {
		t.Errorf("seq after truncation = %d, want 3", next.Seq)
	}
	after, _ := os.ReadFile(l.Path())
	if !bytes.HasPrefix(after, data[:cut]) {
		t.Error("the partial line was not kept byte for byte")
	}
	if want := hashLine(data[len(data)-len(lines[2]) : cut]); next.Prev != want {
		t.Errorf("prev after partial line = %s, want %s", next.Prev, want)
	}
	probs = mustVerify(t, l)
	if len(probs) != 1 || probs[0].Line != 3 || probs[0].Kind != ProblemTruncated {
		t.Fatalf("after append: %v", probs)
	}
	if recs, _ := l.Records(); len(recs) != 3 || recs[2].Seq != 3 {
		t.Errorf("records after append: %+v", recs)
	}
}

func TestVerifyDeletedLine(t *testing.T) {
	l := Open(filepath.Join(t.TempDir(), "ledger.jsonl"))
	appendN(t, l, 4)
	lines := readLines(t, l.Path())
	writeFile(t, l.Path(), lines[0]+lines[2]+lines[3])
	probs := mustVerify(t, l)
	want := []Problem{
		{Line: 1, Kind: ProblemBrokenChain},
		{Line: 2, Kind: ProblemSeqGap},
	}
	if len(probs) != len(want) {
		t.Fatalf("deleted line 2: %v", probs)
	}
	for i := range want {
		if probs[i].Line != want[i].Line || probs[i].Kind != want[i].Kind {
			t.Errorf("problem %d = %v, want line %d %s", i, probs[i], want[i].Line, want[i].Kind)
		}
	}

	// Removing the first line is caught too.
	writeFile(t, l.Path(), lines[1]+lines[2]+lines[3])
	probs = mustVerify(t, l)
	if len(probs) != 2 || probs[0].Kind != ProblemBrokenChain || probs[0].Line != 1 || probs[1].Kind != ProblemSeqGap {
		t.Errorf("deleted line 1: %v", probs)
	}
}

func TestVerifyReorderedAndGarbage(t *testing.T) {
	l := Open(filepath.Join(t.TempDir(), "ledger.jsonl"))
	appendN(t, l, 3)
	lines := readLines(t, l.Path())
	writeFile(t, l.Path(), lines[0]+lines[2]+lines[1])
	if probs := mustVerify(t, l); len(probs) == 0 {
		t.Error("reordered lines not detected")
	}
	writeFile(t, l.Path(), lines[0]+"not json\n"+lines[1]+lines[2])
	probs := mustVerify(t, l)
	if len(probs) == 0 || probs[0].Line != 2 || probs[0].Kind != ProblemBadJSON {
		t.Errorf("garbage line: %v", probs)
	}
}

func TestLatest(t *testing.T) {
	l := Open(filepath.Join(t.TempDir(), "ledger.jsonl"))
	add := func(r Record) Record {
		t.Helper()
		r, err := l.Append(r)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	p1 := add(Record{Kind: KindDeploy, Status: StatusPending, VersionID: ""})
	p2 := add(Record{Kind: KindDeploy, Status: StatusPending})
	o1 := add(Record{Kind: KindDeploy, Status: StatusSucceeded, Ref: p1.Seq, VersionID: "v1", Verified: VerifiedUnverified})
	o1b := add(Record{Kind: KindDeploy, Status: StatusSucceeded, Ref: p1.Seq, VersionID: "v1", Verified: VerifiedGood})
	p3 := add(Record{Kind: KindRollback, Status: StatusPending})
	o3 := add(Record{Kind: KindRollback, Status: StatusFailed, Ref: p3.Seq, Error: "wrangler exited with status 1"})
	solo := add(Record{Kind: KindDeploy, Status: StatusSucceeded, VersionID: "v9"})
	_ = o1

	recs, err := l.Records()
	if err != nil {
		t.Fatal(err)
	}
	got := Latest(recs)
	want := map[int]Record{p1.Seq: o1b, p2.Seq: p2, p3.Seq: o3, solo.Seq: solo}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Latest:\n%+v\nwant\n%+v", got, want)
	}
}

func TestRecordsJSONRoundTrip(t *testing.T) {
	// Every field survives the trip to disk and back.
	l := Open(filepath.Join(t.TempDir(), "ledger.jsonl"))
	in := Record{Time: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC), Kind: KindRollback, Status: StatusSucceeded,
		Worker: "api", Env: "staging", Account: "acc", Commit: strings.Repeat("a", 40), Tree: strings.Repeat("b", 40),
		Categories: []string{"normal", "standard"}, VersionID: "ver", DeploymentID: "dep", WranglerVersion: "4.86.0",
		Operator: "ops@example.com", Untracked: []string{"x.txt"}, Verified: VerifiedBad, FromVersion: "old",
		FromCommit: strings.Repeat("c", 40), Reason: "incident", Error: "", D1Bookmarks: map[string]string{"DB": "bm"},
		RecordFile: "docs/changes/emergency/x.md"}
	out, err := l.Append(in)
	if err != nil {
		t.Fatal(err)
	}
	in.Seq = 1
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("Append changed the record: %+v", out)
	}
	recs, err := l.Records()
	if err != nil || len(recs) != 1 || !reflect.DeepEqual(recs[0], in) {
		t.Fatalf("round trip: %+v, %v", recs, err)
	}
	var m map[string]any
	data, _ := os.ReadFile(l.Path())
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"seq", "time", "kind", "worker", "env", "account", "commit", "tree", "categories",
		"version_id", "deployment_id", "wrangler_version", "operator", "untracked", "status", "verified", "prev"} {
		if _, ok := m[k]; !ok {
			t.Errorf("field %q missing from %s", k, data)
		}
	}
}

func TestConcurrentAppendsFromProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "guard", "ledger.jsonl")
	const procs, each = 3, 50
	var cmds []*os.Process
	var waits []func() error
	var gates []io.Closer
	for p := range procs {
		cmd := startHelper(t, "append", "LEDGER_PATH="+path, fmt.Sprintf("LEDGER_COUNT=%d", each), fmt.Sprintf("LEDGER_WORKER=w%d", p))
		gate, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd.Process)
		waits = append(waits, cmd.Wait)
		gates = append(gates, gate)
	}
	for _, g := range gates { // all start appending at once
		g.Close()
	}
	for i, wait := range waits {
		if err := wait(); err != nil {
			t.Fatalf("appender %d (pid %d): %v", i, cmds[i].Pid, err)
		}
	}
	l := Open(path)
	recs, err := l.Records()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != procs*each {
		t.Fatalf("%d records, want %d", len(recs), procs*each)
	}
	perWorker := map[string]int{}
	switches := 0
	for i, r := range recs {
		if r.Seq != i+1 {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
		if i > 0 && r.Worker != recs[i-1].Worker {
			switches++
		}
		perWorker[r.Worker]++
	}
	t.Logf("the appenders took turns %d times", switches)
	for p := range procs {
		if n := perWorker[fmt.Sprintf("w%d", p)]; n != each {
			t.Errorf("worker w%d: %d records, want %d", p, n, each)
		}
	}
	if probs := mustVerify(t, l); len(probs) != 0 {
		t.Errorf("chain after concurrent appends: %v", probs)
	}
}

func BenchmarkAppend(b *testing.B) {
	l := Open(filepath.Join(b.TempDir(), "ledger.jsonl"))
	appendN(b, l, 1000) // a ledger with some history: Append must not read it all
	rec := Record{Kind: KindDeploy, Status: StatusSucceeded, Worker: "api", Commit: strings.Repeat("a", 40),
		Tree: strings.Repeat("b", 40), Categories: []string{"normal"}, VersionID: "0b3c6e0a-6a4e-4a8c-9a53-1b8f6a1d2e3f",
		DeploymentID: "d2b7c0de-1111-2222-3333-444455556666", WranglerVersion: "4.86.0", Operator: "dev@example.com",
		Verified: VerifiedGood}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Append(rec); err != nil {
			b.Fatal(err)
		}
	}
}
