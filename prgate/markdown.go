package prgate

import (
	"regexp"
	"strings"
	"sync"
)

// The gate reads Markdown the way GitHub renders it closely enough to never be
// fooled by the common cases: headings (ATX and setext), task-list items,
// fenced code blocks (whose content is never a heading or an item) and HTML
// comments (which PR templates use for instructions and which GitHub hides).
// It is not a CommonMark implementation; what it does not model (indented
// code blocks, block quotes, HTML blocks) is read as plain text.

// mdLine is one source line. Text has HTML comments removed; Code marks a
// line inside a fenced code block, fence lines included.
type mdLine struct {
	Num  int // 1-based
	Text string
	Code bool
}

// heading is an ATX or setext heading. Line is the line of its text.
type heading struct {
	Index  int // index into the line slice of the heading text
	Level  int
	Text   string
	Setext bool // underlined: the line after Index is the underline
}

// task is a task-list item ("- [ ] text", "1. [x] text").
type task struct {
	Line   int
	Ticked bool
	Text   string // the item's text, continuation lines joined by one space
}

func scanLines(content []byte) []mdLine {
	raw := strings.Split(string(content), "\n")
	out := make([]mdLine, 0, len(raw))
	var (
		inComment bool
		fenceChar byte
		fenceLen  int
		fenceOpen bool
	)
	for i, s := range raw {
		s = strings.TrimSuffix(s, "\r")
		l := mdLine{Num: i + 1}
		if fenceOpen {
			l.Code = true
			l.Text = s
			if c, n, rest, ok := fenceMarker(s); ok && c == fenceChar && n >= fenceLen && strings.TrimSpace(rest) == "" {
				fenceOpen = false
			}
			out = append(out, l)
			continue
		}
		// Remove HTML comments, which may span lines.
		var b strings.Builder
		rest := s
		for rest != "" {
			if inComment {
				j := strings.Index(rest, "-->")
				if j < 0 {
					break
				}
				rest = rest[j+3:]
				inComment = false
				continue
			}
			j := strings.Index(rest, "<!--")
			if j < 0 {
				b.WriteString(rest)
				break
			}
			b.WriteString(rest[:j])
			rest = rest[j+4:]
			inComment = true
		}
		l.Text = b.String()
		if c, n, info, ok := fenceMarker(l.Text); ok && !(c == '`' && strings.ContainsRune(info, '`')) {
			fenceOpen, fenceChar, fenceLen = true, c, n
			l.Code = true
		}
		out = append(out, l)
	}
	return out
}

// fenceMarker recognises a code fence: up to three spaces, then at least three
// backticks or tildes. It returns the character, the run length and the rest
// of the line (the info string).
func fenceMarker(s string) (c byte, n int, rest string, ok bool) {
	t := trimIndent(s, 3)
	if t == "" || (t[0] != '`' && t[0] != '~') {
		return 0, 0, "", false
	}
	c = t[0]
	for n < len(t) && t[n] == c {
		n++
	}
	if n < 3 {
		return 0, 0, "", false
	}
	return c, n, t[n:], true
}

// trimIndent removes up to max leading spaces; it returns "" when the line is
// indented more (an indented line is not a block marker).
func trimIndent(s string, max int) string {
	i := 0
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i > max {
		return ""
	}
	return s[i:]
}

var (
	atxRe    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$`) })
	atxClose = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?:^|[ \t]+)#+[ \t]*$`) })
	setextRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^ {0,3}(=+|-+)[ \t]*$`) })
	taskRe   = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^([ \t]*)(?:[-*+]|\d{1,9}[.)])[ \t]+\[([ xX])\](?:[ \t]+(.*))?$`)
	})
	listRe   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[ \t]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)`) })
	thematic = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^ {0,3}(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$`)
	})
	blockLead = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^ {0,3}>`) })
)

// headings finds the headings of lines, in order.
func headings(lines []mdLine) []heading {
	var hs []heading
	for i, l := range lines {
		if l.Code {
			continue
		}
		if m := atxRe().FindStringSubmatch(l.Text); m != nil {
			text := atxClose().ReplaceAllString(m[2], "")
			hs = append(hs, heading{Index: i, Level: len(m[1]), Text: strings.TrimSpace(text)})
			continue
		}
		if i > 0 && setextRe().MatchString(l.Text) && isParagraphLine(lines[i-1]) {
			// Setext: the underline turns the preceding paragraph line into a
			// heading ('=' level 1, '-' level 2).
			level := 2
			if strings.Contains(l.Text, "=") {
				level = 1
			}
			hs = append(hs, heading{Index: i - 1, Level: level, Text: strings.TrimSpace(lines[i-1].Text), Setext: true})
		}
	}
	return hs
}

// isParagraphLine reports whether l can be the text of a setext heading.
func isParagraphLine(l mdLine) bool {
	if l.Code || strings.TrimSpace(l.Text) == "" {
		return false
	}
	t := l.Text
	return trimIndent(t, 3) != "" && !atxRe().MatchString(t) && !listRe().MatchString(t) &&
		!thematic().MatchString(t) && !blockLead().MatchString(t) && !setextRe().MatchString(t)
}

// section returns the line range [start, end) of the content under the
// heading hs[k]: up to the next heading of the same or a higher level.
func section(lines []mdLine, hs []heading, k int) (start, end int) {
	h := hs[k]
	start = h.Index + 1
	if h.Setext {
		start++
	}
	end = len(lines)
	for _, n := range hs[k+1:] {
		if n.Level <= h.Level {
			end = n.Index
			break
		}
	}
	return start, end
}

// tasks finds the task-list items in lines[start:end].
func tasks(lines []mdLine, start, end int) []task {
	var ts []task
	for i := start; i < end; i++ {
		l := lines[i]
		if l.Code {
			continue
		}
		m := taskRe().FindStringSubmatch(l.Text)
		if m == nil {
			continue
		}
		t := task{Line: l.Num, Ticked: m[2] != " ", Text: strings.TrimSpace(m[3])}
		// Continuation lines of the item's paragraph.
		for i+1 < end && isContinuation(lines[i+1]) {
			i++
			t.Text += " " + strings.TrimSpace(lines[i].Text)
		}
		t.Text = strings.Join(strings.Fields(t.Text), " ")
		if normalize(t.Text) == "" {
			continue
		}
		ts = append(ts, t)
	}
	return ts
}

func isContinuation(l mdLine) bool {
	if l.Code || strings.TrimSpace(l.Text) == "" {
		return false
	}
	t := l.Text
	if _, _, _, ok := fenceMarker(t); ok {
		return false
	}
	return !atxRe().MatchString(t) && !listRe().MatchString(t) && !thematic().MatchString(t) &&
		!setextRe().MatchString(t) && !blockLead().MatchString(t)
}

// normalize is how item texts and heading names are compared: case, Markdown
// emphasis and code marks, runs of white space and trailing punctuation do
// not matter.
func normalize(s string) string {
	s = strings.Map(func(r rune) rune {
		switch r {
		case '*', '_', '`', '~':
			return -1
		case '\t', '\u00a0':
			return ' '
		}
		return r
	}, s)
	s = strings.ToLower(strings.Join(strings.Fields(s), " "))
	return strings.TrimRight(s, " .:;,!")
}
