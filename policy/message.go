package policy

import (
	"bytes"
	"fmt"
	"strings"
)

// This file reads and writes git trailers the way git 2.39's trailer.c
// (git interpret-trailers, %(trailers) in git log) does, so that what guard
// writes is what `git log --format='%(trailers:key=Change-Category)'` reads.
//
// The rules, as git applies them to a message:
//   - The message ends, for trailer purposes, at the first "patch divider"
//     line ("---" followed by white space), and before a scissors line
//     ("<comment> ------------------------ >8 ------------------------").
//   - Trailing comment lines and blank lines (and an old "Conflicts:" block)
//     before that end are not part of the trailer block.
//   - The first paragraph (the title) never holds trailers.
//   - The trailer block is the last paragraph when every line of it is a
//     trailer ("Token: value", token made of letters, digits and '-', white
//     space allowed before the ':'), or when it holds a git-generated line
//     ("Signed-off-by: " or "(cherry picked from commit ") and at least 25%
//     of its lines are trailers. Lines starting with white space continue
//     the previous trailer. Comment lines are skipped.
//
// The "---" divider is honoured as git interpret-trailers and git log's
// %(trailers) honour it (git commit --trailer passes --no-divider, but a
// trailer written after such a line is one git log does not show).
//
// Deliberate differences from git 2.39, all where git is wrong for a hook
// that must keep the message and must produce a readable trailer:
//   - AppendTrailer never rewrites existing lines. git reprints the trailer
//     block normalised ("Key:value" -> "Key: value", CRLF -> LF, comment
//     lines inside the block dropped); guard leaves those bytes alone and only
//     inserts. The trailers read back are the same.
//   - Inserted lines end in CRLF when the line before them does.
//   - When the message does not end in a newline, git appends the trailer
//     to the last line's paragraph ("subject\nKey: value"), where git itself
//     no longer sees a trailer; guard ends the line and adds the blank line.
//     When that unterminated last line is "---", ending it makes it the
//     divider, so guard ends it and puts the trailer before it.
//   - With a "---" divider before a scissors line git 2.39 loops forever
//     (wt_status_locate_end is not bounded by the divider); guard stops at
//     whichever comes first.
//   - Only git's default separator ':' and no trailer.* configuration
//     (configured tokens that count as "recognised" for the 25% rule) are
//     honoured: guard does not read git configuration.
//   - NUL bytes are ordinary bytes (git stops at the first NUL in places).
//   - git skips adding a trailer when the block's last one has the "same
//     token", comparing only the shorter token's length ("C: normal" counts
//     as Change-Category); guard requires the whole key to match, so the
//     trailer is never left out.

// Trailer is one "Key: value" trailer of a message.
type Trailer struct {
	Key   string // trimmed token, as written
	Value string // trimmed; continuation lines joined by one space
	Line  int    // 1-based line of the message where the trailer starts
}

// Message is a parsed commit message. It keeps the original bytes; nothing
// in it is normalised.
type Message struct {
	raw     []byte
	comment string // resolved comment prefix

	cutoff     int // end of the message proper: scissors line or len(raw)
	end        int // where trailers stop: the first "---" divider or cutoff
	blockStart int // git's trailer_start; == blockEnd when there is no block
	blockEnd   int // git's trailer_end
	items      []item
}

// item is git's trailer_item: one trailer (with its continuation lines) or
// one other line of the trailer block. Comment lines are not items.
type item struct {
	start, end int // byte range in raw, including the line terminators
	line       int // 1-based line number of start
	sep        int // offset of ':' from start; -1 for a non-trailer line
}

const cutLine = "------------------------ >8 ------------------------"

var gitGeneratedPrefixes = []string{"Signed-off-by: ", "(cherry picked from commit "}

// autoCandidates are the characters git (core.commentChar=auto) chooses
// from, in its order.
const autoCandidates = "#;@!$%^&|:"

// ParseMessage parses raw, the content of a commit message file. The raw
// slice is kept, not copied: do not modify it while m is in use.
//
// commentChar is git's core.commentChar: "" means "#"; "auto" means git
// chose one of "#;@!$%^&|:" when it wrote the message. The choice is
// recovered from the message: the character of a scissors line if there is
// one; else the character of git's trailing comment block (the last
// non-blank line starts with a candidate followed by a space or the end of
// the line, and every earlier candidate starts some line above that block,
// which is why git could not take it); else git's own rule applied to the
// whole message (the first candidate that starts no line), which makes no
// line a comment. Any other value is used as given (newer git allows
// strings).
func ParseMessage(raw []byte, commentChar string) *Message {
	m := &Message{raw: raw, comment: resolveComment(raw, commentChar)}
	m.parse()
	return m
}

// Raw returns the message bytes as given.
func (m *Message) Raw() []byte { return m.raw }

// CommentChar returns the comment prefix in effect (after resolving "auto").
func (m *Message) CommentChar() string { return m.comment }

func resolveComment(raw []byte, cc string) string {
	switch cc {
	case "":
		return "#"
	case "auto":
	default:
		return cc
	}
	// A scissors line names the character outright.
	first, firstAt := "", -1
	for i := 0; i < len(autoCandidates); i++ {
		c := autoCandidates[i : i+1]
		pat := c + " " + cutLine + "\n"
		at := -1
		if bytes.HasPrefix(raw, []byte(pat)) {
			at = 0
		} else if j := bytes.Index(raw, []byte("\n"+pat)); j >= 0 {
			at = j + 1
		}
		if at >= 0 && (firstAt < 0 || at < firstAt) {
			first, firstAt = c, at
		}
	}
	if first != "" {
		return first
	}
	// The trailing comment block git writes after the user's text.
	lines := splitLines(raw)
	last := len(lines) - 1
	for last >= 0 && isBlank(lines[last]) {
		last--
	}
	if last >= 0 {
		l := lines[last]
		if k := strings.IndexByte(autoCandidates, l[0]); k >= 0 && (len(bytes.TrimRight(l, "\r\n")) == 1 || l[1] == ' ') {
			c := l[0]
			top := last // first line of the block of c-lines and blank lines
			for top > 0 && (isBlank(lines[top-1]) || lines[top-1][0] == c) {
				top--
			}
			ok := true
			for _, d := range []byte(autoCandidates[:k]) {
				used := false
				for _, u := range lines[:top] {
					if u[0] == d {
						used = true
						break
					}
				}
				if !used {
					ok = false
					break
				}
			}
			if ok {
				return string(c)
			}
		}
	}
	// No comments: git's choice, a character that starts no line.
	used := map[byte]bool{}
	for _, l := range lines {
		used[l[0]] = true
	}
	for i := 0; i < len(autoCandidates); i++ {
		if !used[autoCandidates[i]] {
			return autoCandidates[i : i+1]
		}
	}
	return "#" // every candidate starts a line; git would refuse the message
}

// splitLines returns the lines of b with their terminators; never an empty
// line slice element (an empty b has no lines).
func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:i+1])
		b = b[i+1:]
	}
	return out
}

// git's isspace: space, tab, LF, CR (not VT or FF).
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// isBlank is git's is_blank_line for a line slice.
func isBlank(l []byte) bool {
	for _, c := range l {
		if c == '\n' {
			return true
		}
		if !isSpace(c) {
			return false
		}
	}
	return true
}

// isBlankAt is is_blank_line at offset i of the whole buffer.
func (m *Message) isBlankAt(i int) bool {
	for ; i < len(m.raw); i++ {
		c := m.raw[i]
		if c == '\n' {
			return true
		}
		if !isSpace(c) {
			return false
		}
	}
	return true
}

func (m *Message) nextLine(i int) int {
	if j := bytes.IndexByte(m.raw[i:], '\n'); j >= 0 {
		return i + j + 1
	}
	return len(m.raw)
}

// lastLine is git's last_line: the start of the last line of raw[:n], the
// final newline counting as part of that line; -1 when n is 0.
func (m *Message) lastLine(n int) int {
	if n <= 0 {
		return -1
	}
	if n == 1 {
		return 0
	}
	if j := bytes.LastIndexByte(m.raw[:n-1], '\n'); j >= 0 {
		return j + 1
	}
	return 0
}

func (m *Message) isComment(i int) bool {
	return bytes.HasPrefix(m.raw[i:], []byte(m.comment))
}

// findSeparator is git's find_separator with separators ":": the offset of
// the ':' ending "<token><optional white space>:", or -1.
func findSeparator(b []byte) int {
	ws := false
	for i, c := range b {
		if c == ':' {
			return i
		}
		if !ws && (isAlnum(c) || c == '-') {
			continue
		}
		if i != 0 && (c == ' ' || c == '\t') {
			ws = true
			continue
		}
		break
	}
	return -1
}

func (m *Message) parse() {
	raw := m.raw
	// The scissors line (wt_status_locate_end).
	pat := m.comment + " " + cutLine + "\n"
	m.cutoff = len(raw)
	if bytes.HasPrefix(raw, []byte(pat)) {
		m.cutoff = 0
	} else if j := bytes.Index(raw, []byte("\n"+pat)); j >= 0 {
		m.cutoff = j + 1
	}
	// The patch divider (find_patch_start).
	patch := len(raw)
	for s := 0; s < len(raw); s = m.nextLine(s) {
		if bytes.HasPrefix(raw[s:], []byte("---")) && s+3 < len(raw) && isSpace(raw[s+3]) {
			patch = s
			break
		}
	}
	m.end = min(patch, m.cutoff)
	m.blockEnd = m.findTrailerEnd(m.end)
	m.blockStart = m.findTrailerStart(m.blockEnd)

	// trailer_info_get: split the block into items.
	line := 1 + bytes.Count(raw[:m.blockStart], []byte("\n"))
	last := -1 // index of the last trailer item that may take continuations
	for s := m.blockStart; s < m.blockEnd; {
		e := min(m.nextLine(s), m.blockEnd)
		if last >= 0 && isSpace(raw[s]) {
			m.items[last].end = e
		} else {
			it := item{start: s, end: e, line: line, sep: findSeparator(raw[s:e])}
			m.items = append(m.items, it)
			last = -1
			if it.sep >= 1 {
				last = len(m.items) - 1
			}
		}
		s = e
		line++
	}
	// Comment lines are items in git's list but are dropped before use.
	kept := m.items[:0]
	for _, it := range m.items {
		if !m.isComment(it.start) {
			kept = append(kept, it)
		}
	}
	m.items = kept
}

// findTrailerEnd is git's find_trailer_end / ignore_non_trailer on
// raw[:n]: the end of the message before its trailing comments, blank lines
// and old-style "Conflicts:" block.
func (m *Message) findTrailerEnd(n int) int {
	raw := m.raw
	boc, inConflicts := 0, false
	for bol := 0; bol < n; {
		next := n
		if j := bytes.IndexByte(raw[bol:n], '\n'); j >= 0 {
			next = bol + j + 1
		}
		switch {
		case m.isComment(bol) || raw[bol] == '\n':
			// git tests "if (!boc)", so a run starting at offset 0 is
			// only recorded from its second line on; kept for fidelity.
			if boc == 0 {
				boc = bol
			}
		case bytes.HasPrefix(raw[bol:], []byte("Conflicts:\n")):
			inConflicts = true
			if boc == 0 {
				boc = bol
			}
		case inConflicts && raw[bol] == '\t':
		case boc != 0:
			boc, inConflicts = 0, false
		}
		bol = next
	}
	if boc != 0 {
		return boc
	}
	return n
}

// findTrailerStart is git's find_trailer_start on raw[:n]: the start of the
// trailer block, or n when there is none.
func (m *Message) findTrailerStart(n int) int {
	raw := m.raw
	s := 0
	for s < n {
		if m.isComment(s) {
			s = m.nextLine(s)
			continue
		}
		if m.isBlankAt(s) {
			break
		}
		s = m.nextLine(s)
	}
	endOfTitle := s

	onlySpaces, recognized := true, false
	trailerLines, nonTrailerLines, possibleCont := 0, 0, 0
	for l := m.lastLine(n); l >= endOfTitle; l = m.lastLine(l) {
		if m.isComment(l) {
			nonTrailerLines += possibleCont
			possibleCont = 0
			continue
		}
		if m.isBlankAt(l) {
			if onlySpaces {
				continue
			}
			nonTrailerLines += possibleCont
			if recognized && trailerLines*3 >= nonTrailerLines {
				return m.nextLine(l)
			}
			if trailerLines > 0 && nonTrailerLines == 0 {
				return m.nextLine(l)
			}
			return n
		}
		onlySpaces = false
		generated := false
		for _, p := range gitGeneratedPrefixes {
			if bytes.HasPrefix(raw[l:], []byte(p)) {
				generated = true
				break
			}
		}
		switch {
		case generated:
			trailerLines++
			possibleCont = 0
			recognized = true
		case findSeparator(raw[l:]) >= 1 && !isSpace(raw[l]):
			trailerLines++
			possibleCont = 0
		case isSpace(raw[l]):
			possibleCont++
		default:
			nonTrailerLines++
			nonTrailerLines += possibleCont
			possibleCont = 0
		}
	}
	return n
}

// Subject returns the first line of the message that is neither blank nor
// a comment (before any scissors line), without its line ending and
// trailing white space; "" when there is none.
func (m *Message) Subject() string {
	for s := 0; s < m.cutoff; s = m.nextLine(s) {
		if m.isComment(s) || m.isBlankAt(s) {
			continue
		}
		e := m.nextLine(s)
		return strings.TrimRight(string(m.raw[s:e]), " \t\r\n")
	}
	return ""
}

// IsEmpty reports whether the message has nothing but blank lines and
// comments before its scissors line: git aborts such a commit.
func (m *Message) IsEmpty() bool {
	for s := 0; s < m.cutoff; s = m.nextLine(s) {
		if !m.isComment(s) && !m.isBlankAt(s) {
			return false
		}
	}
	return true
}

func trimSpace(s string) string { return strings.Trim(s, " \t\r\n") }

// itemToken returns the trimmed token and value (not unfolded) of a
// trailer item.
func (m *Message) itemToken(it item) (string, string) {
	b := m.raw[it.start:it.end]
	return trimSpace(string(b[:it.sep])), trimSpace(string(b[it.sep+1:]))
}

// Trailers returns the trailers of the message's trailer block, in order.
// Lines of the block that are not trailers (allowed next to a
// "Signed-off-by:" line) are not returned.
func (m *Message) Trailers() []Trailer {
	var out []Trailer
	for _, it := range m.items {
		if it.sep < 1 {
			continue
		}
		k, v := m.itemToken(it)
		out = append(out, Trailer{Key: k, Value: unfold(v), Line: it.line})
	}
	return out
}

// unfold is git's unfold_value: each line break and the white space after
// it become one space.
func unfold(v string) string {
	if strings.IndexByte(v, '\n') < 0 {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); {
		c := v[i]
		i++
		if c != '\n' {
			b.WriteByte(c)
			continue
		}
		for i < len(v) && isSpace(v[i]) {
			i++
		}
		b.WriteByte(' ')
	}
	return trimSpace(b.String())
}

// Category returns the category of the last Change-Category trailer (key
// compared case-insensitively). ok is false when there is none; err names
// the value when it is not a category.
func (m *Message) Category() (Category, bool, error) {
	ts := m.Trailers()
	for i := len(ts) - 1; i >= 0; i-- {
		if !strings.EqualFold(ts[i].Key, TrailerKey) {
			continue
		}
		c, err := ParseCategory(ts[i].Value)
		if err != nil {
			return Unknown, true, fmt.Errorf("line %d: %s trailer: %w", ts[i].Line, TrailerKey, err)
		}
		return c, true, nil
	}
	return Unknown, false, nil
}

// IsExempt reports whether a subject marks a commit that git's autosquash
// folds into another (fixup!, squash!, amend!): it carries no category of
// its own.
func IsExempt(subject string) bool {
	for _, p := range []string{"fixup! ", "squash! ", "amend! "} {
		if strings.HasPrefix(subject, p) {
			return true
		}
	}
	return false
}

// AppendTrailer returns raw with the trailer "key: value" added where
// `git interpret-trailers --trailer "key: value"` adds it: at the end of an
// existing trailer block (no blank line), else after a blank line at the
// end of the message, before trailing comment lines, a scissors line and a
// "---" divider. Like git (trailer.ifExists=addIfDifferentNeighbor) it adds
// nothing when the block's last entry already is that trailer (same key and
// value, ignoring ASCII case); the result is then a copy of raw.
//
// The result holds every byte of raw in order; only the trailer line, the
// blank line before it and, for a last line without one, a line ending are
// inserted (when that last line is "---", it is ended and the trailer goes
// before it: ended, it is a divider, and nothing after a divider is a
// trailer). Inserted lines end in CRLF when the line before them does. key
// must be a trailer token (letters, digits, '-'); white space around key
// and value is trimmed and line breaks in value become spaces. Do not
// append to a message for which IsEmpty is true: git would then commit the
// trailer as the whole message.
func AppendTrailer(raw []byte, key, value, commentChar string) []byte {
	return appendTrailer(raw, key, value, commentChar, "")
}

// appendTrailer is AppendTrailer with the line ending forced when eol is
// not "" (the comparison with git, which always writes LF, uses "\n").
func appendTrailer(raw []byte, key, value, commentChar, eol string) []byte {
	key = trimSpace(key)
	value = trimSpace(strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(value))

	src := raw
	m := ParseMessage(src, commentChar)
	if m.end == len(raw) && (bytes.HasSuffix(raw, []byte("\n---")) || string(raw) == "---") {
		// Once ended, this last line is the first "---" divider, and a
		// trailer after a divider is no trailer: end it now, so that the
		// trailer goes before it.
		src = append(append(make([]byte, 0, len(raw)+2), raw...), lineEnding(raw, len(raw))...)
		m = ParseMessage(src, commentChar)
	}

	ins := m.blockEnd // where the new text goes
	needBlank := false
	if len(m.items) > 0 && m.blockStart < m.blockEnd {
		lastItem := m.items[len(m.items)-1]
		if lastItem.sep >= 1 {
			k, v := m.itemToken(lastItem)
			if asciiEqualFold(k, key) && asciiEqualFold(v, value) {
				return append([]byte(nil), raw...)
			}
			// After the trailer's last non-blank line: white-space lines
			// that git folds into the trailer must not end up between it
			// and the new one.
			ins = lastItem.start
			for s := lastItem.start; s < lastItem.end; s = m.nextLine(s) {
				if s == lastItem.start || !m.isBlankAt(s) {
					ins = min(m.nextLine(s), lastItem.end)
				}
			}
		} else {
			ins = lastItem.end
		}
	} else {
		// No block: git writes a blank line first unless the text before
		// already ends with one.
		ll := m.lastLine(ins)
		needBlank = ll < 0 || !m.isBlankAt(ll)
	}
	if eol == "" {
		eol = lineEnding(src, ins)
	}
	unterminated := ins > 0 && src[ins-1] != '\n'
	if unterminated && m.blockStart == m.blockEnd {
		// The last line (possibly blank) lacks its newline: end it, then
		// make sure a blank line separates the trailer (git does neither).
		needBlank = !m.isBlankAt(m.lastLine(ins))
	}

	var add strings.Builder
	if unterminated {
		add.WriteString(eol)
	}
	if needBlank {
		add.WriteString(eol)
	}
	add.WriteString(key)
	add.WriteString(": ")
	add.WriteString(value)
	add.WriteString(eol)

	out := make([]byte, 0, len(src)+add.Len())
	out = append(out, src[:ins]...)
	out = append(out, add.String()...)
	return append(out, src[ins:]...)
}

// lineEnding is the line ending of the last line that ends before at, else
// of the first line of raw; "\n" when raw has no line ending.
func lineEnding(raw []byte, at int) string {
	i := bytes.LastIndexByte(raw[:at], '\n')
	if i < 0 {
		i = bytes.IndexByte(raw, '\n')
	}
	if i > 0 && raw[i-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

// asciiEqualFold is strcasecmp == 0 in the C locale.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
