package deploy

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzMessage: whatever the subject, the message fits Cloudflare's
// annotation, keeps guard's marker whole at its end, and is valid UTF-8
// when the subject is.
func FuzzMessage(f *testing.F) {
	f.Add("Add login rate limit", "normal")
	f.Add("", "redeploy")
	f.Add(strings.Repeat("ü", 600), "emergency")
	f.Add("tabs\tand\nnewlines\r\n", "standard")
	f.Fuzz(func(t *testing.T, subject, category string) {
		if category == "" || len(category) > 20 || strings.Trim(category, "abcdefghijklmnopqrstuvwxyz") != "" {
			return // categories are policy names
		}
		const sha = "0123456789abcdef0123456789abcdef01234567"
		m := Message(subject, sha, category)
		marker := "[guard 0123456789ab " + category + "]"
		if !strings.HasSuffix(m, marker) {
			t.Fatalf("marker lost: %q", m)
		}
		if len(m) > MaxMessageBytes {
			t.Fatalf("%d bytes", len(m))
		}
		if utf8.ValidString(subject) && !utf8.ValidString(m) {
			t.Fatalf("invalid UTF-8 from a valid subject: %q", m)
		}
		if strings.ContainsAny(strings.TrimSuffix(m, marker), "\n\r\t") {
			t.Fatalf("control white space kept: %q", m)
		}
	})
}
