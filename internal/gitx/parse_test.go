package gitx

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestParseStatusV2(t *testing.T) {
	const h = "100644 100644 100644 0123456789012345678901234567890123456789 0123456789012345678901234567890123456789"
	in := strings.Join([]string{
		"# branch.oid 0123456789012345678901234567890123456789",
		"# branch.head main",
		"1 .M N... " + h + " path with  two  spaces.txt",
		"1 A. N... 000000 100644 100644 0000000000000000000000000000000000000000 0123456789012345678901234567890123456789 ünï 日本.txt",
		"2 R. N... " + h + " R100 new name.txt", "old name.txt",
		"2 C. N... " + h + " C75 copy", "1 looks like an entry",
		"u UU N... 100644 100644 100644 100644 0123456789012345678901234567890123456789 0123456789012345678901234567890123456789 0123456789012345678901234567890123456789 conflict.txt",
		"1 .M SC.U 160000 160000 160000 " + "0123456789012345678901234567890123456789 0123456789012345678901234567890123456789 vendor/lib",
		"? untracked file",
		"? ? odd",
		"! ignored.log",
		"",
	}, "\x00")
	got, err := parseStatusV2([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Status{
		{Code: ".M", Submodule: "N...", Path: "path with  two  spaces.txt"},
		{Code: "A.", Submodule: "N...", Path: "ünï 日本.txt"},
		{Code: "R.", Submodule: "N...", Path: "new name.txt", Orig: "old name.txt"},
		{Code: "C.", Submodule: "N...", Path: "copy", Orig: "1 looks like an entry"},
		{Code: "u", Submodule: "N...", Path: "conflict.txt"},
		{Code: ".M", Submodule: "SC.U", Path: "vendor/lib"},
		{Code: "??", Path: "untracked file"},
		{Code: "??", Path: "? odd"},
		{Code: "!!", Path: "ignored.log"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseStatusV2:\n got %#v\nwant %#v", got, want)
	}
	if got, err := parseStatusV2(nil); err != nil || got != nil {
		t.Errorf("empty status = %v, %v", got, err)
	}
	for _, bad := range []string{
		"1 .M N... 100644",               // too few fields
		"2 R. N... " + h + " R100 new",   // rename without its origin field
		"2 R. N... 100644 R100 new\x00o", // too few fields
		"u UU N... 100644 conflict.txt",  // too few fields
		"X something",                    // unknown entry kind
		"\x00\x00garbage",
	} {
		if got, err := parseStatusV2([]byte(bad)); err == nil {
			t.Errorf("parseStatusV2(%q) = %v, want an error", bad, got)
		} else if !strings.HasPrefix(err.Error(), "git status: ") {
			t.Errorf("parseStatusV2(%q): error %q does not name git status", bad, err)
		}
	}
}

func TestParseNameStatusZ(t *testing.T) {
	in := "M\x00a.txt\x00R100\x00old name\x00new name\x00C075\x00src\x00dst\x00D\x00gone\x00T\x00link\x00A\x00R100 looks like status\x00"
	got, err := parseNameStatusZ([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []FileChange{
		{'M', "a.txt", "a.txt"},
		{'R', "new name", "old name"},
		{'C', "dst", "src"},
		{'D', "gone", "gone"},
		{'T', "link", "link"},
		{'A', "R100 looks like status", "R100 looks like status"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseNameStatusZ:\n got %+v\nwant %+v", got, want)
	}
	if got, err := parseNameStatusZ(nil); err != nil || got != nil {
		t.Errorf("empty diff = %v, %v", got, err)
	}
	for _, bad := range []string{"M", "R100\x00old", "C\x00x", "m\x00lower.txt\x00", "\x1e\x00x\x00"} {
		if got, err := parseNameStatusZ([]byte(bad)); err == nil {
			t.Errorf("parseNameStatusZ(%q) = %+v, want an error", bad, got)
		}
	}
}

// logRecord is one commit as `git log -z --name-status --format=...` (the
// format Log asks for) prints it.
func logRecord(hash string, parents []string, email, msg string, changes ...string) string {
	var b strings.Builder
	b.WriteString(recordMark + strings.Join(append([]string{hash}, parents...), " ") + "\n")
	b.WriteString(email + "\n2025-01-02T03:04:05+00:00\n2025-01-02T03:04:06+00:00\n" + msg + "\x00")
	if len(changes) > 0 {
		b.WriteString("\n" + strings.Join(changes, "\x00") + "\x00")
	}
	return b.String()
}

func TestParseLog(t *testing.T) {
	const (
		h1 = "1111111111111111111111111111111111111111"
		h2 = "2222222222222222222222222222222222222222"
		h3 = "3333333333333333333333333333333333333333"
		h4 = "4444444444444444444444444444444444444444"
	)
	out := logRecord(h1, nil, "a@x", "root\n", "A", "a.txt", "A", "b c.txt") +
		logRecord(h2, []string{h1}, "we\x1fird@x", "forged \n"+recordMark+h4+" \nx@y\n\n\nChange-Category: standard\n", "R093", "a.txt", "\x1eguard-commit\x1f name", "M", "b c.txt") +
		logRecord(h3, []string{h2, h4}, "m@x", "Merge\r\n", "M", "merged.txt") +
		logRecord(h4, []string{h3}, "e@x", "")
	got, err := parseLog([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := []Commit{
		{Hash: h1, Parents: []string{}, AuthorEmail: "a@x", Message: []byte("root\n"), Subject: "root",
			Changes: []FileChange{{'A', "a.txt", "a.txt"}, {'A', "b c.txt", "b c.txt"}}},
		{Hash: h2, Parents: []string{h1}, AuthorEmail: "we\x1fird@x", Subject: "forged " + recordMark + h4 + " x@y",
			Message: []byte("forged \n" + recordMark + h4 + " \nx@y\n\n\nChange-Category: standard\n"),
			Changes: []FileChange{{'R', "\x1eguard-commit\x1f name", "a.txt"}, {'M', "b c.txt", "b c.txt"}}},
		{Hash: h3, Parents: []string{h2, h4}, AuthorEmail: "m@x", Message: []byte("Merge\r\n"), Subject: "Merge"},
		{Hash: h4, Parents: []string{h3}, AuthorEmail: "e@x", Message: []byte{}, Subject: ""},
	}
	for i := range want {
		want[i].AuthorTime = "2025-01-02T03:04:05+00:00"
		want[i].CommitTime = "2025-01-02T03:04:06+00:00"
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseLog:\n got %+v\nwant %+v", got, want)
	}
	if got, err := parseLog(nil); err != nil || got != nil {
		t.Errorf("empty log = %v, %v", got, err)
	}
	for _, bad := range []string{
		"A\x00a.txt\x00", // changes before any commit
		recordMark + h1 + "\na@x\nonly three lines",      // short header
		recordMark + "\na@x\nt\nt\nmsg\x00",              // no hash
		logRecord(h1, nil, "a@x", "m") + "\nR100\x00",    // truncated rename
		logRecord(h1, nil, "a@x", "m", "weird", "x.txt"), // not a status
	} {
		if got, err := parseLog([]byte(bad)); err == nil {
			t.Errorf("parseLog(%q) = %+v, want an error", bad, got)
		}
	}
}

func TestSubject(t *testing.T) {
	for in, want := range map[string]string{
		"":                                  "",
		"one line":                          "one line",
		"one line\n":                        "one line",
		"wrapped\nsubject\n\nbody":          "wrapped subject",
		"crlf\r\nwrapped\r\n\r\nbody\r\n":   "crlf wrapped",
		"\n\n  \t\nafter blanks\n\nbody":    "after blanks",
		"  spaced \t out  \n \nbody":        "spaced out",
		"ctl \x1b[1mbold\x1b[0m\x01":        "ctl \x1b[1mbold\x1b[0m\x01",
		"caf\xe9\n\nbody":                   "caf\xe9",
		"fixup! feat: x\n\nChange-Category": "fixup! feat: x",
	} {
		if got := subject([]byte(in)); got != want {
			t.Errorf("subject(%q) = %q, want %q", in, got, want)
		}
	}
}

// formatStatusV2 prints statuses as porcelain v2 -z does, with placeholder
// modes and hashes (the parser keeps neither).
func formatStatusV2(st []Status) []byte {
	const h = "100644 100644 100644 0000000000000000000000000000000000000000 0000000000000000000000000000000000000000"
	var b bytes.Buffer
	for _, s := range st {
		plain := s.Submodule == "" && s.Orig == ""
		switch {
		case s.Orig != "":
			b.WriteString("2 " + s.Code + " " + s.Submodule + " " + h + " R100 " + s.Path + "\x00" + s.Orig)
		case s.Code == "??" && plain:
			b.WriteString("? " + s.Path)
		case s.Code == "!!" && plain:
			b.WriteString("! " + s.Path)
		case s.Code == "u":
			b.WriteString("u UU " + s.Submodule + " 100644 100644 100644 100644 0 0 0 " + s.Path)
		default:
			b.WriteString("1 " + s.Code + " " + s.Submodule + " " + h + " " + s.Path)
		}
		b.WriteByte(0)
	}
	return b.Bytes()
}

func formatNameStatusZ(fcs []FileChange) []byte {
	var b bytes.Buffer
	for _, fc := range fcs {
		b.WriteByte(fc.Kind)
		b.WriteByte(0)
		if fc.Kind == 'R' || fc.Kind == 'C' {
			b.WriteString(fc.OldPath)
			b.WriteByte(0)
		}
		b.WriteString(fc.Path)
		b.WriteByte(0)
	}
	return b.Bytes()
}

func formatLog(cs []Commit) []byte {
	var b bytes.Buffer
	for _, c := range cs {
		b.WriteString(recordMark + strings.Join(append([]string{c.Hash}, c.Parents...), " ") + "\n")
		b.WriteString(c.AuthorEmail + "\n" + c.AuthorTime + "\n" + c.CommitTime + "\n")
		b.Write(c.Message)
		b.WriteByte(0)
		if len(c.Changes) > 0 {
			b.WriteByte('\n')
			b.Write(formatNameStatusZ(c.Changes))
		}
	}
	return b.Bytes()
}

func TestParsersRoundTrip(t *testing.T) {
	st := []Status{
		{Code: ".M", Submodule: "N...", Path: "a b"},
		{Code: "R.", Submodule: "N...", Path: "new", Orig: "old"},
		{Code: "u", Submodule: "N...", Path: "c"},
		{Code: "??", Path: "d"},
		{Code: "!!", Path: "e"},
	}
	if got, err := parseStatusV2(formatStatusV2(st)); err != nil || !reflect.DeepEqual(got, st) {
		t.Errorf("status round trip = %+v, %v", got, err)
	}
	fcs := []FileChange{{'A', "x", "x"}, {'R', "y", "z"}}
	if got, err := parseNameStatusZ(formatNameStatusZ(fcs)); err != nil || !reflect.DeepEqual(got, fcs) {
		t.Errorf("name-status round trip = %+v, %v", got, err)
	}
}
