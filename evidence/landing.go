package evidence

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/records"
)

// Which first-parent commits of the branch a period lists.
//
// git records no push time, only the committer date, which is whatever the
// committer's clock (or will) said. Selecting a period's commits with
// `git log --since` trusts it twice over: git stops its walk at the first
// commit dated before the period, so one commit backdated to 2020 pushed
// on top of the branch hid every commit of the period under it, and a
// commit dated next year waited for next year's document. So the whole
// first-parent line is read, oldest first, and a commit counts at its
// date only when that date keeps the line in order: not earlier than the
// commits under it (give or take records.ClockSkew, for drifting clocks)
// and not later than now. A commit whose date breaks the order counts when
// the next in-order commit above it does — it cannot have landed later —
// or now when none has come yet; the document lists it in that period and
// says why (RuleDateOutOfOrder).

// RuleDateOutOfOrder marks a first-parent commit whose committer date does
// not fit where it sits on the branch.
const RuleDateOutOfOrder = "commit-date-out-of-order"

// landing is one first-parent commit and the time it counts at.
type landing struct {
	hash  string
	dated time.Time // its committer date
	at    time.Time // when it counts: dated, unless disorder says why not
	// disorder says why dated was not believed, "" when it was.
	disorder string
}

// firstParentLandings reads tip's first-parent line, oldest first, with
// the time each commit counts at (see above). The times never decrease
// along the line, so a period's commits are one run of it.
func firstParentLandings(ctx context.Context, repo *gitx.Repo, tip string, now time.Time) ([]landing, error) {
	out, err := repo.Git(ctx, "log", "--first-parent", "--format=%H %cI", tip, "--")
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	ls := make([]landing, 0, len(lines))
	for i := len(lines) - 1; i >= 0; i-- {
		hash, date, ok := strings.Cut(lines[i], " ")
		if !ok {
			continue
		}
		t, err := parseGitTime(date)
		if err != nil {
			return nil, fmt.Errorf("commit %s: %w", gitx.ShortHash(hash), err)
		}
		ls = append(ls, landing{hash: hash, dated: t.UTC()})
	}
	var latest time.Time // the newest in-order date so far
	var latestHash string
	for i := range ls {
		l := &ls[i]
		switch {
		case l.dated.After(now.Add(records.ClockSkew)):
			l.disorder = fmt.Sprintf("dated %s, later than the time this document was made (%s)", l.dated.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		case !latest.IsZero() && l.dated.Before(latest.Add(-records.ClockSkew)):
			l.disorder = fmt.Sprintf("dated %s, before %s (dated %s) which it sits on", l.dated.Format(time.RFC3339), gitx.ShortHash(latestHash), latest.Format(time.RFC3339))
		default:
			if l.dated.After(latest) {
				latest, latestHash = l.dated, l.hash
			}
		}
	}
	next := now.UTC()
	for i := len(ls) - 1; i >= 0; i-- {
		l := &ls[i]
		if l.disorder != "" {
			l.at = next
			continue
		}
		l.at = l.dated
		if l.at.Before(next) {
			next = l.at
		}
	}
	return ls, nil
}

// inPeriod returns the run of ls that counts in p, oldest first.
func inPeriod(ls []landing, p Period) []landing {
	var out []landing
	for _, l := range ls {
		if p.Contains(l.at) {
			out = append(out, l)
		}
	}
	return out
}

// lastAtOrBefore is the newest commit of ls that counts at or before t:
// the branch as it stood at the end of a period. "" when none does.
func lastAtOrBefore(ls []landing, t time.Time) string {
	tip := ""
	for _, l := range ls {
		if !l.at.After(t) {
			tip = l.hash
		}
	}
	return tip
}
