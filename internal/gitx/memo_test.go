package gitx_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/guardcm/guard/internal/gittest"
	"github.com/guardcm/guard/internal/gitx"
)

// A question about a commit named by its full hash is asked of git once;
// one naming a branch is asked every time, so it follows the branch.
func TestFixedAnswersAreKept(t *testing.T) {
	gittest.Isolate(t, gittest.Options{})
	remote, _ := gittest.Remote(t, "init", "migrations/0001_a.sql", "CREATE TABLE a(x);\n")
	dir := gittest.Clone(t, remote)
	repo := gittest.Open(t, gitx.Open, dir)
	ctx := context.Background()
	first := gittest.Git(t, dir, "rev-parse", "HEAD")
	gittest.CommitAt(t, dir, "2026-11-02T11:00:00Z", "two", "migrations/0002_b.sql", "CREATE TABLE b(x);\n")

	// Count git's runs with a git wrapper first on PATH.
	bin := t.TempDir()
	log := filepath.Join(t.TempDir(), "runs")
	real, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho \"$*\" >> '" + log + "'\nexec '" + real + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	runs := func() int {
		data, _ := os.ReadFile(log)
		n := 0
		for _, c := range data {
			if c == '\n' {
				n++
			}
		}
		return n
	}

	for range 3 {
		files, err := repo.LsTree(ctx, first, "migrations", false)
		if err != nil || len(files) != 1 {
			t.Fatalf("ls-tree %s: %v %v", first, files, err)
		}
		if _, ok, err := repo.ResolveCommit(ctx, first); err != nil || !ok {
			t.Fatalf("resolve: %v %v", ok, err)
		}
	}
	if n := runs(); n != 2 {
		t.Fatalf("git ran %d times for two questions asked three times each about one full hash", n)
	}
	for range 2 {
		files, err := repo.LsTree(ctx, "HEAD", "migrations", false)
		if err != nil || len(files) != 2 {
			t.Fatalf("ls-tree HEAD: %v %v", files, err)
		}
	}
	if n := runs(); n != 4 {
		t.Fatalf("git ran %d times in all, want 4: a question naming HEAD is asked every time", n)
	}
	// An unknown full hash is not kept as unknown.
	missing := "0123456789abcdef0123456789abcdef01234567"
	for range 2 {
		if _, ok, err := repo.ResolveCommit(ctx, missing); err != nil || ok {
			t.Fatalf("resolve of a missing commit: %v %v", ok, err)
		}
	}
	if n := runs(); n != 6 {
		t.Fatalf("git ran %d times in all, want 6: a failed answer is asked again", n)
	}
}

// A Repo is used from several goroutines at once (a deploy fetches the
// branch and the deploy notes together): its helpers, opened on first
// use, are opened once. Run with -race.
func TestConcurrentFirstUse(t *testing.T) {
	gittest.Isolate(t, gittest.Options{})
	remote, _ := gittest.Remote(t, "init", "README.md", "hi\n")
	repo := gittest.Open(t, gitx.Open, gittest.Clone(t, remote))
	t.Cleanup(func() { _ = repo.Close() })
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, ok, err := repo.RefHash(ctx, "refs/remotes/origin/main"); err != nil || !ok {
				errs <- fmt.Errorf("ref: %v %v", ok, err)
			}
		}()
		go func() {
			defer wg.Done()
			if data, ok, err := repo.Blob(ctx, "HEAD", "README.md"); err != nil || !ok || string(data) != "hi\n" {
				errs <- fmt.Errorf("blob: %q %v %v", data, ok, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
