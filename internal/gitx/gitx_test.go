package gitx

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/guardcm/guard/internal/proc"
)

func TestOpenNormalRepo(t *testing.T) {
	tr := newTestRepo(t)
	tr.write("a.txt", "a\n")
	tr.git("add", ".")
	tr.commit("first\n")
	root := canon(t, tr.dir)

	for _, dir := range []string{tr.dir, filepath.Join(tr.dir, "sub", "deep")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		r, err := Open(context.Background(), dir)
		if err != nil {
			t.Fatalf("Open(%s): %v", dir, err)
		}
		want := repoPaths{Root: root, GitDir: filepath.Join(root, ".git"), CommonDir: filepath.Join(root, ".git"), HooksDir: filepath.Join(root, ".git", "hooks")}
		if got := canonRepo(t, r); got != want {
			t.Errorf("Open(%s) = %+v, want %+v", dir, got, want)
		}
	}
}

// canon resolves symlinks (a macOS /tmp, a symlinked TMPDIR) in the part of
// p that exists, so paths compare with what git prints.
func canon(t *testing.T, p string) string {
	t.Helper()
	if !filepath.IsAbs(p) {
		t.Errorf("path %q is not absolute", p)
	}
	p = filepath.Clean(p)
	var rest []string
	for {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(append([]string{r}, rest...)...)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Join(append([]string{p}, rest...)...)
		}
		rest = append([]string{filepath.Base(p)}, rest...)
		p = parent
	}
}

// repoPaths are a Repo's paths, compared as one value.
type repoPaths struct{ Root, GitDir, CommonDir, HooksDir string }

func canonRepo(t *testing.T, r *Repo) repoPaths {
	t.Helper()
	return repoPaths{Root: canon(t, r.Root), GitDir: canon(t, r.GitDir), CommonDir: canon(t, r.CommonDir), HooksDir: canon(t, r.HooksDir)}
}

// A relative dir (as a caller passing "." would) still yields absolute
// paths: the fields are documented absolute, and hook installation writes
// to HooksDir.
func TestOpenRelativeDir(t *testing.T) {
	tr := newTestRepo(t)
	sub := filepath.Join(tr.dir, "pkg", "x")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	for _, dir := range []string{".", "", "../x"} {
		r, err := Open(context.Background(), dir)
		if err != nil {
			t.Fatalf("Open(%q): %v", dir, err)
		}
		root := canon(t, tr.dir)
		want := repoPaths{Root: root, GitDir: filepath.Join(root, ".git"), CommonDir: filepath.Join(root, ".git"), HooksDir: filepath.Join(root, ".git", "hooks")}
		if got := canonRepo(t, r); got != want {
			t.Errorf("Open(%q) = %+v, want %+v", dir, got, want)
		}
	}
}

func TestOpenLinkedWorktree(t *testing.T) {
	tr := newTestRepo(t)
	tr.write("a.txt", "a\n")
	tr.git("add", ".")
	tr.commit("first\n")
	wt := filepath.Join(t.TempDir(), "wt")
	tr.git("worktree", "add", "-q", "-b", "feature", wt)

	r, err := Open(context.Background(), wt)
	if err != nil {
		t.Fatal(err)
	}
	main := canon(t, tr.dir)
	// Refs, objects, config and hooks are shared: git runs the main
	// repository's hooks folder for a linked worktree too.
	want := repoPaths{Root: canon(t, wt), GitDir: filepath.Join(main, ".git", "worktrees", "wt"), CommonDir: filepath.Join(main, ".git"), HooksDir: filepath.Join(main, ".git", "hooks")}
	if got := canonRepo(t, r); got != want {
		t.Errorf("Open(worktree) = %+v, want %+v", got, want)
	}
	p, err := r.GitPath(context.Background(), "hooks")
	if err != nil || p != r.HooksDir {
		t.Errorf("GitPath(hooks) = %q, %v; want %q", p, err, r.HooksDir)
	}
	// A per-worktree path stays in the worktree's own git dir.
	p, err = r.GitPath(context.Background(), "HEAD")
	if err != nil || canon(t, p) != filepath.Join(canon(t, r.GitDir), "HEAD") {
		t.Errorf("GitPath(HEAD) = %q, %v; want it under %q", p, err, r.GitDir)
	}
}

func TestOpenHooksPath(t *testing.T) {
	tr := newTestRepo(t)
	root := canon(t, tr.dir)
	for _, tc := range []struct{ value, want string }{
		{".githooks", filepath.Join(root, ".githooks")},
		{"../shared-hooks", filepath.Join(filepath.Dir(root), "shared-hooks")},
		{filepath.Join(root, "abs-hooks"), filepath.Join(root, "abs-hooks")},
	} {
		tr.git("config", "core.hooksPath", tc.value)
		for _, dir := range []string{tr.dir, filepath.Join(tr.dir, "deep", "er")} {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			r, err := Open(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := canon(t, r.HooksDir); got != tc.want {
				t.Errorf("core.hooksPath=%s: Open(%s).HooksDir = %q, want %q", tc.value, dir, r.HooksDir, tc.want)
			}
			if p, err := r.GitPath(context.Background(), "hooks"); err != nil || canon(t, p) != tc.want {
				t.Errorf("core.hooksPath=%s: GitPath(hooks) = %q, %v; want %q", tc.value, p, err, tc.want)
			}
		}
	}
}

func TestOpenOutsideRepo(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	r, err := Open(context.Background(), dir)
	if !errors.Is(err, ErrNotRepo) {
		t.Fatalf("Open outside a repository = %v, %v; want ErrNotRepo", r, err)
	}
	// A folder that does not exist is not "not a repository": git cannot
	// even start there, and that must not be mistaken for ErrNotRepo.
	_, err = Open(context.Background(), filepath.Join(dir, "missing"))
	if err == nil || errors.Is(err, ErrNotRepo) {
		t.Fatalf("Open of a missing folder = %v; want another error", err)
	}
}

func TestStatusAll(t *testing.T) {
	tr := newTestRepo(t)
	sub := initRepo(t, t.TempDir())
	sub.write("lib.txt", "lib\n")
	sub.git("add", ".")
	sub.commit("lib\n")

	tr.write("modified.txt", "1\n")
	tr.write("staged.txt", "1\n")
	tr.write("deleted.txt", "1\n")
	tr.write("staged-deleted.txt", "1\n")
	tr.write("old name.txt", "rename me, long enough for rename detection\n")
	tr.write("both.txt", "1\n")
	tr.git("add", ".")
	tr.run(nil, nil, "-c", "protocol.file.allow=always", "submodule", "add", "-q", sub.dir, "vendor/lib")
	tr.commit("base\n")

	tr.write("modified.txt", "2\n")
	tr.write("staged.txt", "2\n")
	tr.git("add", "staged.txt")
	if err := os.Remove(filepath.Join(tr.dir, "deleted.txt")); err != nil {
		t.Fatal(err)
	}
	tr.git("rm", "-q", "staged-deleted.txt")
	tr.mv("old name.txt", "dir with space/new name.txt")
	tr.write("both.txt", "2\n")
	tr.git("add", "both.txt")
	tr.write("both.txt", "3\n")
	tr.write("untracked dir/nested/ünïcødé 日本.txt", "u\n")
	tr.write("added.txt", "new\n")
	tr.git("add", "added.txt")
	tr.write(".gitignore", "*.log\n")
	tr.write("ignored.log", "x\n")
	// Dirty the submodule's work tree.
	if err := os.WriteFile(filepath.Join(tr.dir, "vendor", "lib", "lib.txt"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	st, err := tr.open().StatusAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Status{}
	for _, s := range st {
		if _, dup := got[s.Path]; dup {
			t.Errorf("path %q listed twice", s.Path)
		}
		got[s.Path] = s
	}
	want := map[string]Status{
		"modified.txt":                {Code: ".M", Path: "modified.txt", Submodule: "N..."},
		"staged.txt":                  {Code: "M.", Path: "staged.txt", Submodule: "N..."},
		"deleted.txt":                 {Code: ".D", Path: "deleted.txt", Submodule: "N..."},
		"staged-deleted.txt":          {Code: "D.", Path: "staged-deleted.txt", Submodule: "N..."},
		"dir with space/new name.txt": {Code: "R.", Path: "dir with space/new name.txt", Orig: "old name.txt", Submodule: "N..."},
		"both.txt":                    {Code: "MM", Path: "both.txt", Submodule: "N..."},
		"added.txt":                   {Code: "A.", Path: "added.txt", Submodule: "N..."},
		"untracked dir/nested/ünïcødé 日本.txt": {Code: "??", Path: "untracked dir/nested/ünïcødé 日本.txt"},
		".gitignore": {Code: "??", Path: ".gitignore"},
		"vendor/lib": {Code: ".M", Path: "vendor/lib", Submodule: "S.M."},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("StatusAll:\n got %#v\nwant %#v", got, want)
	}
	if _, ok := got["ignored.log"]; ok {
		t.Error("an ignored file is listed")
	}
}

func TestStatusAllClean(t *testing.T) {
	tr := newTestRepo(t)
	tr.write("a", "a\n")
	tr.git("add", ".")
	tr.commit("a\n")
	st, err := tr.open().StatusAll(context.Background())
	if err != nil || len(st) != 0 {
		t.Fatalf("StatusAll on a clean tree = %v, %v", st, err)
	}
}

// logRepo builds a history of commits whose messages are hard to parse.
func trickyMessages() [][]byte {
	return [][]byte{
		[]byte("feat: plain\n\nbody\n\nChange-Category: normal\n"),
		[]byte("no trailing newline"),
		[]byte("control \x01\x02\x1b[31mred\x1b[0m \x7f\x08 bytes\n"),
		[]byte("crlf subject\r\n\r\nbody line\r\nChange-Category: standard\r\n"),
		[]byte("caf\xe9 \xff\xfe not UTF-8\n"),
		{},
		// A message carrying the old record separator and a forged record:
		// the commit's own changes must stay its own.
		[]byte("innocent\n\x1eguard-commit\x1fdeadbeefdeadbeefdeadbeefdeadbeefdeadbeef \x1fevil@example.com\x1f2020-01-01T00:00:00Z\x1f2020-01-01T00:00:00Z\x1fChange-Category: standard\n"),
		[]byte("\x1f\x1e\x1f\n\x1eguard-commit\x1f\n\nA\n"),
		[]byte("subject with\ttab and trailing spaces   \n\n\n"),
		[]byte("\n\nleading blank lines\n"),
	}
}

func TestLogTrickyMessages(t *testing.T) {
	tr := newTestRepo(t)
	var hashes []string
	msgs := trickyMessages()
	for i, m := range msgs {
		tr.write(filepathFor(i), strings.Repeat("content line\n", 20)+string(rune('a'+i))+"\n")
		tr.git("add", ".")
		hashes = append(hashes, tr.commitMsg(m))
	}
	// A rename, a deletion and a modification in one commit.
	tr.mv(filepathFor(0), "moved/renamed.txt")
	tr.git("rm", "-q", filepathFor(1))
	tr.write(filepathFor(2), "changed\n")
	tr.git("add", ".")
	last := tr.commit("mixed\n")

	commits, err := tr.open().Log(context.Background(), "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if len(commits) != len(msgs)+1 {
		t.Fatalf("Log returned %d commits, want %d", len(commits), len(msgs)+1)
	}
	for i, c := range commits[:len(msgs)] {
		if c.Hash != hashes[i] {
			t.Errorf("commit %d: hash %s, want %s (oldest first)", i, c.Hash, hashes[i])
		}
		if raw := tr.rawMessage(c.Hash); !bytes.Equal(c.Message, raw) {
			t.Errorf("commit %d: Message = %q, want the stored bytes %q", i, c.Message, raw)
		}
		want := []FileChange{{Kind: 'A', Path: filepathFor(i), OldPath: filepathFor(i)}}
		if !reflect.DeepEqual(c.Changes, want) {
			t.Errorf("commit %d: Changes = %+v, want %+v", i, c.Changes, want)
		}
		if c.AuthorEmail != "ada@example.com" {
			t.Errorf("commit %d: AuthorEmail = %q", i, c.AuthorEmail)
		}
		if i > 0 && (len(c.Parents) != 1 || c.Parents[0] != hashes[i-1]) {
			t.Errorf("commit %d: Parents = %v, want [%s]", i, c.Parents, hashes[i-1])
		}
		if strings.ContainsAny(c.Subject, "\r\n") {
			t.Errorf("commit %d: Subject %q spans lines", i, c.Subject)
		}
	}
	if len(commits[0].Parents) != 0 {
		t.Errorf("root commit has parents %v", commits[0].Parents)
	}
	if got := commits[0].Subject; got != "feat: plain" {
		t.Errorf("Subject = %q", got)
	}
	if got := commits[3].Subject; got != "crlf subject" {
		t.Errorf("CRLF Subject = %q", got)
	}
	if got := commits[5].Subject; got != "" {
		t.Errorf("empty message Subject = %q", got)
	}
	if got := commits[9].Subject; got != "leading blank lines" {
		t.Errorf("Subject after blank lines = %q", got)
	}
	if commits[2].AuthorTime != "2025-03-04T06:03:00Z" && commits[2].AuthorTime != "2025-03-04T06:03:00+00:00" {
		t.Errorf("AuthorTime = %q, want strict ISO 8601", commits[2].AuthorTime)
	}
	m := commits[len(commits)-1]
	if m.Hash != last {
		t.Fatalf("last commit %s, want %s", m.Hash, last)
	}
	sort.Slice(m.Changes, func(i, j int) bool { return m.Changes[i].Path < m.Changes[j].Path })
	wantMixed := []FileChange{
		{Kind: 'D', Path: filepathFor(1), OldPath: filepathFor(1)},
		{Kind: 'M', Path: filepathFor(2), OldPath: filepathFor(2)},
		{Kind: 'R', Path: "moved/renamed.txt", OldPath: filepathFor(0)},
	}
	if !reflect.DeepEqual(m.Changes, wantMixed) {
		t.Errorf("mixed commit Changes = %+v, want %+v", m.Changes, wantMixed)
	}
}

func filepathFor(i int) string { return "files/f" + string(rune('a'+i)) + " x.txt" }

// A root commit's changes are listed even when the user's configuration
// hides root diffs (log.showRoot=false): otherwise a first push that adds
// a new Worker would look like an empty, standard change.
func TestLogRootCommitWithShowRootFalse(t *testing.T) {
	tr := newTestRepo(t)
	tr.git("config", "--global", "log.showRoot", "false")
	tr.write("wrangler.toml", "name = \"w\"\n")
	tr.git("add", ".")
	tr.commit("root\n")
	commits, err := tr.open().Log(context.Background(), "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	want := []FileChange{{Kind: 'A', Path: "wrangler.toml", OldPath: "wrangler.toml"}}
	if len(commits) != 1 || !reflect.DeepEqual(commits[0].Changes, want) {
		t.Fatalf("Log = %+v, want one commit with %+v", commits, want)
	}
}

func TestLogMergesAndRanges(t *testing.T) {
	tr := newTestRepo(t)
	tr.write("base.txt", "base\n")
	tr.git("add", ".")
	base := tr.commit("base\n")
	tr.git("switch", "-q", "-c", "feature")
	tr.write("feature.txt", "f\n")
	tr.git("add", ".")
	feat := tr.commit("feature work\n")
	tr.git("switch", "-q", "main")
	tr.write("main.txt", "m\n")
	tr.git("add", ".")
	mainTip := tr.commit("main work\n")
	tr.git("checkout", "-q", feat, "--", "feature.txt")
	merge := tr.commitMsg([]byte("Merge branch 'feature'\n"), feat)
	tr.write("after.txt", "a\n")
	tr.git("add", ".")
	after := tr.commit("after merge\n")

	r := tr.open()
	ctx := context.Background()

	all, err := r.Log(ctx, "HEAD", "--not", base)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range all {
		got = append(got, c.Hash)
		if c.Hash == merge {
			if !c.IsMerge() || c.Changes != nil {
				t.Errorf("merge commit: IsMerge=%v Changes=%v", c.IsMerge(), c.Changes)
			}
		} else if c.IsMerge() || len(c.Changes) != 1 {
			t.Errorf("commit %s: IsMerge=%v Changes=%v", c.Short(), c.IsMerge(), c.Changes)
		}
	}
	sort.Strings(got)
	want := []string{feat, mainTip, merge, after}
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Log HEAD --not base = %v, want %v", got, want)
	}
	if all[len(all)-1].Hash != after {
		t.Errorf("newest commit is not last: %v", all[len(all)-1].Hash)
	}

	// --first-parent makes git list the merge's diff against its first
	// parent; the parser must step over it and keep reading commits.
	fp, err := r.Log(ctx, "--first-parent", "HEAD", "--not", base)
	if err != nil {
		t.Fatal(err)
	}
	var fpHashes []string
	for _, c := range fp {
		fpHashes = append(fpHashes, c.Hash)
	}
	if want := []string{mainTip, merge, after}; !reflect.DeepEqual(fpHashes, want) {
		t.Errorf("Log --first-parent = %v, want %v", fpHashes, want)
	}
	if len(fp) == 3 {
		if fp[1].Changes != nil {
			t.Errorf("merge Changes = %v, want nil", fp[1].Changes)
		}
		if want := []FileChange{{Kind: 'A', Path: "after.txt", OldPath: "after.txt"}}; !reflect.DeepEqual(fp[2].Changes, want) {
			t.Errorf("commit after the merge: Changes = %v, want %v", fp[2].Changes, want)
		}
	}

	// An empty range is no commits and no error.
	none, err := r.Log(ctx, "HEAD", "--not", "HEAD")
	if err != nil || len(none) != 0 {
		t.Errorf("empty range = %v, %v", none, err)
	}
	// A range from a missing revision is an error naming git.
	if _, err := r.Log(ctx, "no-such-branch"); err == nil || !strings.Contains(err.Error(), "git log") {
		t.Errorf("Log of a missing revision: %v", err)
	}
}

func TestBlob(t *testing.T) {
	tr := newTestRepo(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 5<<20/16) // 5 MiB
	binary := []byte{0, 1, 2, 0xff, '\n', 0, '\r', '\n', 0x1e, 0x1f}
	tr.write("dir/text file.txt", "v1\n")
	tr.write("big.bin", string(big))
	tr.write("bin.dat", string(binary))
	tr.write("empty", "")
	tr.write("trailing-newline-less", "no newline")
	tr.git("add", ".")
	c1 := tr.commit("one\n")
	tr.write("dir/text file.txt", "v2\n")
	tr.git("add", ".")
	tr.commit("two\n")
	tr.write("dir/text file.txt", "staged\n")
	tr.git("add", ".")
	tr.write("dir/text file.txt", "work tree only\n")

	r := tr.open()
	ctx := context.Background()
	for _, tc := range []struct {
		rev, path string
		want      []byte
		ok        bool
	}{
		{"HEAD", "dir/text file.txt", []byte("v2\n"), true},
		{c1, "dir/text file.txt", []byte("v1\n"), true},
		{"HEAD~1", "dir/text file.txt", []byte("v1\n"), true},
		{":", "dir/text file.txt", []byte("staged\n"), true},
		{"", "dir/text file.txt", []byte("staged\n"), true},
		{"HEAD", "big.bin", big, true},
		{"HEAD", "bin.dat", binary, true},
		{"HEAD", "empty", []byte{}, true},
		{"HEAD", "trailing-newline-less", []byte("no newline"), true},
		{"HEAD", "missing.txt", nil, false},
		{":", "missing.txt", nil, false},
		{"no-such-rev", "dir/text file.txt", nil, false},
		{"HEAD", "dir", nil, false}, // a tree, not a blob
		{"HEAD", "big.bin", big, true},
		{"HEAD", "dir/text file.txt", []byte("v2\n"), true}, // the stream is still in step
	} {
		data, ok, err := r.Blob(ctx, tc.rev, tc.path)
		if err != nil {
			t.Fatalf("Blob(%q, %q): %v", tc.rev, tc.path, err)
		}
		if ok != tc.ok || !bytes.Equal(data, tc.want) {
			t.Errorf("Blob(%q, %q) = %d bytes %q…, %v; want %d bytes, %v", tc.rev, tc.path, len(data), head(data), ok, len(tc.want), tc.ok)
		}
	}
	if _, _, err := r.Blob(ctx, "HEAD", "a\nb"); err == nil {
		t.Error("a path with a newline was sent to cat-file")
	}
	// Close stops the batch process; a later Blob starts a new one.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if data, ok, err := r.Blob(ctx, "HEAD", "dir/text file.txt"); err != nil || !ok || string(data) != "v2\n" {
		t.Errorf("Blob after Close = %q, %v, %v", data, ok, err)
	}
}

func head(b []byte) []byte {
	if len(b) > 20 {
		return b[:20]
	}
	return b
}

func TestLsTree(t *testing.T) {
	tr := newTestRepo(t)
	tr.write("migrations/0001_init.sql", "x")
	tr.write("migrations/0002 two.sql", "x")
	tr.write("migrations/sub/deep.sql", "x")
	tr.write("migrationsX/other.sql", "x")
	tr.write("top.txt", "x")
	tr.git("add", ".")
	tr.commit("c\n")
	r := tr.open()
	ctx := context.Background()

	got, err := r.LsTree(ctx, "HEAD", "migrations/", true)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"migrations/0001_init.sql", "migrations/0002 two.sql", "migrations/sub/deep.sql"}; !reflect.DeepEqual(got, want) {
		t.Errorf("recursive LsTree = %q, want %q", got, want)
	}
	got, err = r.LsTree(ctx, "HEAD", "migrations", false)
	if err != nil {
		t.Fatal(err)
	}
	// Non-recursive lists the folder's own entries, subfolders included
	// (callers skip those: Blob says ok=false for a tree).
	if want := []string{"migrations/0001_init.sql", "migrations/0002 two.sql", "migrations/sub"}; !reflect.DeepEqual(got, want) {
		t.Errorf("LsTree = %q, want %q", got, want)
	}
	got, err = r.LsTree(ctx, "HEAD", "nowhere", true)
	if err != nil || len(got) != 0 {
		t.Errorf("LsTree of a missing folder = %q, %v; want nothing", got, err)
	}
	if _, err := r.LsTree(ctx, "no-such-rev", "migrations", true); err == nil {
		t.Error("LsTree of a missing revision: no error")
	}
}

func TestMergeBaseAndResolveCommit(t *testing.T) {
	tr := newTestRepo(t)
	tr.write("a", "a\n")
	tr.git("add", ".")
	base := tr.commit("base\n")
	tr.git("switch", "-q", "-c", "side")
	tr.write("b", "b\n")
	tr.git("add", ".")
	side := tr.commit("side\n")
	tr.git("switch", "-q", "main")
	tr.write("c", "c\n")
	tr.git("add", ".")
	mainTip := tr.commit("main\n")
	tr.git("switch", "-q", "--orphan", "unrelated")
	tr.write("u", "u\n")
	tr.git("add", "u")
	orphan := tr.commit("unrelated\n")
	tr.git("tag", "-a", "-m", "annotated", "v1", mainTip)

	r := tr.open()
	ctx := context.Background()
	if mb, ok, err := r.MergeBase(ctx, side, mainTip); err != nil || !ok || mb != base {
		t.Errorf("MergeBase = %q, %v, %v; want %s", mb, ok, err, base)
	}
	if mb, ok, err := r.MergeBase(ctx, orphan, mainTip); err != nil || ok || mb != "" {
		t.Errorf("MergeBase of unrelated histories = %q, %v, %v; want not ok", mb, ok, err)
	}
	if _, _, err := r.MergeBase(ctx, "no-such-rev", mainTip); err == nil {
		t.Error("MergeBase with a missing revision: no error")
	}

	for _, tc := range []struct {
		rev, want string
		ok        bool
	}{
		{"main", mainTip, true},
		{"side", side, true},
		{side[:10], side, true},
		{"v1", mainTip, true}, // an annotated tag peels to its commit
		{"refs/remotes/origin/main", "", false},
		{"no-such-branch", "", false},
		{"0000000000000000000000000000000000000000", "", false},
		{"1234567890123456789012345678901234567890", "", false},
		{r.mustTree(t, "HEAD"), "", false}, // a tree is not a commit
		{"--output=" + filepath.Join(t.TempDir(), "x"), "", false},
		{"-h", "", false},
	} {
		got, ok, err := r.ResolveCommit(ctx, tc.rev)
		if err != nil || ok != tc.ok || got != tc.want {
			t.Errorf("ResolveCommit(%q) = %q, %v, %v; want %q, %v", tc.rev, got, ok, err, tc.want, tc.ok)
		}
	}
}

func (r *Repo) mustTree(t *testing.T, rev string) string {
	t.Helper()
	s, err := r.GitLine(context.Background(), "rev-parse", rev+"^{tree}")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConfigValue(t *testing.T) {
	tr := newTestRepo(t)
	r := tr.open()
	ctx := context.Background()
	if v, ok, err := r.ConfigValue(ctx, "guard.unset"); err != nil || ok || v != "" {
		t.Errorf("unset: %q, %v, %v", v, ok, err)
	}
	tr.git("config", "guard.value", "two words ")
	tr.git("config", "guard.empty", "")
	tr.git("config", "--global", "guard.global", "g")
	if v, ok, err := r.ConfigValue(ctx, "guard.value"); err != nil || !ok || v != "two words " {
		t.Errorf("set: %q, %v, %v", v, ok, err)
	}
	if v, ok, err := r.ConfigValue(ctx, "guard.empty"); err != nil || !ok || v != "" {
		t.Errorf("set to empty: %q, %v, %v", v, ok, err)
	}
	if v, ok, err := ConfigValueIn(ctx, tr.dir, "guard.global"); err != nil || !ok || v != "g" {
		t.Errorf("global: %q, %v, %v", v, ok, err)
	}
}

func TestStagedChangesAndDiffTrees(t *testing.T) {
	tr := newTestRepo(t)
	tr.write("keep.txt", strings.Repeat("same content\n", 10))
	tr.write("drop.txt", "drop\n")
	tr.git("add", ".")
	// Before the first commit everything staged is an addition.
	fcs, err := StagedChangesIn(context.Background(), tr.dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []FileChange{{'A', "drop.txt", "drop.txt"}, {'A', "keep.txt", "keep.txt"}}; !reflect.DeepEqual(fcs, want) {
		t.Errorf("unborn StagedChanges = %+v, want %+v", fcs, want)
	}
	c1 := tr.commit("one\n")
	tr.mv("keep.txt", "dir with space/kept.txt")
	tr.git("rm", "-q", "drop.txt")
	tr.write("new.txt", "n\n")
	tr.git("add", ".")
	r := tr.open()
	fcs, err = r.StagedChanges(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []FileChange{{'R', "dir with space/kept.txt", "keep.txt"}, {'D', "drop.txt", "drop.txt"}, {'A', "new.txt", "new.txt"}}
	if !reflect.DeepEqual(fcs, want) {
		t.Errorf("StagedChanges = %+v, want %+v", fcs, want)
	}
	c2 := tr.commit("two\n")
	fcs, err = r.DiffTrees(context.Background(), c1, c2, "dir with space/")
	if err != nil {
		t.Fatal(err)
	}
	if want := []FileChange{{'A', "dir with space/kept.txt", "dir with space/kept.txt"}}; !reflect.DeepEqual(fcs, want) {
		t.Errorf("DiffTrees limited to a folder = %+v, want %+v", fcs, want)
	}
	fcs, err = r.DiffTrees(context.Background(), EmptyTree, c1)
	if err != nil || len(fcs) != 2 {
		t.Errorf("DiffTrees from the empty tree = %+v, %v", fcs, err)
	}
}

func TestGitErrorsCarryStderr(t *testing.T) {
	tr := newTestRepo(t)
	r := tr.open()
	_, err := r.Git(context.Background(), "log", "no-such-thing")
	var ee *proc.ExitError
	if !errors.As(err, &ee) || ee.Code == 0 || !strings.Contains(ee.Stderr, "no-such-thing") {
		t.Fatalf("error = %v; want an ExitError with git's stderr", err)
	}
	if !strings.HasPrefix(err.Error(), "git log") {
		t.Errorf("error %q does not name the git command", err)
	}
}

func TestGitLineAndStream(t *testing.T) {
	tr := newTestRepo(t)
	r := tr.open()
	ctx := context.Background()
	s, err := r.GitLine(ctx, "rev-parse", "--show-toplevel", "--absolute-git-dir")
	if err != nil || s != r.Root {
		t.Errorf("GitLine = %q, %v; want the first line %q", s, err, r.Root)
	}
	var out, errb bytes.Buffer
	if err := r.GitStream(ctx, &out, &errb, "version"); err != nil || !strings.HasPrefix(out.String(), "git version") {
		t.Errorf("GitStream = %q, %v", out.String(), err)
	}
	// The GUARD=1 marker reaches git (and so its hooks and aliases).
	tr.git("config", "alias.guardenv", "!printf %s \"$GUARD\"")
	if s, err := r.GitLine(ctx, "guardenv"); err != nil || s != "1" {
		t.Errorf("GUARD in git's environment = %q, %v", s, err)
	}
}

func TestShort(t *testing.T) {
	c := Commit{Hash: "0123456789abcdef0123456789abcdef01234567"}
	if c.Short() != "0123456789ab" {
		t.Errorf("Short = %q", c.Short())
	}
	c.Hash = "abc"
	if c.Short() != "abc" {
		t.Errorf("Short of a short hash = %q", c.Short())
	}
}

// A commit that declares another encoding is the one case where git log
// does not print the stored bytes: it re-encodes to UTF-8, as documented on
// Commit.Message.
func TestLogReencodesDeclaredEncoding(t *testing.T) {
	tr := newTestRepo(t)
	tr.write("a", "a\n")
	tr.git("add", ".")
	hash := strings.TrimSpace(string(tr.run([]byte("caf\xe9\n"), nil, "-c", "i18n.commitEncoding=ISO-8859-1", "commit-tree", tr.git("write-tree"))))
	if raw := tr.rawMessage(hash); string(raw) != "caf\xe9\n" {
		t.Fatalf("stored message %q", raw)
	}
	commits, err := tr.open().Log(context.Background(), hash)
	if err != nil {
		t.Fatal(err)
	}
	if len(commits) != 1 || string(commits[0].Message) != "café\n" || commits[0].Subject != "café" {
		t.Fatalf("Log = %+v", commits)
	}
}
