package records

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// ParseError is a record that cannot be read, located at a line of its
// file.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

var (
	keyRE  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`) })
	todoRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\b` + Marker + `\b`) })
)

// timeLayouts are the timestamp spellings accepted in opened and due:
// RFC 3339, and YAML's variant with a space before the time.
var timeLayouts = []string{time.RFC3339, "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05 Z07:00"}

// Parse reads a record. name is used in errors and as Path.
func Parse(name string, data []byte) (*Record, error) {
	bad := func(line int, format string, a ...any) error {
		return &ParseError{File: name, Line: line, Msg: fmt.Sprintf(format, a...)}
	}
	if !utf8.Valid(data) {
		return nil, bad(0, "not UTF-8 text")
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	if strings.TrimRight(lines[0], " \t") != "---" {
		return nil, bad(1, "no front matter: a record starts with a line \"---\"")
	}
	end := -1
	for i := 1; i < len(lines); i++ {
		if t := strings.TrimRight(lines[i], " \t"); t == "---" || t == "..." {
			end = i
			break
		}
	}
	if end < 0 {
		return nil, bad(1, "the front matter is not closed: no second \"---\" line")
	}
	r := &Record{Path: name}
	seen := map[string]int{}
	for i := 1; i < end; i++ {
		n := i + 1
		l := lines[i]
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if l[0] == ' ' || l[0] == '\t' {
			return nil, bad(n, "indented line: every front-matter value fits on its own \"key: value\" line")
		}
		key, rest, ok := strings.Cut(l, ":")
		key = strings.TrimSpace(key)
		if !ok {
			return nil, bad(n, "want \"key: value\", got %q", clip(l))
		}
		if !keyRE().MatchString(key) {
			return nil, bad(n, "invalid key %q (letters, digits, _ and -)", clip(key))
		}
		if prev, dup := seen[key]; dup {
			return nil, bad(n, "key %q repeats line %d", key, prev)
		}
		seen[key] = n
		val, err := parseValue(rest)
		if err != nil {
			return nil, bad(n, "%s: %v", key, err)
		}
		if !r.set(key, val) {
			r.Extra = append(r.Extra, Field{Key: key, Value: val, Line: n})
		}
	}
	if r.Category != Category {
		return nil, bad(lineOf(seen, "category"), "category must be %q, not %q", Category, r.Category)
	}
	if r.Control != Control {
		return nil, bad(lineOf(seen, "control"), "control must be %q, not %q", Control, r.Control)
	}
	var err error
	if r.Opened, err = parseTime(seen, "opened", r.opened); err != nil {
		return nil, bad(lineOf(seen, "opened"), "%v", err)
	}
	if r.Due, err = parseTime(seen, "due", r.due); err != nil {
		return nil, bad(lineOf(seen, "due"), "%v", err)
	}
	if !r.Due.After(r.Opened) || r.Due.Sub(r.Opened) > DueAfter {
		return nil, bad(lineOf(seen, "due"), "due %s must be after opened %s and at most 24 hours later (the policy's deadline)",
			r.Due.Format(time.RFC3339), r.Opened.Format(time.RFC3339))
	}
	for _, k := range []string{"worker", "env", "from_version", "to_version", "from_commit", "to_commit", "deployment_id"} {
		if _, ok := seen[k]; ok {
			r.rollback = true
		}
	}
	r.opened, r.due = "", ""
	r.TODO = []int{}
	for i := end + 1; i < len(lines); i++ {
		if todoRE().MatchString(lines[i]) {
			r.TODO = append(r.TODO, i+1)
		}
	}
	return r, nil
}

// todoLines are the body lines of rendered record data that hold TODO.
func todoLines(data []byte) []int {
	r, err := Parse("", data)
	if err != nil {
		return nil
	}
	return r.TODO
}

func lineOf(seen map[string]int, key string) int {
	if n, ok := seen[key]; ok {
		return n
	}
	return 1
}

func parseTime(seen map[string]int, key, v string) (time.Time, error) {
	if _, ok := seen[key]; !ok {
		return time.Time{}, fmt.Errorf("%s is missing", key)
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%s %q is not a UTC time like 2006-01-02T15:04:05Z", key, clip(v))
}

func clip(s string) string {
	if len(s) > 60 {
		s = s[:60]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		return s + "…"
	}
	return s
}

// set stores a known key's value; false for a key guard does not know.
func (r *Record) set(key, v string) bool {
	switch key {
	case "category":
		r.Category = v
	case "control":
		r.Control = v
	case "opened":
		r.opened = v
	case "due":
		r.due = v
	case "worker":
		r.Worker = v
	case "env":
		r.Env = v
	case "from_version":
		r.FromVersion = v
	case "to_version":
		r.ToVersion = v
	case "from_commit":
		r.FromCommit = v
	case "to_commit":
		r.ToCommit = v
	case "deployment_id":
		r.DeploymentID = v
	case "commit":
		r.Commit = v
	case "subject":
		r.Subject = v
	case "operator":
		r.Operator = v
	case "reason":
		r.Reason = v
	default:
		return false
	}
	return true
}

// parseValue reads what follows "key:" on a front-matter line.
func parseValue(rest string) (string, error) {
	v := strings.TrimSpace(rest)
	if v == "" {
		return "", nil
	}
	switch v[0] {
	case '"':
		s, tail, err := doubleQuoted(v)
		if err != nil {
			return "", err
		}
		return s, trailing(tail)
	case '\'':
		s, tail, err := singleQuoted(v)
		if err != nil {
			return "", err
		}
		return s, trailing(tail)
	case '|', '>':
		return "", fmt.Errorf("multi-line values are not supported: write the value on one line, in double quotes")
	case '[', '{':
		return "", fmt.Errorf("lists and maps are not supported: write one line of text")
	case '&', '*', '!':
		return "", fmt.Errorf("YAML anchors, aliases and tags are not supported")
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	} else if i := strings.Index(v, "\t#"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return v, nil
}

// trailing accepts only a comment after a quoted value.
func trailing(tail string) error {
	t := strings.TrimSpace(tail)
	if t == "" || (strings.HasPrefix(t, "#") && tail != t) {
		return nil
	}
	return fmt.Errorf("unexpected %q after the closing quote", clip(t))
}

// doubleQuoted decodes a YAML double-quoted scalar at the start of s (the
// escapes JSON uses are a subset) and returns what follows it.
func doubleQuoted(s string) (string, string, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			return b.String(), s[i+1:], nil
		case '\\':
			if i+1 >= len(s) {
				return "", "", fmt.Errorf("unterminated double-quoted value")
			}
			i++
			switch e := s[i]; e {
			case '0':
				b.WriteByte(0)
			case 'a':
				b.WriteByte('\a')
			case 'b':
				b.WriteByte('\b')
			case 't', '\t':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			case 'v':
				b.WriteByte('\v')
			case 'f':
				b.WriteByte('\f')
			case 'r':
				b.WriteByte('\r')
			case 'e':
				b.WriteByte(0x1b)
			case ' ', '"', '/', '\\':
				b.WriteByte(e)
			case 'N':
				b.WriteRune('\u0085')
			case '_':
				b.WriteRune('\u00a0')
			case 'L':
				b.WriteRune('\u2028')
			case 'P':
				b.WriteRune('\u2029')
			case 'x', 'u', 'U':
				n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
				if i+n >= len(s) {
					return "", "", fmt.Errorf("escape \\%c needs %d hex digits", e, n)
				}
				code, err := strconv.ParseUint(s[i+1:i+1+n], 16, 32)
				if err != nil {
					return "", "", fmt.Errorf("escape \\%c needs %d hex digits, got %q", e, n, s[i+1:i+1+n])
				}
				i += n
				if e == 'u' && code >= 0xD800 && code < 0xDC00 && i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					// A UTF-16 surrogate pair, as JSON writes characters
					// outside the basic plane.
					if lo, err := strconv.ParseUint(s[i+3:i+7], 16, 32); err == nil && lo >= 0xDC00 && lo < 0xE000 {
						code = 0x10000 + (code-0xD800)<<10 + (lo - 0xDC00)
						i += 6
					}
				}
				if code > utf8.MaxRune || (code >= 0xD800 && code < 0xE000) {
					b.WriteRune(utf8.RuneError)
				} else {
					b.WriteRune(rune(code))
				}
			default:
				return "", "", fmt.Errorf("unknown escape \\%c in a double-quoted value", e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", fmt.Errorf("unterminated double-quoted value")
}

// singleQuoted decodes a YAML single-quoted scalar, where a doubled
// single quote stands for one.
func singleQuoted(s string) (string, string, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] == '\'' {
			if i+1 < len(s) && s[i+1] == '\'' {
				b.WriteByte('\'')
				i++
				continue
			}
			return b.String(), s[i+1:], nil
		}
		b.WriteByte(s[i])
	}
	return "", "", fmt.Errorf("unterminated single-quoted value")
}
