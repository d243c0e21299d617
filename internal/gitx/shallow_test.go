package gitx

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gittest"
)

// shallowFixture is a remote with five commits a day apart (day 1..5) and
// the commits' hashes, oldest first.
func shallowFixture(t *testing.T) (remote string, commits []string) {
	t.Helper()
	gittest.Isolate(t, gittest.Options{})
	remote = gittest.Bare(t)
	seed := gittest.Clone(t, remote)
	for d := 1; d <= 5; d++ {
		date := time.Date(2026, 11, d, 10, 0, 0, 0, time.UTC).Format(time.RFC3339)
		commits = append(commits, gittest.CommitAt(t, seed, date, "day", "f.txt", date))
	}
	gittest.Git(t, seed, "tag", "day2", commits[1])
	gittest.Git(t, seed, "push", "--quiet", "origin", "HEAD:main", "day2")
	return remote, commits
}

func shallowClone(t *testing.T, remote string, args ...string) *Repo {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	gittest.Git(t, "", append(append([]string{"clone", "--quiet", "--no-local"}, args...), "file://"+remote, dir)...)
	return gittest.Open(t, Open, dir)
}

func wantShallow(t *testing.T, what string, err error) {
	t.Helper()
	if !IsShallow(err) {
		t.Fatalf("%s: want a shallow-history error, got %v", what, err)
	}
	if fail.KindOf(err) != fail.KindUsage {
		t.Errorf("%s: kind %v, want usage (exit 2)", what, fail.KindOf(err))
	}
	if h := fail.HintsOf(err); len(h) != 1 || h[0] != UnshallowHint {
		t.Errorf("%s: hints %q", what, h)
	}
}

func TestRequireHistory(t *testing.T) {
	ctx := context.Background()
	remote, c := shallowFixture(t)
	day := func(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }

	full := shallowClone(t, remote)
	if err := full.RequireSince(ctx, c[4], day(1)); err != nil {
		t.Errorf("complete clone, since day 1: %v", err)
	}
	if err := full.RequireRange(ctx, c[4], c[0]); err != nil {
		t.Errorf("complete clone, range: %v", err)
	}

	// --depth 2 holds days 4 and 5; day 4's parent is missing.
	two := shallowClone(t, remote, "--depth", "2")
	if edges, err := two.ShallowCommits(); err != nil || len(edges) != 1 || edges[0] != c[3] {
		t.Fatalf("ShallowCommits = %v, %v; want [%s]", edges, err, c[3])
	}
	wantShallow(t, "depth 2, since day 3", two.RequireSince(ctx, c[4], day(3)))
	err := two.RequireSince(ctx, c[4], day(4).Add(12*time.Hour))
	if err != nil {
		t.Errorf("depth 2, since day 4 noon (after the edge): %v", err)
	}
	if err := two.RequireRange(ctx, c[4], c[3]); err != nil {
		t.Errorf("depth 2, range day4..day5: %v", err)
	}
	wantShallow(t, "depth 2, base day 1 not fetched", two.RequireRange(ctx, c[4], c[0]))

	// The base is here (fetched on its own, shallow too) but the history
	// between it and the head is not: day 5's parent is missing.
	one := shallowClone(t, remote, "--depth", "1")
	gittest.Git(t, one.Root, "fetch", "--quiet", "--depth", "1", "origin", "tag", "day2")
	err = one.RequireRange(ctx, c[4], c[1])
	wantShallow(t, "depth 1 plus the base", err)
	if want := "this clone is shallow and its history does not reach the base " + ShortHash(c[1]); err == nil || len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
		t.Errorf("message %q", err)
	}

	// After --unshallow everything is there.
	gittest.Git(t, one.Root, "fetch", "--quiet", "--unshallow", "origin")
	if err := one.RequireRange(ctx, c[4], c[1]); err != nil {
		t.Errorf("after unshallow: %v", err)
	}
	if err := one.RequireSince(ctx, c[4], day(1)); err != nil {
		t.Errorf("after unshallow, since: %v", err)
	}
}
