// Package policy holds the pure decisions of the change-management policy:
// the four change categories, the Change-Category commit trailer (reading
// it and writing it the way git interpret-trailers does), and inferring the
// lowest category a change may carry from what it changes.
//
// Contract: no git, no network, no clock, no file system. Callers hand in
// bytes (a commit message) or lazily readable content (Change.Old/New) and
// get values back. Nothing here panics on any input; ParseMessage and
// AppendTrailer keep every byte of the message they are given.
package policy

import (
	"fmt"
	"strings"
)

// Category is a change category of the policy. The zero value Unknown means
// "no category" (absent or invalid trailer).
type Category int

const (
	Unknown   Category = iota
	Standard           // pre-approved: dependency updates, documentation
	Normal             // new features, schema migrations
	Major              // new service, new trust boundary, new data category
	Emergency          // deployed first, documented within 24h
)

// TrailerKey is the git trailer that carries a commit's category.
const TrailerKey = "Change-Category"

var categoryNames = [...]string{Unknown: "unknown", Standard: "standard", Normal: "normal", Major: "major", Emergency: "emergency"}

// String returns the lowercase name, as written in trailers.
func (c Category) String() string {
	if c < 0 || int(c) >= len(categoryNames) {
		return fmt.Sprintf("category(%d)", int(c))
	}
	return categoryNames[c]
}

// ParseCategory reads a category name, ignoring case and surrounding white
// space. "unknown" is not a category one can write.
func ParseCategory(s string) (Category, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for c := Standard; c <= Emergency; c++ {
		if t == categoryNames[c] {
			return c, nil
		}
	}
	return Unknown, fmt.Errorf("unknown change category %q (want standard, normal, major or emergency)", s)
}

// MarshalText writes the lowercase name (for JSON reports and configuration).
func (c Category) MarshalText() ([]byte, error) {
	if c < Standard || c > Emergency {
		return nil, fmt.Errorf("cannot marshal %s", c)
	}
	return []byte(c.String()), nil
}

// UnmarshalText reads a name with ParseCategory.
func (c *Category) UnmarshalText(b []byte) error {
	v, err := ParseCategory(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Rank orders the categories inference can produce: standard (1) < normal
// (2) < major (3). Emergency stands apart and, like Unknown, ranks 0.
func (c Category) Rank() int {
	switch c {
	case Standard:
		return 1
	case Normal:
		return 2
	case Major:
		return 3
	}
	return 0
}

// Understates reports whether an explicit category claims less than the
// inferred one, which the policy refuses. Emergency stands apart: an
// explicit emergency never understates (it has its own, after-the-fact
// authorisation), and an inferred emergency or Unknown (which Infer never
// returns) is never understated. An explicit Unknown understates any
// inferred category.
func Understates(explicit, inferred Category) bool {
	if explicit == Emergency || inferred.Rank() == 0 {
		return false
	}
	return explicit.Rank() < inferred.Rank()
}
