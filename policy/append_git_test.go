package policy

import (
	"bytes"
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

const (
	ccKey   = "Change-Category"
	ccValue = "normal"
	ccLine  = "Change-Category: normal"
)

// The comment block git commit writes into the editor, and the verbose
// (-v) diff below a scissors line.
const (
	templateComments = "\n# Please enter the commit message for your changes. Lines starting\n" +
		"# with '#' will be ignored, and an empty message aborts the commit.\n#\n" +
		"# On branch main\n# Changes to be committed:\n#\tmodified:   wrangler.toml\n#\n"
	verboseTail = "# ------------------------ >8 ------------------------\n" +
		"# Do not modify or remove the line above.\n# Everything below it will be ignored.\n" +
		"diff --git a/wrangler.toml b/wrangler.toml\nindex 1111111..2222222 100644\n" +
		"--- a/wrangler.toml\n+++ b/wrangler.toml\n@@ -1 +1,2 @@\n name = \"w\"\n+[ai]\n"
)

func withEOL(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] != '\n' {
		return append(append([]byte(nil), b...), '\n')
	}
	return b
}

// toCRLF turns every bare LF into CRLF.
func toCRLF(b []byte) []byte {
	var out []byte
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// checkInsertion verifies property (a): out is orig with exactly one
// insertion, made of an optional line ending (when the line before lacks
// one), an optional blank line and the trailer line, the line endings
// being eol. It returns the insertion offset.
func checkInsertion(t *testing.T, name, cc string, orig, out []byte, line, eol string) {
	t.Helper()
	if bytes.Equal(orig, out) {
		// Only allowed when the block already ends with this trailer.
		ts := ParseMessage(orig, cc).Trailers()
		if len(ts) == 0 || !strings.EqualFold(ts[len(ts)-1].Key+": "+ts[len(ts)-1].Value, line) {
			t.Errorf("%s: nothing appended: %q", name, orig)
		}
		return
	}
	if (bytes.HasSuffix(orig, []byte("\n---")) || string(orig) == "---") && !bytes.HasSuffix(out, []byte("\n---")) {
		// A final "---" that is the first divider is ended, with the line
		// ending of the line before it, and the trailer goes before it.
		end := "\n"
		if j := bytes.LastIndexByte(orig, '\n'); j > 0 && orig[j-1] == '\r' {
			end = "\r\n"
		}
		orig = append(append([]byte(nil), orig...), end...)
		if !bytes.HasSuffix(out, orig[len(orig)-len(end)-3:]) {
			t.Errorf("%s: final --- not ended: %q", name, out)
		}
	}
	for _, add := range []string{line + eol, eol + line + eol, eol + eol + line + eol} {
		if len(out) != len(orig)+len(add) {
			continue
		}
		for i := 0; i <= len(orig); i++ {
			if bytes.Equal(out[:i], orig[:i]) && string(out[i:i+len(add)]) == add && bytes.Equal(out[i+len(add):], orig[i:]) {
				unterminated := i > 0 && orig[i-1] != '\n'
				if add == eol+eol+line+eol && !unterminated {
					continue // two line endings only when the first ends a line
				}
				return
			}
			if i < len(orig) && out[i] != orig[i] {
				break
			}
		}
	}
	t.Errorf("%s: output is not the input plus one trailer line (eol %q):\n in: %q\nout: %q", name, eol, orig, out)
}

// precedingEOL is the line ending of the last complete line before the
// first difference between orig and out, else of orig's first line.
func precedingEOL(orig, out []byte) string {
	i := 0
	for i < len(orig) && i < len(out) && orig[i] == out[i] {
		i++
	}
	j := bytes.LastIndexByte(orig[:i], '\n')
	if j < 0 {
		j = bytes.IndexByte(orig, '\n')
	}
	if j > 0 && orig[j-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

type gitCase struct {
	name string
	msg  []byte
}

// gitReprint is how git prints a trailer block back (trailer.c
// print_all): each trailer as "token: value" with token and value trimmed,
// continuation lines kept inside the value, other lines as they are, comment
// lines dropped, every item ending in LF.
func gitReprint(block []byte, cc string) []byte {
	var items [][]byte
	last := -1
	for _, l := range splitLines(block) {
		if last >= 0 && isSpace(l[0]) {
			items[last] = append(items[last], l...)
			continue
		}
		items = append(items, append([]byte(nil), l...))
		last = -1
		if findSeparator(l) >= 1 {
			last = len(items) - 1
		}
	}
	var out []byte
	for _, it := range items {
		if bytes.HasPrefix(it, []byte(cc)) {
			continue
		}
		if sep := findSeparator(it); sep >= 1 {
			out = fmt.Appendf(out, "%s: %s\n", trimSpace(string(it[:sep])), trimSpace(string(it[sep+1:])))
			continue
		}
		out = append(out, bytes.TrimSuffix(it, []byte("\n"))...)
		out = append(out, '\n')
	}
	return out
}

// compareWithGit appends the trailer to every case with guard and with git
// and sorts each result into: identical to git; different only because git
// reprints the existing trailer block (git's output is guard's with the
// block, trailer included, reprinted by git's rules); or the message lacks
// a final newline and git's own trailer lands where git cannot read it.
// Anything else fails.
func compareWithGit(t *testing.T, cc string, cases []gitCase) (identical, reformatted, unterminated int) {
	t.Helper()
	var inputs, ours [][]byte
	for _, c := range cases {
		inputs = append(inputs, c.msg)
		ours = append(ours, appendTrailer(c.msg, ccKey, ccValue, cc, "\n"))
	}
	want := gitTrailers(t, cc, inputs, "--trailer", ccLine)
	var diff []int
	for i := range cases {
		if bytes.Equal(ours[i], want[i]) {
			identical++
		} else {
			diff = append(diff, i)
		}
	}
	var gitOwn [][]byte
	for _, i := range diff {
		gitOwn = append(gitOwn, want[i])
	}
	parsed := gitTrailers(t, cc, gitOwn, "--parse")
	shown := 0
	for k, i := range diff {
		c := cases[i]
		m := ParseMessage(c.msg, cc)
		grown := len(ours[i]) - len(c.msg)
		reprinted := ours[i]
		if m.blockStart < m.blockEnd {
			region := ours[i][m.blockStart : m.blockEnd+grown]
			reprinted = append(append(append([]byte(nil), ours[i][:m.blockStart]...), gitReprint(region, cc)...), ours[i][m.blockEnd+grown:]...)
		}
		switch {
		case bytes.Equal(reprinted, want[i]):
			reformatted++
			if shown < 3 && testing.Verbose() {
				shown++
				t.Logf("%s: git reprints the trailer block:\n git: %q\nours: %q", c.name, want[i], ours[i])
			}
		case len(c.msg) > 0 && c.msg[len(c.msg)-1] != '\n' && !bytes.Contains(parsed[k], []byte(ccLine)):
			unterminated++
		default:
			t.Errorf("%s: guard and git differ:\n  in: %q\n git: %q\nours: %q", c.name, c.msg, want[i], ours[i])
		}
	}
	return
}

func TestAppendTrailerCorpusAgainstGit(t *testing.T) {
	msgs := readCommitCorpus(t)
	var cases []gitCase
	var hangers []gitCase
	for _, m := range msgs {
		name := m.file + " " + m.sha[:12]
		editor := append(withEOL(m.msg), templateComments...)
		verbose := append(append([]byte(nil), editor...), verboseTail...)
		for _, c := range []gitCase{
			{name, m.msg},
			{name + " (editor comments)", editor},
			{name + " (crlf)", toCRLF(m.msg)},
		} {
			cases = append(cases, c)
		}
		vc := gitCase{name + " (verbose)", verbose}
		if gitWouldHang(verbose, "#") {
			hangers = append(hangers, vc)
		} else {
			cases = append(cases, vc)
		}
	}

	for _, c := range append(cases, hangers...) {
		out := AppendTrailer(c.msg, ccKey, ccValue, "#")
		// (a) every original byte, in order, plus one trailer line.
		eol := precedingEOL(c.msg, out)
		checkInsertion(t, c.name, "#", c.msg, out, ccLine, eol)
		if eol == "\n" && !bytes.Equal(out, appendTrailer(c.msg, ccKey, ccValue, "#", "\n")) {
			t.Errorf("%s: AppendTrailer and the LF variant differ", c.name)
		}
		// (b) the trailer reads back, after the ones that were there.
		before := ParseMessage(c.msg, "#").Trailers()
		after := ParseMessage(out, "#").Trailers()
		if len(after) == 0 || after[len(after)-1].Key != ccKey || after[len(after)-1].Value != ccValue {
			t.Errorf("%s: appended trailer not read back: %+v\n%q", c.name, after, out)
			continue
		}
		if len(before) > 0 && len(after) > 0 && !bytes.Equal(out, c.msg) {
			for i, tr := range before {
				if i >= len(after) || after[i].Key != tr.Key || after[i].Value != tr.Value {
					t.Errorf("%s: existing trailers changed: %+v -> %+v", c.name, before, after)
					break
				}
			}
		}
		if c, ok, err := ParseMessage(out, "#").Category(); !ok || err != nil || c != Normal {
			t.Errorf("Category() after append = %v %v %v", c, ok, err)
		}
	}

	// (c) git itself.
	identical, reformatted, unterminated := compareWithGit(t, "#", cases)
	t.Logf("%d messages and variants: %d identical to git, %d differ only by git reprinting the trailer block, %d lack a final newline (git's trailer unreadable); %d verbose variants skipped (git 2.39 loops on them)",
		len(cases), identical, reformatted, unterminated, len(hangers))
	if identical < len(cases)*8/10 {
		t.Errorf("only %d of %d identical to git", identical, len(cases))
	}
	// The skipped ones: the trailer goes before the divider, as git puts it
	// when there is no scissors line.
	for _, c := range hangers {
		out := AppendTrailer(c.msg, ccKey, ccValue, "#")
		div := bytes.Index(out, []byte("\n---"))
		if at := bytes.Index(out, []byte(ccLine)); at < 0 || at > div {
			t.Errorf("%s: trailer not before the --- divider", c.name)
		}
	}
}

// linePool builds messages that exercise git's trailer rules.
var linePool = []string{
	"subject", "feat: add thing", "", "", "", "body text here", "Another body line.",
	"Key: value", "Reviewed-by: A <a@example.com>", "Signed-off-by: A <a@example.com>",
	"(cherry picked from commit 0123456789abcdef)", "  continued value", "\tcontinued with tab",
	"# a comment", "#", "; semicolon comment", "Conflicts:", "\tpath/to/file", "---", "--- a/file",
	"----", "---x", "Bug #12", "Key : spaced", "Key:tight", "   ", " \t", "Change-Category: normal",
	"CHANGE-category:   Normal  ", "change-category: major", "-: dash token", "a-b-c: d", "http://x.y: z",
	"Key", "Key:", "Co-authored-by: B <b@example.com>", "Fixes: #3", "\xff\xfe: not utf8",
	"Ünïcode: value", "x: y: z", ": empty token", "Multi word: nope",
}

func randomMessage(r *rand.Rand, cc string) []byte {
	var b strings.Builder
	n := 1 + r.Intn(9)
	crlf := r.Intn(5) == 0
	for i := 0; i < n; i++ {
		l := linePool[r.Intn(len(linePool))]
		if cc != "#" {
			l = strings.Replace(l, "#", cc, 1)
		}
		b.WriteString(l)
		if crlf && r.Intn(4) != 0 {
			b.WriteString("\r")
		}
		b.WriteString("\n")
	}
	switch r.Intn(6) {
	case 0:
		b.WriteString(strings.ReplaceAll(templateComments, "#", cc))
	case 1:
		b.WriteString(strings.ReplaceAll(templateComments, "#", cc) + strings.ReplaceAll(verboseTail, "# ", cc+" "))
	case 2:
		s := strings.TrimSuffix(b.String(), "\n")
		b.Reset()
		b.WriteString(s)
	}
	return []byte(b.String())
}

// TestAgainstGitGenerated compares the parser and the writer with git on
// generated messages built from lines that hit every rule (continuations,
// the 25% rule, comments, dividers, scissors, CRLF, bytes that are not
// UTF-8), for the default comment character and another one.
func TestAgainstGitGenerated(t *testing.T) {
	for _, cc := range []string{"#", ";"} {
		r := rand.New(rand.NewSource(int64(cc[0])))
		var cases []gitCase
		for len(cases) < 1000 {
			msg := randomMessage(r, cc)
			if gitWouldHang(msg, cc) {
				continue
			}
			cases = append(cases, gitCase{fmt.Sprintf("cc %q #%d", cc, len(cases)), msg})
		}

		// Parsing: git interpret-trailers --parse prints the trailers.
		var inputs [][]byte
		for _, c := range cases {
			inputs = append(inputs, c.msg)
		}
		parsed := gitTrailers(t, cc, inputs, "--parse")
		for i, c := range cases {
			var ours strings.Builder
			for _, tr := range ParseMessage(c.msg, cc).Trailers() {
				ours.WriteString(tr.Key + ": " + tr.Value + "\n")
			}
			if ours.String() != string(parsed[i]) {
				t.Errorf("%s: Trailers() differ from git --parse\n  in: %q\n git: %q\nours: %q", c.name, c.msg, parsed[i], ours.String())
			}
		}

		identical, reformatted, unterminated := compareWithGit(t, cc, cases)
		t.Logf("comment %q: %d generated messages: %d identical, %d git-reprinted block, %d without final newline", cc, len(cases), identical, reformatted, unterminated)
		for _, c := range cases {
			out := AppendTrailer(c.msg, ccKey, ccValue, cc)
			checkInsertion(t, c.name, cc, c.msg, out, ccLine, precedingEOL(c.msg, out))
			if cat, ok, err := ParseMessage(out, cc).Category(); !ok || err != nil || cat != Normal {
				t.Errorf("%s: trailer not read back (%v %v %v): %q", c.name, cat, ok, err, out)
			}
		}
	}
}
