package evidence

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guardcm/guard/internal/report"
)

func testDoc() *Document {
	d := newDocument(CollectorDeployments, NewPeriod(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), 7*24*time.Hour),
		time.Date(2026, 11, 28, 0, 0, 0, 5, time.FixedZone("CET", 3600)), "guard test")
	d.Items = []Deployment{}
	d.Findings = append(d.Findings,
		report.Finding{Rule: "b-rule", Severity: report.SeverityError, Message: "<b> & \"quoted\""},
		report.Finding{Rule: "a-rule", Severity: report.SeverityWarning, Message: "first"})
	return d
}

func TestEncode(t *testing.T) {
	data, err := Encode(testDoc())
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for _, want := range []string{
		`"generated_at": "2026-11-27T23:00:00Z"`, // UTC, whole seconds
		`"from": "2026-11-21T00:00:00Z"`,
		`"<b> & \"quoted\""`, // no HTML escaping
		`"items": []`,
		`"controls": [` + "\n" + `    "A.5.8",`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("document lacks %s:\n%s", want, s)
		}
	}
	if strings.Index(s, "a-rule") < strings.Index(s, "b-rule") {
		t.Error("findings were reordered")
	}
	if !strings.HasSuffix(s, "}\n") {
		t.Error("no final newline")
	}
	assertSortedKeys(t, data)
}

func TestFileName(t *testing.T) {
	d := testDoc()
	if got, want := FileName(d, "api/v2"), "deployments_api-v2_2026-11-21T00-00-00Z_2026-11-28T00-00-00Z.json"; got != want {
		t.Errorf("FileName = %q, want %q", got, want)
	}
	d.Period.From = d.Period.To
	d.Collector = CollectorBranchProtection
	if got, want := FileName(d, ""), "branch-protection_2026-11-28T00-00-00Z.json"; got != want {
		t.Errorf("FileName = %q, want %q", got, want)
	}
}

func TestPeriodContains(t *testing.T) {
	p := NewPeriod(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), time.Hour)
	if p.Contains(p.From) || !p.Contains(p.To) || !p.Contains(p.From.Add(time.Nanosecond)) || p.Contains(p.To.Add(time.Nanosecond)) {
		t.Error("period is not (from, to]")
	}
}

func TestWriteNeverOverwrites(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "evidence", "2026")
	data := []byte("{\"a\": 1}\n")
	w, err := Write(dir, "doc.json", data)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if w.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("digest %s", w.SHA256)
	}
	digest, err := os.ReadFile(w.DigestPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(digest) != w.SHA256+"  doc.json\n" {
		t.Errorf("digest file %q", digest)
	}
	// sha256sum itself accepts the digest file.
	cmd := exec.Command("sha256sum", "--check", "--strict", "doc.json.sha256")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("sha256sum --check: %v\n%s", err, out)
	}
	if st, err := os.Stat(w.Path); err != nil || st.Mode().Perm()&0o222 != 0 {
		t.Errorf("document is writable: %v %v", st.Mode(), err)
	}

	_, err = Write(dir, "doc.json", []byte("{\"a\": 2}\n"))
	if !errors.Is(err, ErrExists) {
		t.Fatalf("second write: %v, want ErrExists", err)
	}
	if got, _ := os.ReadFile(w.Path); string(got) != string(data) {
		t.Error("the document was replaced")
	}
	// A digest left alone also blocks the name.
	if err := os.WriteFile(filepath.Join(dir, "other.json.sha256"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(dir, "other.json", data); !errors.Is(err, ErrExists) {
		t.Errorf("write over a digest: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "other.json")); !errors.Is(err, os.ErrNotExist) {
		t.Error("document written although its digest name was taken")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".evidence-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b.json"} {
		if _, err := Write(dir, bad, data); err == nil {
			t.Errorf("Write(%q) accepted", bad)
		}
	}
}

// Concurrent writers of the same name: exactly one wins, the others get
// ErrExists, and the winner's bytes match its digest.
func TestWriteRace(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = Write(dir, "doc.json", []byte(strings.Repeat("x", i+1)))
		}(i)
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, ErrExists):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d writers won, want 1", wins)
	}
	res, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 0 || len(res.Verified) != 1 {
		t.Errorf("verify after the race: %+v", res)
	}
}

func TestVerify(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.json", "b.json", "c.json"} {
		if _, err := Write(dir, name, []byte("{\""+name+"\": true}\n")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Write(filepath.Join(dir, "2026"), "d.json", []byte("{}\n")); err != nil {
		t.Fatal(err)
	}
	res, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 0 || strings.Join(res.Verified, ",") != "2026/d.json,a.json,b.json,c.json" {
		t.Fatalf("clean folder: %+v", res)
	}

	// Tamper with b, delete c, add an undigested e, break a's digest file.
	b := filepath.Join(dir, "b.json")
	if err := os.Chmod(b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte("{\"b.json\": false}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "c.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "e.json"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ad := filepath.Join(dir, "a.json.sha256")
	if err := os.Chmod(ad, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ad, []byte("not a digest\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err = Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range res.Problems {
		got = append(got, p.String())
	}
	want := []string{
		"a.json: no digest file covers it",
		"a.json.sha256: line 1: want",
		"b.json: changed after it was written",
		"c.json: missing: c.json.sha256 line 1 names it",
		"e.json: no digest file covers it",
	}
	if len(got) != len(want) {
		t.Fatalf("problems:\n%s", strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d: %q, want prefix %q", i, got[i], want[i])
		}
	}
	if strings.Join(res.Verified, ",") != "2026/d.json" {
		t.Errorf("verified %v", res.Verified)
	}

	if _, err := Verify(filepath.Join(dir, "nope")); err == nil {
		t.Error("a missing folder verified")
	}
}

func TestParseDigests(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	good := sum + "  a.json\n" + strings.ToUpper(sum) + " *sub/b.json\r\n\n"
	es, err := ParseDigests([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].Name != "a.json" || es[1].Name != "sub/b.json" || es[1].SHA256 != sum || es[1].Line != 2 {
		t.Errorf("%+v", es)
	}
	for _, bad := range []string{
		sum + " a.json",       // one space
		sum[:63] + "  a.json", // short digest
		strings.Repeat("zz", 32) + "  a.json",
		sum + "  ../a.json",
		sum + "  /etc/passwd",
		sum + "  a/../../b",
		"\\" + sum + "  a\\nb",
		sum + "  ",
	} {
		if _, err := ParseDigests([]byte(bad)); err == nil {
			t.Errorf("ParseDigests(%q) accepted", bad)
		}
	}
}

func FuzzParseDigests(f *testing.F) {
	sum := strings.Repeat("0f", 32)
	for _, s := range []string{sum + "  a.json\n", sum + " *b.json\n" + sum + "  c/d.json", "", "\\x", sum + "  ../x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := ParseDigests(data)
		if err != nil {
			return
		}
		for _, e := range es {
			if len(e.SHA256) != 64 || e.Name == "" || strings.HasPrefix(e.Name, "/") || e.Name == ".." || strings.HasPrefix(e.Name, "../") {
				t.Fatalf("accepted entry %+v", e)
			}
			// What is accepted round-trips through DigestLine.
			again, err := ParseDigests([]byte(DigestLine(e.SHA256, e.Name)))
			if err != nil || len(again) != 1 || again[0].Name != e.Name || again[0].SHA256 != e.SHA256 {
				t.Fatalf("round trip of %+v: %+v %v", e, again, err)
			}
		}
	})
}
