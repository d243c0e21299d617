package lease

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guardcm/guard/internal/gittest"
	"github.com/guardcm/guard/internal/gitx"
)

func clones(t *testing.T, n int) (string, []*gitx.Repo) {
	t.Helper()
	gittest.Isolate(t, gittest.Options{})
	remote, _ := gittest.Remote(t, "init", "README.md", "hi\n")
	var repos []*gitx.Repo
	for range n {
		repos = append(repos, gittest.Open(t, gitx.Open, gittest.Clone(t, remote)))
	}
	return remote, repos
}

func TestAcquireIsExclusiveAcrossClones(t *testing.T) {
	ctx := context.Background()
	remote, repos := clones(t, 2)
	now := time.Now()
	a, err := Acquire(ctx, repos[0], "origin", NewHolder("api", "ada@example.com", now, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if out := gittest.Git(t, remote, "for-each-ref", "--format=%(refname)", RefPrefix); out != Ref("api") {
		t.Fatalf("remote refs = %q", out)
	}
	_, err = Acquire(ctx, repos[1], "origin", NewHolder("api", "bob@example.com", now, time.Hour))
	var he *HeldError
	if !errors.As(err, &he) {
		t.Fatalf("second acquire: %v, want *HeldError", err)
	}
	if he.Holder.Operator != "ada@example.com" || he.Holder.ID != a.Holder.ID || !strings.Contains(he.Error(), "ada@example.com on ") {
		t.Fatalf("holder = %+v (%v)", he.Holder, he)
	}
	// Another worker is free.
	b, err := Acquire(ctx, repos[1], "origin", NewHolder("web", "bob@example.com", now, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatalf("second release: %v", err)
	}
	if _, err := Acquire(ctx, repos[1], "origin", NewHolder("api", "bob@example.com", now, time.Hour)); err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	_ = b.Release(ctx)
}

// race runs take on every clone at once and requires exactly one to win:
// the others get a *HeldError.
func race(t *testing.T, repos []*gitx.Repo, take func(*gitx.Repo) (*Lease, error)) *Lease {
	t.Helper()
	var wg sync.WaitGroup
	leases := make([]*Lease, len(repos))
	errs := make([]error, len(repos))
	for i, r := range repos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			leases[i], errs[i] = take(r)
		}()
	}
	wg.Wait()
	var won []*Lease
	for i, err := range errs {
		var he *HeldError
		switch {
		case err == nil:
			won = append(won, leases[i])
		case errors.As(err, &he):
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if len(won) != 1 {
		t.Fatalf("%d clones hold the lease: %v", len(won), errs)
	}
	return won[0]
}

// Many clones racing for one lease: exactly one wins.
func TestAcquireRace(t *testing.T) {
	_, repos := clones(t, 4)
	race(t, repos, func(r *gitx.Repo) (*Lease, error) {
		return Acquire(context.Background(), r, "origin", NewHolder("api", "x@example.com", time.Now(), time.Hour))
	})
}

func TestBreak(t *testing.T) {
	ctx := context.Background()
	_, repos := clones(t, 2)
	start := time.Now().Add(-2 * time.Hour)
	old := NewHolder("api", "ada@example.com", start, time.Hour)
	old.Host = "ci-runner-7" // not this host: only expiry can break it
	stale, err := Acquire(ctx, repos[0], "origin", old)
	if err != nil {
		t.Fatal(err)
	}
	// Not expired yet at start+30m: refused.
	_, err = Break(ctx, repos[1], "origin", NewHolder("api", "bob@example.com", time.Now(), time.Hour), start.Add(30*time.Minute))
	var he *HeldError
	if !errors.As(err, &he) {
		t.Fatalf("break of a live lease: %v", err)
	}
	l, err := Break(ctx, repos[1], "origin", NewHolder("api", "bob@example.com", time.Now(), time.Hour), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if l.Broken == nil || l.Broken.ID != old.ID {
		t.Fatalf("broken = %+v", l.Broken)
	}
	// The old holder's release leaves the new lease alone.
	if err := stale.Release(ctx); err != nil {
		t.Fatal(err)
	}
	h, _, ok, err := Read(ctx, repos[0], "origin", "api")
	if err != nil || !ok || h.ID != l.Holder.ID {
		t.Fatalf("after the stale release: %+v %v %v", h, ok, err)
	}
	// A lease of a dead process on this host breaks at once.
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	dead := NewHolder("api", "ada@example.com", time.Now(), time.Hour)
	dead.PID = deadPID(t)
	if !dead.DeadHere() {
		t.Fatalf("%+v is not dead here", dead)
	}
	// The same PID in another PID space (a container, another runner of
	// the same host name) tells nothing.
	elsewhere := dead
	elsewhere.Machine = "another-boot/pid:[1]"
	if elsewhere.DeadHere() {
		t.Fatal("a holder of another PID space counted as dead here")
	}
	if _, err := Acquire(ctx, repos[0], "origin", dead); err != nil {
		t.Fatal(err)
	}
	if _, err := Break(ctx, repos[1], "origin", NewHolder("api", "bob@example.com", time.Now(), time.Hour), time.Now()); err != nil {
		t.Fatalf("break of a dead local holder: %v", err)
	}
}

// deadPID is the PID of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	return p.Pid
}

func TestUnreachable(t *testing.T) {
	ctx := context.Background()
	_, repos := clones(t, 1)
	gittest.Git(t, repos[0].Root, "remote", "add", "gone", filepath.Join(t.TempDir(), "missing.git"))
	_, err := Acquire(ctx, repos[0], "gone", NewHolder("api", "", time.Now(), time.Hour))
	var ue *UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("acquire on a missing remote: %v", err)
	}
	if _, err := Acquire(ctx, repos[0], "origin", NewHolder("a/b", "", time.Now(), time.Hour)); err == nil {
		t.Fatal("a worker name with a slash was accepted")
	}
}

// Many clones breaking one expired lease at once: exactly one takes it
// over. (A forced refspec, "+", makes git push ignore the lease's expected
// value, and every breaker would "win" in turn.)
func TestBreakRace(t *testing.T) {
	ctx := context.Background()
	_, repos := clones(t, 4)
	// One round catches the forced refspec about one time in six (git
	// 2.39): a few rounds make a regression hard to miss.
	for range 5 {
		old := NewHolder("api", "ada@example.com", time.Now().Add(-2*time.Hour), time.Hour)
		old.Host = "ci-runner-7"
		if _, err := Acquire(ctx, repos[0], "origin", old); err != nil {
			t.Fatal(err)
		}
		l := race(t, repos, func(r *gitx.Repo) (*Lease, error) {
			return Break(ctx, r, "origin", NewHolder("api", "x@example.com", time.Now(), time.Hour), time.Now())
		})
		if l.Broken == nil || l.Broken.ID != old.ID {
			t.Fatalf("the winner broke %+v, not the expired lease", l.Broken)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRenew(t *testing.T) {
	ctx := context.Background()
	_, repos := clones(t, 2)
	start := time.Now().Add(-50 * time.Minute)
	l, err := Acquire(ctx, repos[0], "origin", NewHolder("api", "ada@example.com", start, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// Renewed at start+50m for another hour: no longer breakable at start+61m.
	if err := l.Renew(ctx, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	h, _, ok, err := Read(ctx, repos[1], "origin", "api")
	if err != nil || !ok || h.ID != l.Holder.ID || !h.Expires.Equal(l.Holder.Expires) || !h.Started.Equal(l.Holder.Started) {
		t.Fatalf("after renew: %+v %v %v (lease %+v)", h, ok, err, l.Holder)
	}
	if _, err := Break(ctx, repos[1], "origin", NewHolder("api", "bob@example.com", time.Now(), time.Hour), start.Add(61*time.Minute)); err == nil {
		t.Fatal("a renewed lease was broken at its first expiry")
	}
	// Broken after its renewed expiry: the next renewal is lost, names the
	// new holder, and neither renew nor release touches the new lease.
	b, err := Break(ctx, repos[1], "origin", NewHolder("api", "bob@example.com", time.Now(), time.Hour), time.Now().Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	err = l.Renew(ctx, time.Now(), time.Hour)
	var lost *LostError
	if !errors.As(err, &lost) || lost.Holder == nil || lost.Holder.ID != b.Holder.ID || !strings.Contains(err.Error(), "bob@example.com") {
		t.Fatalf("renew of a broken lease: %v", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if h, _, ok, err := Read(ctx, repos[0], "origin", "api"); err != nil || !ok || h.ID != b.Holder.ID {
		t.Fatalf("the new holder's lease after the old one's renew and release: %+v %v %v", h, ok, err)
	}
	// Released: lost too, with no holder.
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(ctx, repos[0], "origin", NewHolder("api", "ada@example.com", time.Now(), time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, repos[1].Root, "push", "--quiet", "origin", ":"+Ref("api"))
	if err := l2.Renew(ctx, time.Now(), time.Hour); !errors.As(err, &lost) || lost.Holder != nil {
		t.Fatalf("renew of a deleted lease: %v", err)
	}
}
