package evidence

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/gittest"
)

func TestParsePeriod(t *testing.T) {
	now := time.Date(2026, 12, 2, 15, 4, 5, 500, time.UTC)
	day := func(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		since, until string
		from, to     time.Time
	}{
		{"24h", "", time.Date(2026, 12, 1, 15, 4, 6, 0, time.UTC), time.Date(2026, 12, 2, 15, 4, 6, 0, time.UTC)},
		{"2026-11-30", "2026-12-01", day(30), day(30).Add(24 * time.Hour)},
		{"7d", "2026-11-30", day(23), day(30)},
		{"2026-11-29T12:00:00+01:00", "2026-11-30T00:00:00Z", time.Date(2026, 11, 29, 11, 0, 0, 0, time.UTC), day(30)},
		{"2026-11-01", "", day(1), time.Date(2026, 12, 2, 15, 4, 6, 0, time.UTC)},
		{" 1d ", " 2026-12-02T15:04:05Z ", time.Date(2026, 12, 1, 15, 4, 5, 0, time.UTC), time.Date(2026, 12, 2, 15, 4, 5, 0, time.UTC)},
	} {
		p, err := ParsePeriod(tc.since, tc.until, now)
		if err != nil || !p.From.Equal(tc.from) || !p.To.Equal(tc.to) || p.From.Location() != time.UTC {
			t.Errorf("ParsePeriod(%q, %q) = %v..%v, %v; want %v..%v", tc.since, tc.until, p.From, p.To, err, tc.from, tc.to)
		}
	}
	for _, tc := range []struct{ since, until, want string }{
		{"24h", "2026-12-03", "in the future"},
		{"24h", "2026-12-02T15:04:06Z", "in the future"},
		{"2026-12-01", "2026-11-30", "not before the end"},
		{"2026-11-30", "2026-11-30", "not before the end"},
		{"2026-11-30T00:00:00.5Z", "2026-12-01", "fraction of a second"},
		{"2026-13-01", "2026-12-01", "is not a date"},
		{"2026-11-30T00:00:00", "2026-12-01", "is not a date"},
		{"24h", "yesterday", "is not a date"},
		{"7days", "", "invalid period length"},
		{"2000-01-01", "2026-12-01", "longer than ten years"},
	} {
		if _, err := ParsePeriod(tc.since, tc.until, now); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParsePeriod(%q, %q) = %v, want an error with %q", tc.since, tc.until, err, tc.want)
		}
	}
}

// A past period collected again after more history landed — later merges,
// a record committed after the period — gives the same bytes.
func TestMergeActivityPastPeriodReproduced(t *testing.T) {
	work, h := mergeFixture(t)
	repo := openRepo(t, work)
	collect := func() []byte {
		t.Helper()
		doc, err := MergeActivity(context.Background(), MergeOptions{Repo: repo, Config: config.Defaults(), Period: mergePeriod, Generator: "guard test", Fetch: true})
		if err != nil {
			t.Fatal(err)
		}
		data, err := Encode(doc)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	first := collect()
	// Later history: the overdue record documented, another merge.
	gittest.CommitAt(t, work, "2026-11-29T08:00:00Z", "Document the CVE rollback (#17)\n\nChange-Category: standard",
		"docs/changes/emergency/2026-11-27-0800-rollback-api-1a2b3c4d.md",
		"---\ncategory: emergency\ncontrol: A.8.32\nopened: 2026-11-27T08:00:00Z\ndue: 2026-11-28T08:00:00Z\nworker: api\ncommit: "+h["cve"]+"\n---\n\n## Summary\n\nRolled back.\n")
	gittest.CommitAt(t, work, "2026-11-30T08:00:00Z", "More (#18)\n\nChange-Category: standard", "docs/more.md", "more\n")
	gittest.Git(t, work, "push", "--quiet", "origin", "main")
	if again := collect(); string(again) != string(first) {
		t.Fatalf("the past period's document changed:\n%s", lineDiff(string(first), string(again)))
	}
	if !strings.Contains(string(first), `"as_of": "2026-11-28T09:00:00Z"`) || !strings.Contains(string(first), h["notrailer"]) {
		t.Errorf("document:\n%s", first)
	}
}

// Whatever --since and --until say, an accepted period is UTC, in whole
// seconds, not empty, at most MaxSince long, and never ends after now.
func FuzzParsePeriod(f *testing.F) {
	for _, s := range [][2]string{{"24h", ""}, {"7d", "2026-11-30"}, {"2026-11-30", "2026-12-01"}, {"2026-11-29T12:00:00+01:00", "2026-11-30T00:00:00Z"},
		{"2026-11-30T00:00:00.5Z", ""}, {"0001-01-01", "0001-01-02"}, {"9999-12-31", ""}, {"1d", "2026-13-01"}} {
		f.Add(s[0], s[1])
	}
	now := time.Date(2026, 12, 2, 15, 4, 5, 500, time.UTC)
	f.Fuzz(func(t *testing.T, since, until string) {
		p, err := ParsePeriod(since, until, now)
		if err != nil {
			return
		}
		if p.From.Location() != time.UTC || p.To.Location() != time.UTC || p.From.Nanosecond() != 0 || p.To.Nanosecond() != 0 {
			t.Fatalf("%q %q: %v..%v not whole UTC seconds", since, until, p.From, p.To)
		}
		if !p.From.Before(p.To) || p.To.Sub(p.From) > MaxSince || p.To.After(ceilSecond(now)) {
			t.Fatalf("%q %q: bad period %v..%v", since, until, p.From, p.To)
		}
	})
}
