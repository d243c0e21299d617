package evidence

import (
	"testing"
	"time"
)

func TestParseSince(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"24h", 24 * time.Hour},
		{"90m", 90 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"7d", 7 * 24 * time.Hour},
		{"2w", 14 * 24 * time.Hour},
		{"1d12h", 36 * time.Hour},
		{" 7d ", 7 * 24 * time.Hour},
		{"1w2d3h4m5s", (9*24+3)*time.Hour + 4*time.Minute + 5*time.Second},
	} {
		got, err := ParseSince(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseSince(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "0h", "-1h", "7", "d", "1.5d", "7days", "1d-2h", "3y", "10000d", "99999999999999999999d", "1d 2h"} {
		if got, err := ParseSince(bad); err == nil {
			t.Errorf("ParseSince(%q) = %v, want an error", bad, got)
		}
	}
}

func FuzzParseSince(f *testing.F) {
	for _, s := range []string{"24h", "7d", "1w2d3h4m5s", "1.5h", "0d", "-3d", "9999999999999w", "1d1d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseSince(s)
		if err != nil {
			return
		}
		if d <= 0 || d > MaxSince {
			t.Fatalf("ParseSince(%q) = %v, outside (0, MaxSince]", s, d)
		}
	})
}
