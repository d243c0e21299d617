package deploy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gittest"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/lease"
	"github.com/guardcm/guard/ledger"
	"github.com/guardcm/guard/rollout"
)

// leasedRollout is a rollout harness whose deployer holds the team lease
// of "api" on a real bare remote, its renewals reading a clock the holds
// move (now). other is a second clone of the same remote.
type leasedRollout struct {
	*rolloutHarness
	team  *TeamLock
	other *gitx.Repo
	now   time.Time
}

func newLeasedRollout(t *testing.T, holds []time.Duration) *leasedRollout {
	t.Helper()
	gitEnv(t)
	l := &leasedRollout{rolloutHarness: newRolloutHarness(t, []float64{0, 10, 100}, holds), now: time.Now()}
	dir, remote := cloneWithRemote(t)
	l.other = openRepo(t, gittest.Clone(t, remote))
	l.d.cfg.Deploy.TeamLockTTL.Duration = 30 * time.Minute
	team, st, err := LockTeam(context.Background(), openRepo(t, dir), l.d.cfg, "api", false, l.d.voice)
	if err != nil || st.State != "held" {
		t.Fatalf("team lock: %+v %v", st, err)
	}
	team.now = func() time.Time { return l.now }
	l.team, l.d.team = team, team
	l.d.o.Sleep = func(ctx context.Context, d time.Duration) error {
		l.now = l.now.Add(d)
		return ctx.Err()
	}
	return l
}

func (l *leasedRollout) holder(t *testing.T) lease.Holder {
	t.Helper()
	h, _, ok, err := lease.Read(context.Background(), l.other, "origin", "api")
	if err != nil || !ok {
		t.Fatalf("reading the lease: %v %v", ok, err)
	}
	return h
}

// A rollout that holds four times as long as the lease keeps it: its
// holds renew it, so nobody can break it while the rollout runs.
func TestHoldRenewsTheTeamLease(t *testing.T) {
	l := newLeasedRollout(t, []time.Duration{0, 2 * time.Hour, 0})
	first := l.holder(t)
	if err := l.d.runRollout(context.Background(), l.drv, l.st); err != nil {
		t.Fatalf("rollout: %v\n%s", err, l.stderr)
	}
	if got := l.serving(t); got != l.newV+"@100" {
		t.Fatalf("serving %s", got)
	}
	h := l.holder(t)
	if h.ID != first.ID || !h.Expires.After(l.now.Add(15*time.Minute)) {
		t.Fatalf("after a 2h hold (clock %s) the lease is %+v (first %+v)", l.now.UTC(), h, first)
	}
	if _, err := lease.Break(context.Background(), l.other, "origin", lease.NewHolder("api", "bob@example.com", l.now, time.Hour), l.now); err == nil {
		t.Fatal("the renewed lease was broken")
	}
	l.team.Release(l.d.voice)
	if _, _, ok, _ := lease.Read(context.Background(), l.other, "origin", "api"); ok {
		t.Fatal("the renewed lease was not released")
	}
}

// A lease taken over during a hold (it expired while the remote was out
// of reach, then someone broke it) stops the rollout where it is: no
// return to the old version under someone else's lease, exit 1, the
// record pending at its step, and the other lease left alone.
func TestLostTeamLeaseStopsTheRollout(t *testing.T) {
	l := newLeasedRollout(t, []time.Duration{0, 2 * time.Hour, 0})
	var theirs *lease.Lease
	sleep := l.d.o.Sleep
	l.d.o.Sleep = func(ctx context.Context, d time.Duration) error {
		if theirs == nil {
			var err error
			later := l.now.Add(time.Hour)
			if theirs, err = lease.Break(ctx, l.other, "origin", lease.NewHolder("api", "bob@example.com", later, time.Hour), later); err != nil {
				t.Errorf("break: %v", err)
			}
		}
		return sleep(ctx, d)
	}
	err := l.d.runRollout(context.Background(), l.drv, l.st)
	if fail.KindOf(err) != fail.KindRefused || !strings.Contains(err.Error(), "stopped at") || !strings.Contains(err.Error(), "bob@example.com") {
		t.Fatalf("err = %v\n%s", err, l.stderr)
	}
	if got := l.serving(t); got != l.newV+"@10 "+l.oldV+"@90" {
		t.Fatalf("serving %s", got)
	}
	rec := l.last(t)
	if rec.Status != ledger.StatusPending || rec.Rollout.Step != 1 || rec.Rollout.Phase != rollout.PhaseHolding {
		t.Fatalf("record = %+v %+v", rec, rec.Rollout)
	}
	l.team.Release(l.d.voice)
	if h := l.holder(t); theirs == nil || h.ID != theirs.Holder.ID {
		t.Fatalf("their lease after ours stopped: %+v", h)
	}
}
