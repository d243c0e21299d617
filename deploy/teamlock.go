package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/lease"
	"github.com/guardcm/guard/ledger"
)

// TeamLockState is what a deploy's record says about the team lock.
type TeamLockState struct {
	// State is "held", "off" or "unavailable: <why>".
	State string
	// Broke describes the expired lease --break-lock replaced, or "".
	Broke string
}

// TeamLock is a held team-wide lease, or nothing (off, or unavailable
// under best-effort); Release is safe on either.
type TeamLock struct {
	lease   *lease.Lease
	timeout time.Duration
	ttl     time.Duration
	// now is the clock renewals read (tests move it); nil is time.Now.
	now func() time.Time
}

// LockTeam takes worker's lease on the configured remote as [deploy]
// team_lock says: "off" takes nothing; "best-effort" (the default) warns
// and goes on when the remote cannot be reached (the local lock still
// holds); "required" fails then. A lease someone else holds is a refusal
// naming the holder, in every mode but off — unless its holder is a
// process of this machine that died (kill -9), whose lease is taken over
// like the local lock. breakLock replaces a lease that has expired.
// guard rollback and progressive deploys take it too.
func LockTeam(ctx context.Context, repo *gitx.Repo, cfg *config.Config, worker string, breakLock bool, voice report.Voice) (*TeamLock, TeamLockState, error) {
	if cfg.Deploy.TeamLock == config.TeamLockOff {
		return &TeamLock{}, TeamLockState{State: "off"}, nil
	}
	timeout := cfg.Deploy.FetchTimeout.Duration
	if timeout <= 0 {
		timeout = ledger.DefaultNotesTimeout
	}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	operator, _, _ := repo.ConfigValue(ctx, "user.email")
	now := time.Now()
	h := lease.NewHolder(worker, operator, now, cfg.Deploy.TeamLockTTL.Duration)
	var l *lease.Lease
	var err error
	if breakLock {
		l, err = lease.Break(lctx, repo, cfg.Remote, h, now)
	} else {
		l, err = lease.Acquire(lctx, repo, cfg.Remote, h)
	}
	var held *lease.HeldError
	var unreachable *lease.UnreachableError
	if errors.As(err, &held) && held.Holder.DeadHere() {
		// Its holder died on this machine (kill -9, a crash): like the
		// local lock, which the kernel released, the lease is taken over,
		// and the record says whose it was.
		l, err = lease.Break(lctx, repo, cfg.Remote, h, now)
	}
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return nil, TeamLockState{}, ctx.Err()
	case errors.As(err, &held):
		hint := fmt.Sprintf("wait for that deploy to finish (its lease on %s expires at %s)", cfg.Remote, held.Holder.Expires.UTC().Format(time.RFC3339))
		if held.Holder.Expired(now) {
			hint = fmt.Sprintf("its lease expired at %s: the same command with --break-lock takes it over, and the deploy's record says so", held.Holder.Expires.UTC().Format(time.RFC3339))
		} else if breakLock {
			hint = "--break-lock only takes over an expired lease; " + hint
		}
		return nil, TeamLockState{}, fail.Refused(err, hint)
	case errors.As(err, &unreachable):
		if cfg.Deploy.TeamLock == config.TeamLockRequired {
			return nil, TeamLockState{}, fail.External(err, fmt.Sprintf("[deploy] team_lock = \"required\": deploy when %s answers, or set team_lock = \"best-effort\"", cfg.Remote))
		}
		voice.Warn("team lock not taken, only this clone's lock holds: %v", err)
		return &TeamLock{}, TeamLockState{State: "unavailable: " + err.Error()}, nil
	default:
		return nil, TeamLockState{}, fail.External(err)
	}
	st := TeamLockState{State: "held"}
	if l.Broken != nil {
		st.Broke = l.Broken.String()
		if l.Broken.DeadHere() {
			voice.Warn("took over the team lock of %s from a deploy that died on this machine: %s", worker, st.Broke)
		} else {
			voice.Warn("broke the expired team lock of %s: %s", worker, st.Broke)
		}
	}
	return &TeamLock{lease: l, timeout: timeout, ttl: cfg.Deploy.TeamLockTTL.Duration}, st, nil
}

// RenewEvery is how often a long wait should call Renew: a third of the
// lease's time, so a renewal that misses once (remote briefly down) still
// comes before the expiry. 0 when no lease is held.
func (t *TeamLock) RenewEvery() time.Duration {
	if t == nil || t.lease == nil || t.ttl <= 0 {
		return 0
	}
	return t.ttl / 3
}

// Renew keeps a held lease alive through a long wait (a gradual deploy's
// holds): once half its time has passed it is extended to a full
// team_lock_ttl from now. A lease someone took over in the meantime (it
// expired and was broken) is a refusal: another deploy may be running,
// so the caller must stop changing production. A remote that does not
// answer is a warning; the next call tries again before the expiry.
func (t *TeamLock) Renew(ctx context.Context, voice report.Voice) error {
	if t == nil || t.lease == nil || t.ttl <= 0 {
		return nil
	}
	now := time.Now()
	if t.now != nil {
		now = t.now()
	}
	if t.lease.Holder.Expires.Sub(now) > t.ttl/2 {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	err := t.lease.Renew(rctx, now, t.ttl)
	var lost *lease.LostError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &lost):
		t.lease = nil // someone else's now: never released by this deploy
		return fail.Refused(err, "another deploy may be changing this worker: see guard history, and raise [deploy] team_lock_ttl if holds outlast it while the remote is unreachable")
	case ctx.Err() != nil:
		return ctx.Err()
	default:
		voice.Warn("the team lock was not renewed (it expires at %s; retried before then): %v", t.lease.Holder.Expires.UTC().Format(time.RFC3339), err)
		return nil
	}
}

// Release gives the lease back; a failure is a warning (the lease
// expires by itself).
func (t *TeamLock) Release(voice report.Voice) {
	if t == nil || t.lease == nil {
		return
	}
	// The deploy's own context may be cancelled (Ctrl-C): the release
	// still gets its bounded time.
	ctx, cancel := context.WithTimeout(context.Background(), t.timeout)
	defer cancel()
	if err := t.lease.Release(ctx); err != nil {
		voice.Warn("%v", err)
	}
}
