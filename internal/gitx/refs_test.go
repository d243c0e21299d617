package gitx

import (
	"context"
	"github.com/guardcm/guard/internal/gittest"
	"testing"
)

// RefHash must agree with git on loose refs, packed refs, symbolic refs
// and missing refs, from the main checkout and from a linked worktree.
func TestRefHash(t *testing.T) {
	isolate(t)
	tr := newTestRepo(t)
	tr.commit("one")
	first := tr.git("rev-parse", "HEAD")
	tr.commit("two")
	second := tr.git("rev-parse", "HEAD")
	tr.git("update-ref", "refs/remotes/origin/main", first)
	tr.git("update-ref", "refs/remotes/origin/packed", second)
	tr.git("pack-refs", "--all")
	tr.git("update-ref", "refs/remotes/origin/loose", second) // loose, after packing
	tr.git("symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
	ctx := context.Background()
	repo, err := Open(ctx, tr.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	for name, want := range map[string]string{
		"refs/remotes/origin/main":   first,
		"refs/remotes/origin/packed": second,
		"refs/remotes/origin/loose":  second,
		"refs/remotes/origin/HEAD":   first,
		"refs/heads/main":            second,
	} {
		got, ok, err := repo.RefHash(ctx, name)
		if err != nil || !ok || got != want {
			t.Errorf("RefHash(%s) = %q, %v, %v; want %s", name, got, ok, err, want)
		}
	}
	if _, ok, err := repo.RefHash(ctx, "refs/remotes/origin/nope"); ok || err != nil {
		t.Errorf("a missing ref: ok=%v err=%v", ok, err)
	}
	wt := t.TempDir() + "/wt"
	tr.git("worktree", "add", "-q", wt)
	wrepo, err := Open(ctx, wt)
	if err != nil {
		t.Fatal(err)
	}
	defer wrepo.Close()
	if got, ok, _ := wrepo.RefHash(ctx, "refs/remotes/origin/packed"); !ok || got != second {
		t.Errorf("from a linked worktree: %q, %v", got, ok)
	}
}

// BenchmarkRefHash compares reading a ref with go-git against asking git.
func BenchmarkRefHash(b *testing.B) {
	gittest.Isolate(b, gittest.Options{})
	dir := gittest.Repo(b)
	gittest.Commit(b, dir, "one")
	ctx := context.Background()
	repo, err := Open(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	defer repo.Close()
	b.Run("go-git", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, ok, err := repo.RefHash(ctx, "refs/heads/main"); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("git-rev-parse", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, ok, err := repo.ResolveCommit(ctx, "refs/heads/main"); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}
