package policy

import (
	"bytes"
	"strings"
	"testing"
)

var fuzzCommentChars = []string{"#", ";", "auto", "//"}

func FuzzParseMessage(f *testing.F) {
	f.Add([]byte("feat: x\n\nbody\n\nChange-Category: normal\n"), uint8(0))
	f.Fuzz(func(t *testing.T, raw []byte, ccIdx uint8) {
		cc := fuzzCommentChars[int(ccIdx)%len(fuzzCommentChars)]
		orig := bytes.Clone(raw)
		m := ParseMessage(raw, cc)
		if !bytes.Equal(raw, orig) || !bytes.Equal(m.Raw(), orig) {
			t.Fatal("ParseMessage changed its input")
		}
		lines := bytes.Count(raw, []byte("\n")) + 1
		prev := 0
		for _, tr := range m.Trailers() {
			if tr.Line <= prev || tr.Line > lines {
				t.Fatalf("trailer line %d out of order or range (%d lines)", tr.Line, lines)
			}
			prev = tr.Line
			if tr.Key == "" || strings.ContainsAny(tr.Key, ":\n") || strings.Contains(tr.Value, "\n") {
				t.Fatalf("bad trailer %+v", tr)
			}
		}
		s := m.Subject()
		if strings.Contains(s, "\n") || m.IsEmpty() && s != "" {
			t.Fatalf("subject %q, empty %v", s, m.IsEmpty())
		}
		if c, ok, err := m.Category(); (err != nil) != (ok && c == Unknown) || !ok && c != Unknown {
			t.Fatalf("Category() = %v %v %v", c, ok, err)
		}
	})
}

func FuzzAppendTrailer(f *testing.F) {
	f.Add([]byte("feat: x\n"), uint8(0))
	f.Fuzz(func(t *testing.T, raw []byte, ccIdx uint8) {
		cc := fuzzCommentChars[int(ccIdx)%len(fuzzCommentChars)]
		orig := bytes.Clone(raw)
		m := ParseMessage(raw, cc)
		out := AppendTrailer(raw, ccKey, ccValue, cc)
		if !bytes.Equal(raw, orig) {
			t.Fatal("AppendTrailer changed its input")
		}
		// Every input byte, in order.
		i := 0
		for _, c := range out {
			if i < len(orig) && c == orig[i] {
				i++
			}
		}
		if i != len(orig) {
			t.Fatalf("input bytes lost:\n in %q\nout %q", orig, out)
		}
		if extra := len(out) - len(orig); extra != 0 && (extra < len(ccLine)+1 || extra > len(ccLine)+8) {
			t.Fatalf("inserted %d bytes:\n in %q\nout %q", extra, orig, out)
		}
		// The trailer reads back, with the comment character the input had.
		if c, ok, err := ParseMessage(out, m.CommentChar()).Category(); !ok || err != nil || c != Normal {
			t.Fatalf("trailer not read back (%v %v %v):\n in %q\nout %q", c, ok, err, orig, out)
		}
	})
}
