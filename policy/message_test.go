package policy

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestTrailers(t *testing.T) {
	for _, tc := range []struct {
		name, msg string
		want      []Trailer
	}{
		{"none", "feat: x\n\nbody\n", nil},
		{"subject only", "Change-Category: normal\n", nil}, // the title is never a trailer
		{"simple", "feat: x\n\nbody\n\nChange-Category: normal\nSigned-off-by: A <a@b>\n",
			[]Trailer{{"Change-Category", "normal", 5}, {"Signed-off-by", "A <a@b>", 6}}},
		{"no body", "feat: x\n\nReviewed-by: B\n", []Trailer{{"Reviewed-by", "B", 3}}},
		{"spaces around separator", "x\n\nKey :  value  \n", []Trailer{{"Key", "value", 3}}},
		{"continuation", "x\n\nKey: a\n  b\n\tc\nOther: d\n", []Trailer{{"Key", "a b c", 3}, {"Other", "d", 6}}},
		{"not all trailers", "x\n\nKey: a\nplain text\n", nil},
		{"25% rule with Signed-off-by", "x\n\nplain\nplain\nplain\nSigned-off-by: A\n",
			[]Trailer{{"Signed-off-by", "A", 6}}},
		{"below 25%", "x\n\nplain\nplain\nplain\nplain\nSigned-off-by: A\n", nil},
		{"cherry-pick line counts", "x\n\n(cherry picked from commit abc)\nKey: v\nplain\n",
			[]Trailer{{"Key", "v", 4}}},
		{"comments skipped", "x\n\nKey: v\n# comment\nOther: w\n\n# Please enter\n#\n",
			[]Trailer{{"Key", "v", 3}, {"Other", "w", 5}}},
		{"scissors", "x\n\nKey: v\n# ------------------------ >8 ------------------------\nA: b\n",
			[]Trailer{{"Key", "v", 3}}},
		{"divider", "x\n\nKey: v\n---\nA: b\n", []Trailer{{"Key", "v", 3}}},
		{"four dashes are no divider", "x\n\nKey: v\n----\n", nil},
		{"crlf", "x\r\n\r\nKey: v\r\nOther: w\r\n", []Trailer{{"Key", "v", 3}, {"Other", "w", 4}}},
		{"no final newline", "x\n\nKey: v", []Trailer{{"Key", "v", 3}}},
		{"last paragraph only", "x\n\nA: b\n\nbody\n", nil},
		{"url is no trailer key", "x\n\nsee https://example.com\n", nil},
		{"empty value", "x\n\nKey:\n", []Trailer{{"Key", "", 3}}},
		{"not utf-8", "x\n\nKey: \xff\xfe\n", []Trailer{{"Key", "\xff\xfe", 3}}},
		{"empty", "", nil},
	} {
		got := ParseMessage([]byte(tc.msg), "#").Trailers()
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: Trailers() = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestMessageCategory(t *testing.T) {
	for _, tc := range []struct {
		msg     string
		want    Category
		ok      bool
		wantErr string
	}{
		{"feat: x\n", Unknown, false, ""},
		{"feat: x\n\nChange-Category: major\n", Major, true, ""},
		{"feat: x\n\nchange-category:  Emergency \n", Emergency, true, ""},
		{"feat: x\n\nChange-Category: normal\nChange-Category: standard\n", Standard, true, ""},
		{"feat: x\n\nChange-Category: minor\n", Unknown, true, `line 3: Change-Category trailer: unknown change category "minor" (want standard, normal, major or emergency)`},
		{"feat: x\n\nChange-Category: normal\n\nmore text\n", Unknown, false, ""}, // not the last paragraph
		{"Change-Category: normal\n", Unknown, false, ""},                         // a subject is not a trailer
	} {
		c, ok, err := ParseMessage([]byte(tc.msg), "").Category()
		if c != tc.want || ok != tc.ok {
			t.Errorf("%q: Category() = %v, %v", tc.msg, c, ok)
		}
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
			t.Errorf("%q: error %v, want %q", tc.msg, err, tc.wantErr)
		}
	}
}

func TestSubjectIsEmptyIsExempt(t *testing.T) {
	for _, tc := range []struct {
		msg, subject string
		empty        bool
	}{
		{"feat: x\n\nbody\n", "feat: x", false},
		{"\n\n  feat: x  \r\n", "  feat: x", false}, // leading blank lines go, indentation stays (as in git)
		{"# comment\nfixup! feat: x\n", "fixup! feat: x", false},
		{"", "", true},
		{"\n \n\t\n", "", true},
		{"\n# Please enter the commit message\n#\n", "", true},
		{"# ------------------------ >8 ------------------------\ndiff --git a/x b/x\n", "", true},
		{"\n# c\n# ------------------------ >8 ------------------------\nreal text below\n", "", true},
		{"subj", "subj", false},
	} {
		m := ParseMessage([]byte(tc.msg), "#")
		if got := m.Subject(); got != tc.subject {
			t.Errorf("%q: Subject() = %q, want %q", tc.msg, got, tc.subject)
		}
		if got := m.IsEmpty(); got != tc.empty {
			t.Errorf("%q: IsEmpty() = %v", tc.msg, got)
		}
	}
	for s, want := range map[string]bool{
		"fixup! feat: x": true, "squash! feat: x": true, "amend! feat: x": true,
		"fixup!feat": false, "Fixup! x": false, "feat: fixup! x": false, "": false, "fixup! ": true,
	} {
		if IsExempt(s) != want {
			t.Errorf("IsExempt(%q) != %v", s, want)
		}
	}
	// A custom comment character.
	m := ParseMessage([]byte("; note\nfeat: x\n# not a comment\n\nA: b\n; c\n"), ";")
	if m.Subject() != "feat: x" || len(m.Trailers()) != 1 {
		t.Errorf("';' comments: %q %v", m.Subject(), m.Trailers())
	}
}

func TestCommentCharAuto(t *testing.T) {
	for _, tc := range []struct{ msg, want string }{
		{"feat: x\n", "#"},                                     // no comments: first unused
		{"# heading\nfeat\n", ";"},                             // '#' starts a line: git takes ';'
		{"feat\n# md\n\n; Please enter the message\n;\n", ";"}, // git's block after user text
		{"feat\n\n# Please enter the commit message\n#\n", "#"},
		{"feat\n\n!important\n", "#"}, // '!' line without a space is not git's comment
		{"feat\n\n; ------------------------ >8 ------------------------\ndiff\n# x\n", ";"},
		{"#a\n;b\n@c\n!d\n$e\n%f\n^g\n&h\n|i\n:j\n", "#"}, // all taken: git would refuse
	} {
		if got := ParseMessage([]byte(tc.msg), "auto").CommentChar(); got != tc.want {
			t.Errorf("auto on %q = %q, want %q", tc.msg, got, tc.want)
		}
	}
	if got := ParseMessage(nil, "").CommentChar(); got != "#" {
		t.Errorf("default comment char %q", got)
	}
	if got := ParseMessage(nil, "//").CommentChar(); got != "//" {
		t.Errorf("string comment char %q", got)
	}
}

// Exact outputs of AppendTrailer; "git" marks outputs byte-identical to
// git 2.39 interpret-trailers (checked by running it), the others are the
// documented differences.
func TestAppendTrailer(t *testing.T) {
	for _, tc := range []struct {
		name, cc, in, want string
		git                bool
	}{
		{"subject", "#", "feat: x\n", "feat: x\n\nChange-Category: normal\n", true},
		{"body", "#", "feat: x\n\nbody\n", "feat: x\n\nbody\n\nChange-Category: normal\n", true},
		{"join block", "#", "feat: x\n\nSigned-off-by: A <a@b>\n", "feat: x\n\nSigned-off-by: A <a@b>\nChange-Category: normal\n", true},
		{"before comments", "#", "feat: x\n\n# Please enter\n#\n", "feat: x\n\nChange-Category: normal\n\n# Please enter\n#\n", true},
		{"block then comments", "#", "feat: x\n\nA: b\n\n# c\n", "feat: x\n\nA: b\nChange-Category: normal\n\n# c\n", true},
		{"before scissors", "#", "feat: x\n# ------------------------ >8 ------------------------\n--- a/f\n", "feat: x\n\nChange-Category: normal\n# ------------------------ >8 ------------------------\n--- a/f\n", true},
		{"other comment char", ";", "feat: x\n\n; ------------------------ >8 ------------------------\nA: b\n", "feat: x\n\nChange-Category: normal\n\n; ------------------------ >8 ------------------------\nA: b\n", true},
		{"before divider", "#", "feat: x\n\nbody\n---\nnotes\n", "feat: x\n\nbody\n\nChange-Category: normal\n---\nnotes\n", true},
		{"already there", "#", "feat: x\n\nchange-category: NORMAL\n", "feat: x\n\nchange-category: NORMAL\n", true},
		{"other value", "#", "feat: x\n\nChange-Category: major\n", "feat: x\n\nChange-Category: major\nChange-Category: normal\n", true},
		{"empty", "#", "", "\nChange-Category: normal\n", true},
		{"not utf-8", "#", "feat: \xff\xfe\n\n\xc3\x28\n", "feat: \xff\xfe\n\n\xc3\x28\n\nChange-Category: normal\n", true},
		{"continuation kept", "#", "x\n\nKey: a\n  b\n", "x\n\nKey: a\n  b\nChange-Category: normal\n", true},
		// Differences from git, each with git's output in the comment.
		// git: "feat: x\nChange-Category: normal\n" (in the title)
		{"no final newline", "#", "feat: x", "feat: x\n\nChange-Category: normal\n", false},
		// git: "x\n\nbody\nChange-Category: normal\n" (not a trailer)
		{"body without final newline", "#", "x\n\nbody", "x\n\nbody\n\nChange-Category: normal\n", false},
		// git: "x\r\n\r\nA: b\nChange-Category: normal\n" (block reprinted with LF)
		{"crlf block", "#", "x\r\n\r\nA: b\r\n", "x\r\n\r\nA: b\r\nChange-Category: normal\r\n", false},
		// git: "x\r\n\r\nbody\r\n\nChange-Category: normal\n"
		{"crlf", "#", "x\r\n\r\nbody\r\n", "x\r\n\r\nbody\r\n\r\nChange-Category: normal\r\n", false},
		// git: "x\n\nKey: v\nChange-Category: normal\n" (reprinted)
		{"block not normalised", "#", "x\n\nKey :v\n", "x\n\nKey :v\nChange-Category: normal\n", false},
		// git: "x\n\nbody\n---\nChange-Category: normal\n" (after the divider: unreadable)
		{"final divider", "#", "x\n\nbody\n---", "x\n\nbody\n\nChange-Category: normal\n---\n", false},
	} {
		got := AppendTrailer([]byte(tc.in), "Change-Category", "normal", tc.cc)
		if string(got) != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
		if c, ok, err := ParseMessage(got, tc.cc).Category(); c != Normal || !ok || err != nil {
			t.Errorf("%s: not read back: %v %v %v", tc.name, c, ok, err)
		}
		gitOut := gitTrailers(t, tc.cc, [][]byte{[]byte(tc.in)}, "--trailer", ccLine)[0]
		if same := string(gitOut) == tc.want; same != tc.git {
			t.Errorf("%s: identical to git = %v, want %v (git: %q)", tc.name, same, tc.git, gitOut)
		}
	}
	// Trimming and line breaks in the value.
	got := AppendTrailer([]byte("x\n"), " Key ", " a\nb ", "#")
	if string(got) != "x\n\nKey: a b\n" {
		t.Errorf("value with newline: %q", got)
	}
}

func TestAppendTrailerLarge(t *testing.T) {
	msg := largeMessage(1 << 20)
	out := AppendTrailer(msg, ccKey, ccValue, "#")
	if !bytes.HasPrefix(out, msg) || string(out[len(msg):]) != "\nChange-Category: normal\n" {
		t.Fatalf("1 MB message: unexpected tail %q", out[len(msg)-20:])
	}
	if c, _, _ := ParseMessage(out, "#").Category(); c != Normal {
		t.Fatal("trailer of a 1 MB message not read back")
	}
	// One 1 MB line, no newline at all.
	line := bytes.Repeat([]byte("a"), 1<<20)
	out = AppendTrailer(line, ccKey, ccValue, "#")
	if !bytes.HasPrefix(out, line) || string(out[len(line):]) != "\n\nChange-Category: normal\n" {
		t.Fatal("1 MB single line")
	}
}

// largeMessage is a realistic message of about n bytes: a subject and
// paragraphs of wrapped text.
func largeMessage(n int) []byte {
	var b strings.Builder
	b.WriteString("feat: a very large change\n\n")
	for b.Len() < n {
		b.WriteString("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod\n")
		if b.Len()%1000 < 80 {
			b.WriteString("\n")
		}
	}
	return []byte(b.String())
}

func BenchmarkAppendTrailer1MB(b *testing.B) {
	msg := largeMessage(1 << 20)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		AppendTrailer(msg, ccKey, ccValue, "#")
	}
}

func BenchmarkParseMessage(b *testing.B) {
	msg := []byte("feat(api): add the thing\n\nA body that explains why.\n\nSigned-off-by: A <a@example.com>\n\n# Please enter the commit message\n#\n")
	b.ReportAllocs()
	for b.Loop() {
		ParseMessage(msg, "#").Category()
	}
}
