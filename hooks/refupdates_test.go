package hooks

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/guardcm/guard/policy"
)

const (
	shaA = "1111111111111111111111111111111111111111"
	shaB = "2222222222222222222222222222222222222222"
)

func TestParseRefUpdates(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []RefUpdate
	}{
		{"empty", "", nil},
		{"blank lines only", "\n \n\t\r\n", nil},
		{"one", "refs/heads/main " + shaA + " refs/heads/main " + shaB + "\n",
			[]RefUpdate{{"refs/heads/main", shaA, "refs/heads/main", shaB}}},
		{"no final newline", "refs/heads/a " + shaA + " refs/heads/b " + zeroSHA,
			[]RefUpdate{{"refs/heads/a", shaA, "refs/heads/b", zeroSHA}}},
		{"crlf and blank lines", "\r\nrefs/heads/a " + shaA + " refs/heads/a " + zeroSHA + "\r\n\r\n(delete) " + zeroSHA + " refs/heads/old " + shaB + "\r\n",
			[]RefUpdate{{"refs/heads/a", shaA, "refs/heads/a", zeroSHA}, {"(delete)", zeroSHA, "refs/heads/old", shaB}}},
		{"tabs and repeated spaces", "refs/tags/v1\t" + shaA + "  refs/tags/v1 \t" + zeroSHA + "  \n",
			[]RefUpdate{{"refs/tags/v1", shaA, "refs/tags/v1", zeroSHA}}},
		{"sha-256", "HEAD " + strings.Repeat("a", 64) + " refs/heads/x " + strings.Repeat("0", 64) + "\n",
			[]RefUpdate{{"HEAD", strings.Repeat("a", 64), "refs/heads/x", strings.Repeat("0", 64)}}},
	} {
		got, err := ParseRefUpdates([]byte(tc.in))
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: ParseRefUpdates = %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}

	for _, tc := range []struct {
		name, in string
		line     int
	}{
		{"three fields", "refs/heads/a " + shaA + " refs/heads/a\n", 1},
		{"five fields", "refs/heads/a " + shaA + " refs/heads/a " + shaB + " extra\n", 1},
		{"one field", "garbage\n", 1},
		{"bad third line", "refs/heads/a " + shaA + " refs/heads/a " + shaB + "\n\nrefs/heads/b " + shaA + "\n", 3},
		{"after crlf lines", "refs/heads/a " + shaA + " refs/heads/a " + shaB + "\r\nx y z\r\n", 2},
	} {
		got, err := ParseRefUpdates([]byte(tc.in))
		if err == nil {
			t.Errorf("%s: ParseRefUpdates = %+v, want an error", tc.name, got)
			continue
		}
		if want := fmt.Sprintf("pre-push input line %d: want 4 fields, got ", tc.line); !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: error %q, want it to start %q", tc.name, err, want)
		}
		if strings.Contains(err.Error(), "\r") {
			t.Errorf("%s: error %q quotes a carriage return", tc.name, err)
		}
	}

	// A line longer than the scanner allows is an error, not a silent cut.
	long := "refs/heads/" + strings.Repeat("x", 2<<20) + " " + shaA + " refs/heads/a " + shaB + "\n"
	if _, err := ParseRefUpdates([]byte(long)); err == nil {
		t.Error("a 2 MiB line parsed without an error")
	}
}

func formatRefUpdates(us []RefUpdate) []byte {
	var b bytes.Buffer
	for _, u := range us {
		fmt.Fprintf(&b, "%s %s %s %s\n", u.LocalRef, u.LocalSHA, u.RemoteRef, u.RemoteSHA)
	}
	return b.Bytes()
}

// FuzzParseRefUpdates: any input parses or fails without a panic; what
// parses has four non-empty fields without white space per update, and
// prints back to input that parses the same.
func FuzzParseRefUpdates(f *testing.F) {
	f.Add([]byte("refs/heads/main " + shaA + " refs/heads/main " + shaB + "\n"))
	f.Add([]byte("\r\n(delete) " + zeroSHA + " refs/heads/x " + shaA + "\r\n\n"))
	f.Add([]byte("a b c\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		us, err := ParseRefUpdates(in)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "pre-push input line ") && !strings.Contains(err.Error(), "too long") {
				t.Fatalf("error %q does not name the line", err)
			}
			return
		}
		for _, u := range us {
			for _, f := range []string{u.LocalRef, u.LocalSHA, u.RemoteRef, u.RemoteSHA} {
				if f == "" || strings.ContainsAny(f, " \t\r\n") {
					t.Fatalf("field %q of %+v", f, u)
				}
			}
		}
		again, err := ParseRefUpdates(formatRefUpdates(us))
		if err != nil || !reflect.DeepEqual(again, us) {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, us)
		}
	})
}

func TestWhy(t *testing.T) {
	r := func(p, why string) policy.Reason { return policy.Reason{Path: p, Category: policy.Normal, Why: why} }
	for _, tc := range []struct {
		reasons []policy.Reason
		want    string
	}{
		{nil, "no changed paths"},
		{[]policy.Reason{r("a.ts", "why a")}, "a.ts: why a"},
		{[]policy.Reason{r("a", "1"), r("b", "2"), r("c", "3")}, "a: 1; b: 2; c: 3"},
		{[]policy.Reason{r("a", "1"), r("b", "2"), r("c", "3"), r("d", "4")}, "a: 1; b: 2; c: 3; and 1 more"},
		{[]policy.Reason{r("a", "1"), r("b", "2"), r("c", "3"), r("d", "4"), r("e", "5"), r("f", "6")}, "a: 1; b: 2; c: 3; and 3 more"},
	} {
		if got := Why(policy.Inference{Category: policy.Normal, Reasons: tc.reasons}); got != tc.want {
			t.Errorf("Why(%d reasons) = %q, want %q", len(tc.reasons), got, tc.want)
		}
	}
}
