package evidence

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// MaxSince bounds --since: ten years is more than any retention period,
// and it keeps every period representable.
const MaxSince = 10 * 366 * 24 * time.Hour

// ParseSince parses a period length: a Go duration ("24h", "90m",
// "1h30m") or whole numbers with the units w (weeks), d (days), h, m and s,
// combinable ("7d", "2w", "1d12h"). It must be positive and at most
// MaxSince.
func ParseSince(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty period length (write it like \"24h\" or \"7d\")")
	}
	var d time.Duration
	if !strings.ContainsAny(s, "dw") {
		v, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("invalid period length %q (write it like \"24h\" or \"7d\")", s)
		}
		d = v
	} else {
		v, err := parseUnits(s)
		if err != nil {
			return 0, err
		}
		d = v
	}
	if d <= 0 {
		return 0, fmt.Errorf("invalid period length %q: must be positive", s)
	}
	if d > MaxSince {
		return 0, fmt.Errorf("invalid period length %q: at most ten years", s)
	}
	return d, nil
}

var unitLengths = map[byte]time.Duration{
	'w': 7 * 24 * time.Hour,
	'd': 24 * time.Hour,
	'h': time.Hour,
	'm': time.Minute,
	's': time.Second,
}

func parseUnits(s string) (time.Duration, error) {
	bad := func() error {
		return fmt.Errorf("invalid period length %q (write whole numbers with w, d, h, m or s, like \"7d\" or \"1d12h\")", s)
	}
	var total time.Duration
	i := 0
	for i < len(s) {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if start == i || i == len(s) {
			return 0, bad()
		}
		unit, ok := unitLengths[s[i]]
		if !ok {
			return 0, bad()
		}
		// Digits beyond what fits are too long anyway.
		if i-start > 12 {
			return 0, fmt.Errorf("invalid period length %q: at most ten years", s)
		}
		var n int64
		for _, c := range s[start:i] {
			n = n*10 + int64(c-'0')
		}
		if n > int64(math.MaxInt64/unit) || total > math.MaxInt64-time.Duration(n)*unit {
			return 0, fmt.Errorf("invalid period length %q: at most ten years", s)
		}
		total += time.Duration(n) * unit
		i++
	}
	return total, nil
}
