package evidence

import (
	"fmt"
	"strings"
	"time"
)

// Period is the time a document covers: (From, To], both UTC, whole
// seconds.
type Period struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Contains reports whether t falls in (From, To].
func (p Period) Contains(t time.Time) bool {
	return t.After(p.From) && !t.After(p.To)
}

// NewPeriod is the period of length since ending at now, in UTC and whole
// seconds: the end is now rounded up to the second, so whatever happened
// up to now (in the second now falls in too) is inside.
func NewPeriod(now time.Time, since time.Duration) Period {
	to := ceilSecond(now)
	return Period{From: to.Add(-since), To: to}
}

func ceilSecond(t time.Time) time.Time {
	t = t.UTC()
	s := t.Truncate(time.Second)
	if s.Before(t) {
		s = s.Add(time.Second)
	}
	return s
}

// dateLayout is a calendar date; as a period bound it means midnight UTC
// at the start of that day.
const dateLayout = "2006-01-02"

// ParsePeriod resolves --since and --until at now.
//
// until is empty (the period ends now, rounded up to the second), an RFC
// 3339 instant or a date (midnight UTC at its start). since is a length
// (ParseSince: "24h", "7d"), which counts back from the end, or an instant
// or date, the start. So `--since 2026-11-30 --until 2026-12-01` is the
// whole of 30 November UTC and `--since 7d --until 2026-12-07` the week
// before 7 December.
//
// A fixed period must have ended: an end after now is refused, because
// the document of a period still running would change when collected
// again. Bounds carry whole seconds; the start must be before the end
// and the period at most MaxSince long.
func ParsePeriod(since, until string, now time.Time) (Period, error) {
	end := ceilSecond(now)
	if strings.TrimSpace(until) != "" {
		t, err := parseInstant(until)
		if err != nil {
			return Period{}, fmt.Errorf("--until: %w", err)
		}
		if t.After(now) {
			return Period{}, fmt.Errorf("--until %s is in the future: only a period that has ended can be collected (its document would change)", t.Format(time.RFC3339))
		}
		end = t
	}
	var start time.Time
	if looksLikeInstant(since) {
		t, err := parseInstant(since)
		if err != nil {
			return Period{}, fmt.Errorf("--since: %w", err)
		}
		start = t
	} else {
		d, err := ParseSince(since)
		if err != nil {
			return Period{}, fmt.Errorf("--since: %w", err)
		}
		start = end.Add(-d)
	}
	if !start.Before(end) {
		return Period{}, fmt.Errorf("--since %s is not before the end of the period %s", start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	if end.Sub(start) > MaxSince {
		return Period{}, fmt.Errorf("the period %s..%s is longer than ten years", start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	return Period{From: start, To: end}, nil
}

// looksLikeInstant tells a date or RFC 3339 instant ("2026-11-30",
// "2026-11-30T00:00:00Z") from a length ("7d"): only the former starts
// with four digits and a hyphen.
func looksLikeInstant(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) < 5 || s[4] != '-' {
		return false
	}
	for _, c := range s[:4] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseInstant reads a date (midnight UTC) or an RFC 3339 instant with an
// explicit offset, in whole seconds.
func parseInstant(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(dateLayout, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date (2026-11-30), an RFC 3339 instant (2026-11-30T00:00:00Z) or a length (24h, 7d)", s)
	}
	if t.Nanosecond() != 0 {
		return time.Time{}, fmt.Errorf("%q has a fraction of a second: periods are in whole seconds", s)
	}
	return t.UTC(), nil
}

// DayPeriod is the UTC day of now so far: (midnight, now rounded up to the
// second]. A deploy publishes it, so the day's deployments document grows
// with each deploy, each version under its own name.
func DayPeriod(now time.Time) Period {
	to := ceilSecond(now)
	from := now.UTC().Truncate(24 * time.Hour)
	if !from.Before(to) {
		from = from.Add(-24 * time.Hour) // exactly midnight: the day that just ended
	}
	return Period{From: from, To: to}
}
