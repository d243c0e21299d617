package evidence

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// publishThree publishes three documents into st and returns their names.
func publishThree(t *testing.T, st Store) []string {
	t.Helper()
	var names []string
	for i, n := range []string{"a_2026-11-01T00-00-00Z_2026-11-02T00-00-00Z.json", "b_2026-11-02T00-00-00Z_2026-11-03T00-00-00Z.json", "c_2026-11-03T00-00-00Z_2026-11-04T00-00-00Z.json"} {
		p, err := Publish(context.Background(), st, n, []byte("{\"n\": "+string(rune('1'+i))+"}\n"))
		if err != nil {
			t.Fatal(err)
		}
		if p.Already || p.Seq != i+1 || len(p.Wrote) != 3 {
			t.Fatalf("publish %s: %+v", n, p)
		}
		names = append(names, n)
	}
	return names
}

func mustVerify(t *testing.T, st Store) *VerifyResult {
	t.Helper()
	res, err := Verify(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// wantProblem checks that verify reports exactly one problem, about file,
// whose message contains want.
func wantProblem(t *testing.T, res *VerifyResult, file, want string) {
	t.Helper()
	if len(res.Problems) != 1 || res.Problems[0].File != file || !strings.Contains(res.Problems[0].Message, want) {
		t.Fatalf("problems = %v, want one about %s containing %q", res.Problems, file, want)
	}
}

// wantProblems checks that verify reports exactly these problems (file,
// then a part of the message), in order.
func wantProblems(t *testing.T, res *VerifyResult, want ...string) {
	t.Helper()
	ok := len(res.Problems)*2 == len(want)
	for i := 0; ok && i < len(res.Problems); i++ {
		ok = res.Problems[i].File == want[2*i] && strings.Contains(res.Problems[i].Message, want[2*i+1])
	}
	if !ok {
		t.Fatalf("problems = %q, want %q", res.Problems, want)
	}
}

func TestPublishAndVerifyFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "evidence")
	st := DirStore{Dir: dir}
	names := publishThree(t, st)
	res := mustVerify(t, st)
	if len(res.Problems) != 0 || len(res.Verified) != 3 || res.Entries != 3 || res.HeadSeq != 3 || len(res.HeadSHA256) != 64 {
		t.Fatalf("verify: %+v", res)
	}
	// sha256sum itself accepts each digest file.
	cmd := exec.Command("sha256sum", "--check", "--strict", names[0]+DigestSuffix)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("sha256sum --check: %v\n%s", err, out)
	}
	for _, n := range []string{names[0], indexName(1)} {
		if st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(n))); err != nil || st.Mode().Perm()&0o222 != 0 {
			t.Errorf("%s is writable: %v", n, err)
		}
	}

	// The same bytes again: a no-op that says so.
	p, err := Publish(context.Background(), st, names[1], []byte("{\"n\": 2}\n"))
	if err != nil || !p.Already || p.Seq != 2 || len(p.Wrote) != 0 {
		t.Fatalf("re-publish: %+v, %v", p, err)
	}
	// Other bytes under the name: refused, nothing written.
	before, _ := st.List(context.Background())
	if _, err := Publish(context.Background(), st, names[1], []byte("{\"n\": 22}\n")); !errors.Is(err, ErrDiffers) {
		t.Fatalf("publish of other bytes: %v, want ErrDiffers", err)
	}
	after, _ := st.List(context.Background())
	if strings.Join(before, ",") != strings.Join(after, ",") {
		t.Errorf("a refused publish wrote: %v -> %v", before, after)
	}
	for _, bad := range []string{"", ".", "..", "../x.json", "/abs.json", "index/00000009.json", "a\\b.json"} {
		if _, err := Publish(context.Background(), st, bad, []byte("{}\n")); err == nil {
			t.Errorf("Publish(%q) accepted", bad)
		}
	}
}

// Each way of tampering with a folder is reported, naming the file.
func TestVerifyTampering(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, dir string, names []string)
		file   func(names []string) string
		want   string
	}{
		{"edited", func(t *testing.T, dir string, names []string) {
			rewrite(t, filepath.Join(dir, names[1]), "{\"n\": 9}\n")
		}, func(n []string) string { return n[1] }, "edited after it was published"},
		{"replaced with its digest", func(t *testing.T, dir string, names []string) {
			rewrite(t, filepath.Join(dir, names[1]), "{\"n\": 9}\n")
			rewrite(t, filepath.Join(dir, names[1]+DigestSuffix), DigestLine(sha256Hex([]byte("{\"n\": 9}\n")), names[1]))
		}, func(n []string) string { return n[1] }, "replaced: the document and its digest were both rewritten"},
		{"deleted", func(t *testing.T, dir string, names []string) {
			remove(t, filepath.Join(dir, names[0]))
		}, func(n []string) string { return n[0] }, "deleted: index entry 1 records sha256"},
		{"deleted with its digest", func(t *testing.T, dir string, names []string) {
			remove(t, filepath.Join(dir, names[2]))
			remove(t, filepath.Join(dir, names[2]+DigestSuffix))
		}, func(n []string) string { return n[2] }, "deleted together with its digest: index entry 3"},
		{"digest edited", func(t *testing.T, dir string, names []string) {
			rewrite(t, filepath.Join(dir, names[0]+DigestSuffix), DigestLine(strings.Repeat("0", 64), names[0]))
		}, func(n []string) string { return n[0] + DigestSuffix }, "edited: it does not state the sha256"},
		{"added without an entry", func(t *testing.T, dir string, names []string) {
			rewrite(t, filepath.Join(dir, "d_2026-11-04T00-00-00Z_2026-11-05T00-00-00Z.json"), "{}\n")
		}, func([]string) string { return "d_2026-11-04T00-00-00Z_2026-11-05T00-00-00Z.json" }, "added without an index entry"},
		{"added in a subfolder", func(t *testing.T, dir string, names []string) {
			rewrite(t, filepath.Join(dir, "2026", "x.json.sha256"), "x\n")
		}, func([]string) string { return "2026/x.json.sha256" }, "added without an index entry"},
		{"index entry edited", func(t *testing.T, dir string, names []string) {
			p := filepath.Join(dir, "index", "00000003.json")
			data, _ := os.ReadFile(p)
			rewrite(t, p, strings.Replace(string(data), `"size":9`, `"size":8`, 1))
		}, func([]string) string { return "index/00000003.json" }, "edited: it records 8 bytes"},
		{"index entry replaced consistently", func(t *testing.T, dir string, names []string) {
			// A forger rewrites entry 2 for new bytes of document b; entry
			// 3 still chains to the old entry 2.
			data := []byte("{\"n\": 9}\n")
			rewrite(t, filepath.Join(dir, names[1]), string(data))
			rewrite(t, filepath.Join(dir, names[1]+DigestSuffix), DigestLine(sha256Hex(data), names[1]))
			old, _ := os.ReadFile(filepath.Join(dir, "index", "00000001.json"))
			e, _ := encodeEntry(IndexEntry{Seq: 2, Name: names[1], Size: len(data), SHA256: sha256Hex(data), Prev: sha256Hex(old)})
			rewrite(t, filepath.Join(dir, "index", "00000002.json"), string(e))
		}, func([]string) string { return "index/00000003.json" }, "does not chain to entry 2"},
		{"stray file in the index", func(t *testing.T, dir string, names []string) {
			rewrite(t, filepath.Join(dir, "index", "notes.txt"), "x")
		}, func([]string) string { return "index/notes.txt" }, "not an index entry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			st := DirStore{Dir: dir}
			names := publishThree(t, st)
			tc.tamper(t, dir, names)
			wantProblem(t, mustVerify(t, st), tc.file(names), tc.want)
		})
	}
}

// A deleted index entry is reported, and so are the document and digest it
// accounted for.
func TestVerifyIndexEntryDeleted(t *testing.T) {
	dir := t.TempDir()
	st := DirStore{Dir: dir}
	names := publishThree(t, st)
	remove(t, filepath.Join(dir, "index", "00000002.json"))
	wantProblems(t, mustVerify(t, st),
		"index/00000002.json", "index entry 2 is missing",
		names[1], "added without an index entry",
		names[1]+DigestSuffix, "added without an index entry")
}

// A folder written before the index existed: every document is reported.
func TestVerifyFolderWithoutIndex(t *testing.T) {
	dir := t.TempDir()
	rewrite(t, filepath.Join(dir, "a.json"), "{}\n")
	rewrite(t, filepath.Join(dir, "a.json.sha256"), DigestLine(sha256Hex([]byte("{}\n")), "a.json"))
	res := mustVerify(t, DirStore{Dir: dir})
	if len(res.Problems) != 2 || res.Entries != 0 || len(res.Verified) != 0 {
		t.Fatalf("%+v", res)
	}
}

// An interrupted run (document written, no entry) is completed by the
// next one, which writes only what is missing.
func TestPublishCompletesInterruptedRun(t *testing.T) {
	dir := t.TempDir()
	st := DirStore{Dir: dir}
	data := []byte("{\"x\": 1}\n")
	if err := st.Create(context.Background(), "x.json", data); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, mustVerify(t, st), "x.json", "added without an index entry")
	p, err := Publish(context.Background(), st, "x.json", data)
	if err != nil || p.Already || p.Seq != 1 || strings.Join(p.Wrote, ",") != "x.json.sha256,index/00000001.json" {
		t.Fatalf("%+v %v", p, err)
	}
	if res := mustVerify(t, st); len(res.Problems) != 0 || len(res.Verified) != 1 {
		t.Fatalf("%+v", res)
	}
	// A leftover document with other bytes is never adopted.
	if err := st.Create(context.Background(), "y.json", []byte("{}\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := Publish(context.Background(), st, "y.json", data); !errors.Is(err, ErrDiffers) {
		t.Fatalf("%v, want ErrDiffers", err)
	}
}

// Concurrent publishers of different documents all land, each with its
// own entry, and the chain stays intact.
func TestPublishRace(t *testing.T) {
	dir := t.TempDir()
	st := DirStore{Dir: dir}
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = Publish(context.Background(), st, "doc"+string(rune('a'+i))+".json", []byte(strings.Repeat("x", i+1)))
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	res := mustVerify(t, st)
	if len(res.Problems) != 0 || len(res.Verified) != 6 || res.HeadSeq != 6 {
		t.Fatalf("%+v", res)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func rewrite(t *testing.T, p, content string) {
	t.Helper()
	_ = os.MkdirAll(filepath.Dir(p), 0o755)
	_ = os.Chmod(p, 0o644)
	_ = os.Remove(p)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, p string) {
	t.Helper()
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
}

// An index entry is read only in the exact form guard writes; whatever is
// accepted encodes back to the same bytes.
func FuzzDecodeEntry(f *testing.F) {
	good, _ := encodeEntry(IndexEntry{Seq: 1, Name: "a.json", Size: 3, SHA256: strings.Repeat("a", 64)})
	f.Add(good)
	f.Add([]byte(`{"name":"a.json","prev":"","seq":1,"sha256":"` + strings.Repeat("A", 64) + `","size":3}` + "\n"))
	f.Add([]byte(`{"name":"../a.json","prev":"","seq":1,"sha256":"` + strings.Repeat("a", 64) + `","size":3}` + "\n"))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := decodeEntry(data)
		if err != nil {
			return
		}
		again, err := encodeEntry(e)
		if err != nil || string(again) != string(data) || checkName(e.Name) != nil || e.Seq < 1 {
			t.Fatalf("accepted %q as %+v", data, e)
		}
	})
}

// ParseR2 accepts only a valid bucket and a plain prefix ending in "/".
func FuzzParseR2(f *testing.F) {
	for _, s := range []string{"r2://audit-evidence/guard", "r2://audit-evidence/", "r2://ab/x", "r2://a-b/../x", "r2://Audit/x", "r2://abc//x//y/", "s3://abc/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		bucket, prefix, err := ParseR2(s)
		if err != nil {
			return
		}
		if !bucketNameRe().MatchString(bucket) || (prefix != "" && (!strings.HasSuffix(prefix, "/") || checkName(strings.TrimSuffix(prefix, "/")) != nil)) {
			t.Fatalf("ParseR2(%q) = %q, %q", s, bucket, prefix)
		}
	})
}
