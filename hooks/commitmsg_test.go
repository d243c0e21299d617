package hooks

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/fail"
)

const scissors = "# ------------------------ >8 ------------------------\n"

// commitMsgRepo is a repository with one commit and src/app.ts staged (a
// normal change).
func commitMsgRepo(t *testing.T) *testRepo {
	t.Helper()
	tr := newTestRepo(t)
	tr.change("README.md", "r\n")
	tr.commit("docs: base\n\nChange-Category: standard\n")
	tr.change("src/app.ts", "export {}\n")
	return tr
}

// runCommitMsg writes raw to a message file, runs the hook and returns the
// file's new content and what the hook printed.
func runCommitMsg(t *testing.T, tr *testRepo, raw []byte) ([]byte, string, error) {
	t.Helper()
	msgFile := filepath.Join(tr.dir, ".git", "COMMIT_EDITMSG")
	if err := os.WriteFile(msgFile, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	repo := tr.open()
	var stderr bytes.Buffer
	err := CommitMsg(context.Background(), repo, config.Defaults(), msgFile, StartCommitMsg(context.Background(), repo.Root, msgFile), &stderr)
	out, rerr := os.ReadFile(msgFile)
	if rerr != nil {
		t.Fatal(rerr)
	}
	return out, stderr.String(), err
}

var insertedTrailer = regexp.MustCompile(`^(\r?\n){0,2}Change-Category: (standard|normal|major)(\r?\n)$`)

// assertOnlyTrailerInserted checks that out is raw with one insertion, and
// that the insertion is the trailer (with the line endings it needs): every
// original byte is kept, in order.
func assertOnlyTrailerInserted(t *testing.T, raw, out []byte, category string) {
	t.Helper()
	if len(out) <= len(raw) {
		t.Fatalf("nothing inserted: %d bytes in, %d out", len(raw), len(out))
	}
	p := 0 // longest common prefix
	for p < len(raw) && raw[p] == out[p] {
		p++
	}
	s := 0 // longest common suffix
	for s < len(raw) && raw[len(raw)-1-s] == out[len(out)-1-s] {
		s++
	}
	for k := max(0, len(raw)-s); k <= p; k++ {
		ins := out[k : len(out)-(len(raw)-k)]
		if m := insertedTrailer.FindSubmatch(ins); m != nil && string(m[2]) == category {
			return
		}
	}
	t.Fatalf("output is not the message with one %q trailer inserted:\n in  %q\n out %q", category, abbrev(raw), abbrev(out))
}

func abbrev(b []byte) []byte {
	if len(b) > 300 {
		return append(append(append([]byte{}, b[:150]...), "…"...), b[len(b)-150:]...)
	}
	return b
}

func TestCommitMsgAppendsInferredTrailer(t *testing.T) {
	big := "feat: big message\n\n" + strings.Repeat("This is a long body line that keeps going on and on.\n", 1<<20/53+1)
	for _, tc := range []struct {
		name, raw, want string // want "" means: check only the insertion
	}{
		{"plain", "feat: add app\n", "feat: add app\n\nChange-Category: normal\n"},
		{"no final newline", "feat: add app", "feat: add app\n\nChange-Category: normal\n"},
		{"with body", "feat: add app\n\nWhy it matters.\n", "feat: add app\n\nWhy it matters.\n\nChange-Category: normal\n"},
		{"existing trailers", "feat: add app\n\nSigned-off-by: A <a@example.com>\n", "feat: add app\n\nSigned-off-by: A <a@example.com>\nChange-Category: normal\n"},
		{"crlf", "feat: crlf\r\n\r\nBody line.\r\n", "feat: crlf\r\n\r\nBody line.\r\n\r\nChange-Category: normal\r\n"},
		{"not UTF-8", "fix: caf\xe9 \xff\xfe\n\nbody \x80\x81\n", "fix: caf\xe9 \xff\xfe\n\nbody \x80\x81\n\nChange-Category: normal\n"},
		{"control bytes", "feat: \x1b[31mred\x1b[0m\x01\n", "feat: \x1b[31mred\x1b[0m\x01\n\nChange-Category: normal\n"},
		{"comments kept", "feat: add app\n\n# Please enter the commit message.\n# Lines starting with '#' are ignored.\n", ""},
		{"scissors", "feat: verbose\n\n" + scissors + "# Do not modify or remove the line above.\ndiff --git a/src/app.ts b/src/app.ts\n+Change-Category: standard\n\x00\xff binary-ish\n", ""},
		{"1 MiB", big, big + "\nChange-Category: normal\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := commitMsgRepo(t)
			out, stderr, err := runCommitMsg(t, tr, []byte(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			assertOnlyTrailerInserted(t, []byte(tc.raw), out, "normal")
			if tc.want != "" && string(out) != tc.want {
				t.Errorf("message = %q, want %q", abbrev(out), abbrev([]byte(tc.want)))
			}
			if want := "guard: Change-Category: normal inferred (src/app.ts: adds a file that is not documentation or a lockfile)\n"; stderr != want {
				t.Errorf("stderr = %q, want %q", stderr, want)
			}
			if tc.name == "scissors" {
				cut := bytes.Index(out, []byte(scissors))
				if tr := bytes.Index(out, []byte("Change-Category: normal")); tr < 0 || tr > cut {
					t.Errorf("trailer not before the scissors line: %q", out)
				}
			}
		})
	}
}

func TestCommitMsgLeavesMessageAlone(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
	}{
		{"empty", ""},
		{"only blank lines", "\n\n  \n"},
		{"only comments", "# Please enter the commit message.\n#\n"},
		{"only a scissors section", scissors + "diff --git a/x b/x\n"},
		{"declared", "feat: add app\n\nChange-Category: normal\n"},
		{"declared higher", "feat: add app\n\nChange-Category: major\n"},
		{"declared emergency", "fix: now\r\n\r\nchange-category: Emergency\r\n"},
		{"fixup", "fixup! feat: add app\n"},
		{"squash", "squash! feat: add app\n\nmore\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := commitMsgRepo(t)
			out, stderr, err := runCommitMsg(t, tr, []byte(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.raw {
				t.Errorf("message changed: %q -> %q", tc.raw, out)
			}
			if stderr != "" {
				t.Errorf("stderr = %q", stderr)
			}
		})
	}
}

func TestCommitMsgRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		says      []string
	}{
		{"understated", "feat: add app\n\nChange-Category: standard\n", []string{"Change-Category: standard understates this change, which is normal", "src/app.ts"}},
		{"invalid", "feat: add app\n\nChange-Category: big\n", []string{`"big"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := commitMsgRepo(t)
			out, _, err := runCommitMsg(t, tr, []byte(tc.raw))
			if fail.KindOf(err) != fail.KindRefused {
				t.Fatalf("err = %v (kind %d), want a refusal", err, fail.KindOf(err))
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if len(fail.HintsOf(err)) == 0 {
				t.Error("a refusal without a hint")
			}
			if string(out) != tc.raw {
				t.Errorf("a refused message was changed: %q", out)
			}
		})
	}
}

func TestCommitMsgMajorAndStandard(t *testing.T) {
	tr := newTestRepo(t)
	tr.change("README.md", "r\n")
	tr.commit("docs: base\n\nChange-Category: standard\n")

	tr.change("docs/guide.md", "g\n")
	out, _, err := runCommitMsg(t, tr, []byte("docs: guide\n"))
	if err != nil || string(out) != "docs: guide\n\nChange-Category: standard\n" {
		t.Fatalf("docs-only change: %q, %v", out, err)
	}
	tr.change("wrangler.jsonc", `{"name": "payments", "main": "src/index.ts"}`)
	out, stderr, err := runCommitMsg(t, tr, []byte("feat: payments worker\n"))
	if err != nil || string(out) != "feat: payments worker\n\nChange-Category: major\n" {
		t.Fatalf("new worker: %q, %v", out, err)
	}
	if !strings.Contains(stderr, `adds wrangler configuration for Worker "payments"`) {
		t.Errorf("stderr = %q", stderr)
	}
}

func TestCommitMsgCommentCharAndMerge(t *testing.T) {
	tr := commitMsgRepo(t)
	tr.git("config", "core.commentChar", ";")
	raw := "feat: add app\n\n; comment in git's block\n# not a comment now\n"
	out, _, err := runCommitMsg(t, tr, []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if want := "feat: add app\n\n; comment in git's block\n# not a comment now\n\nChange-Category: normal\n"; string(out) != want {
		t.Errorf("with core.commentChar=';': %q, want %q", out, want)
	}

	// Concluding a merge: exempt, the prepared message is left alone.
	if err := os.WriteFile(filepath.Join(tr.dir, ".git", "MERGE_HEAD"), []byte(tr.git("rev-parse", "HEAD")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	raw = "Merge branch 'x'\n"
	out, _, err = runCommitMsg(t, tr, []byte(raw))
	if err != nil || string(out) != raw {
		t.Errorf("merge: %q, %v", out, err)
	}
}

// git runs the hook from the top of the work tree with a relative path;
// without prepared inputs the hook asks git itself.
func TestCommitMsgRelativePathWithoutInputs(t *testing.T) {
	tr := commitMsgRepo(t)
	if err := os.WriteFile(filepath.Join(tr.dir, ".git", "COMMIT_EDITMSG"), []byte("feat: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	repo := tr.open()
	t.Chdir(tr.dir)
	var stderr bytes.Buffer
	if err := CommitMsg(context.Background(), repo, config.Defaults(), ".git/COMMIT_EDITMSG", nil, &stderr); err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(filepath.Join(tr.dir, ".git", "COMMIT_EDITMSG"))
	if string(out) != "feat: x\n\nChange-Category: normal\n" {
		t.Errorf("message = %q", out)
	}
	err := CommitMsg(context.Background(), repo, config.Defaults(), "missing-file", nil, &stderr)
	if fail.KindOf(err) != fail.KindUsage || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing message file: %v", err)
	}
}

// The message file is rewritten in place: git's file keeps its mode (and
// identity).
func TestCommitMsgKeepsFileMode(t *testing.T) {
	tr := commitMsgRepo(t)
	msgFile := filepath.Join(tr.dir, ".git", "COMMIT_EDITMSG")
	if err := os.WriteFile(msgFile, []byte("feat: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(msgFile, 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(msgFile)
	repo := tr.open()
	if err := CommitMsg(context.Background(), repo, config.Defaults(), msgFile, nil, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(msgFile)
	if after.Mode() != 0o600 || !os.SameFile(before, after) {
		t.Errorf("mode %v (want 0600), same file %v", after.Mode(), os.SameFile(before, after))
	}
}

func TestMayHaveComments(t *testing.T) {
	for msg, want := range map[string]bool{
		"feat: x\n":                          false,
		"feat: x\n\nBody text.\n\nRefs: 1\n": false,
		"":                                   false,
		"feat: x\r\n\r\n  indented\r\n":      false,
		"feat: x\n# Please enter\n":          true,
		"feat: x\n; comment\n":               true,
		"- list item\n":                      true,
		"\xc3\xa9t\xc3\xa9\n":                true, // non-ASCII: ask git
	} {
		if got := mayHaveComments([]byte(msg)); got != want {
			t.Errorf("mayHaveComments(%q) = %v, want %v", msg, got, want)
		}
	}
}
