package deploy

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/guardcm/guard/internal/gittest"
	"github.com/guardcm/guard/internal/gitx"
)

func TestClassifyStatus(t *testing.T) {
	entries := []gitx.Status{
		{Code: ".M", Submodule: "N...", Path: "a.js"},
		{Code: "M.", Submodule: "N...", Path: "b.js"},
		{Code: "MM", Submodule: "N...", Path: "c.js"},
		{Code: ".D", Submodule: "N...", Path: "d.js"},
		{Code: "D.", Submodule: "N...", Path: "e.js"},
		{Code: "A.", Submodule: "N...", Path: "f.js"},
		{Code: "R.", Submodule: "N...", Path: "g.js", Orig: "old.js"},
		{Code: ".T", Submodule: "N...", Path: "h.js"},
		{Code: ".M", Submodule: "S.M.", Path: "sub1"},
		{Code: ".M", Submodule: "S..U", Path: "sub2"},
		{Code: ".M", Submodule: "SC..", Path: "sub3"},
		{Code: "u", Submodule: "N...", Path: "conflict.js"},
		{Code: "??", Path: "new.txt"},
		{Code: "!!", Path: "ignored.log"},
	}
	got, untracked := ClassifyStatus(entries, false)
	want := []Divergence{
		{"a.js", "modified, not staged"},
		{"b.js", "staged"},
		{"c.js", "staged; modified, not staged"},
		{"d.js", "deleted"},
		{"e.js", "deleted, staged"},
		{"f.js", "added, staged"},
		{"g.js", "renamed from old.js, staged"},
		{"h.js", "type changed, not staged"},
		{"sub1", "submodule has modified content"},
		{"sub2", "submodule has untracked content"},
		{"sub3", "submodule checked out at another commit"},
		{"conflict.js", "unmerged (merge conflict)"},
		{"new.txt", "untracked"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("divergences:\n got %q\nwant %q", got, want)
	}
	if untracked != nil {
		t.Errorf("untracked without allow = %q", untracked)
	}
	got, untracked = ClassifyStatus(entries, true)
	if len(got) != len(want)-1 || !reflect.DeepEqual(untracked, []string{"new.txt"}) {
		t.Errorf("with allowUntracked: %d divergences, untracked %q", len(got), untracked)
	}
}

func TestClassifyCommits(t *testing.T) {
	got := ClassifyCommits("origin/main",
		[]CommitLine{{"0123456789abcdef0123456789abcdef01234567", "local work"}},
		[]CommitLine{{"fedcba9876543210fedcba9876543210fedcba98", "their work"}})
	want := []string{
		"0123456789ab: commit not on origin/main: local work",
		"fedcba987654: origin/main has commits HEAD lacks: their work",
	}
	for i, d := range got {
		if d.String() != want[i] {
			t.Errorf("got %q, want %q", d, want[i])
		}
	}
}

func reasons(st *TreeState) string {
	var s []string
	for _, d := range st.Divergences {
		s = append(s, d.String())
	}
	return strings.Join(s, "\n")
}

// TestCheckTree drives each kind of divergence with the real git.
func TestCheckTree(t *testing.T) {
	gitEnv(t)
	ctx := context.Background()
	const ref, name = "refs/remotes/origin/main", "origin/main"
	check := func(t *testing.T, dir string, allow bool) *TreeState {
		t.Helper()
		st, err := CheckTree(ctx, openRepo(t, dir), ref, name, allow)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	t.Run("clean", func(t *testing.T) {
		work, _ := cloneWithRemote(t)
		// Ignored files are fine: node_modules is what the bundler reads.
		gittest.WriteFile(t, filepath.Join(work, "node_modules", "x", "index.js"), "x")
		st := check(t, work, false)
		if len(st.Divergences) != 0 || st.Ahead != 0 || st.Behind != 0 {
			t.Fatalf("clean tree refused: %s", reasons(st))
		}
		if st.Head != gittest.Git(t, work, "rev-parse", "HEAD") || st.Tree != gittest.Git(t, work, "rev-parse", "HEAD^{tree}") {
			t.Errorf("head/tree = %s %s", st.Head, st.Tree)
		}
	})
	t.Run("worktree and index", func(t *testing.T) {
		work, _ := cloneWithRemote(t)
		gittest.WriteFile(t, filepath.Join(work, "src", "index.js"), "changed\n")
		gittest.WriteFile(t, filepath.Join(work, "staged.js"), "s\n")
		gittest.Git(t, work, "add", "staged.js")
		os.Remove(filepath.Join(work, "README.md"))
		gittest.WriteFile(t, filepath.Join(work, "new", "file.txt"), "u\n")
		st := check(t, work, false)
		want := "README.md: deleted\nnew/file.txt: untracked\nsrc/index.js: modified, not staged\nstaged.js: added, staged"
		if got := reasons(st); got != want {
			t.Errorf("got\n%s\nwant\n%s", got, want)
		}
		st = check(t, work, true)
		if !reflect.DeepEqual(st.Untracked, []string{"new/file.txt"}) || strings.Contains(reasons(st), "untracked") {
			t.Errorf("allow-untracked: untracked %q, divergences %s", st.Untracked, reasons(st))
		}
	})
	t.Run("ahead and behind", func(t *testing.T) {
		work, remote := cloneWithRemote(t)
		gittest.WriteFile(t, filepath.Join(work, "a.txt"), "a\n")
		gittest.Git(t, work, "add", "a.txt")
		gittest.Git(t, work, "commit", "--quiet", "-m", "local only")
		other := filepath.Join(t.TempDir(), "other")
		gittest.Git(t, "/", "clone", "--quiet", remote, other)
		gittest.WriteFile(t, filepath.Join(other, "b.txt"), "b\n")
		gittest.Git(t, other, "add", "b.txt")
		gittest.Git(t, other, "commit", "--quiet", "-m", "pushed by a teammate")
		gittest.Git(t, other, "push", "--quiet", "origin", "main")
		gittest.Git(t, work, "fetch", "--quiet")
		st := check(t, work, false)
		if st.Ahead != 1 || st.Behind != 1 {
			t.Fatalf("ahead %d behind %d", st.Ahead, st.Behind)
		}
		got := reasons(st)
		if !strings.Contains(got, ": commit not on origin/main: local only") || !strings.Contains(got, ": origin/main has commits HEAD lacks: pushed by a teammate") {
			t.Errorf("got\n%s", got)
		}
	})
	t.Run("dirty submodule", func(t *testing.T) {
		work, remote := cloneWithRemote(t)
		gittest.Git(t, work, "-c", "protocol.file.allow=always", "submodule", "add", "--quiet", remote, "lib")
		gittest.Git(t, work, "commit", "--quiet", "-m", "add submodule")
		gittest.Git(t, work, "push", "--quiet", "origin", "main")
		gittest.WriteFile(t, filepath.Join(work, "lib", "README.md"), "edited\n")
		st := check(t, work, false)
		if got := reasons(st); got != "lib: submodule has modified content" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("no remote branch", func(t *testing.T) {
		work, _ := cloneWithRemote(t)
		st, err := CheckTree(ctx, openRepo(t, work), "refs/remotes/origin/release", "origin/release", false)
		if err != nil {
			t.Fatal(err)
		}
		if got := reasons(st); !strings.Contains(got, "origin/release does not exist") {
			t.Errorf("got %q", got)
		}
	})
}
