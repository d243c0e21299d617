// Package sqlsplit cuts SQL text into statements exactly where SQLite says
// a statement ends, for every part of guard that needs it: the migration
// checker's replay and the emulated D1 of internal/cfemu use this one
// splitter, so they can never disagree about where a statement ends.
//
// # Contract
//
// Split never fails: text SQLite cannot parse is still returned, so that
// SQLite reports the error where it runs the statement. A statement ends
// where SQLite's own sqlite3_complete() (called through modernc's C API)
// says the text so far is complete: at a semicolon outside strings, quoted
// identifiers and comments, and inside CREATE TRIGGER ... BEGIN ... END
// only at the ";END;" that closes it. That is the definition the sqlite3
// shell uses to decide when to run what it read. Preparing each statement
// and continuing from the tail, as D1 does when it runs a query, needs the
// schema the earlier statements build and stops at the first statement
// that does not compile; the checker must split a file before (and
// whether or not) it applies, so it asks sqlite3_complete instead, which
// needs no schema.
//
// The tokenizer (Scan) follows the lexical rules of SQLite's complete.c:
// whitespace is " \t\n\f\r", "--" comments run to the newline, "/* */"
// comments do not nest, quotes end at the next matching quote, "[" ends at
// "]". It finds the semicolons worth asking SQLite about, and it gives
// callers comments, strings and words without regular expressions.
package sqlsplit

import (
	"strings"
	"sync"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// Statement is one SQL statement of a text as SQLite would see it. Text
// runs from the statement's first token to its terminating semicolon
// (inclusive); leading whitespace and comments belong to the gap before it.
type Statement struct {
	Text    string
	Line    int // 1-based line of the statement's first token
	EndLine int // 1-based line of the statement's last byte
	// Start and End are byte offsets into the input: Text == input[Start:End].
	Start, End int
	// Terminated is false only for a last statement that has no closing
	// semicolon (SQLite still runs it; wrangler sends a file as one query).
	Terminated bool
}

// Kind is the kind of a token. Comments and whitespace are separate kinds
// because callers read suppression comments from the comments, while
// SQLite treats both as whitespace.
type Kind uint8

const (
	Space Kind = iota
	LineComment
	BlockComment
	Semi
	Word   // identifier or keyword: a run of IdChar bytes
	String // '...' literal
	Quoted // "..." `...` [...] identifier
	Other  // any other single byte (operators, punctuation)
)

// Token is one token of a text.
type Token struct {
	Kind       Kind
	Start, End int
	// Open is true when a string, quoted identifier or block comment runs
	// to the end of the input without being closed.
	Open bool
}

// Insignificant reports whitespace and comments.
func (t Token) Insignificant() bool {
	return t.Kind == Space || t.Kind == LineComment || t.Kind == BlockComment
}

// IDChar is SQLite's IdChar(): the bytes sqlite3CtypeMap marks 0x46, i.e.
// ASCII letters and digits, '_' and '$', and every byte >= 0x80 (so UTF-8
// sequences are parts of identifiers).
func IDChar(c byte) bool {
	return c >= 0x80 || c == '_' || c == '$' ||
		(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// Scan returns the token starting at s[i].
func Scan(s string, i int) Token {
	c := s[i]
	switch c {
	case ' ', '\t', '\n', '\f', '\r':
		j := i + 1
		for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\f' || s[j] == '\r') {
			j++
		}
		return Token{Kind: Space, Start: i, End: j}
	case ';':
		return Token{Kind: Semi, Start: i, End: i + 1}
	case '-':
		if i+1 < len(s) && s[i+1] == '-' {
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				return Token{Kind: LineComment, Start: i, End: len(s)}
			}
			return Token{Kind: LineComment, Start: i, End: i + j}
		}
	case '/':
		if i+1 < len(s) && s[i+1] == '*' {
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return Token{Kind: BlockComment, Start: i, End: len(s), Open: true}
			}
			return Token{Kind: BlockComment, Start: i, End: i + 2 + j + 2}
		}
	case '\'', '"', '`', '[':
		closer := c
		kind := Quoted
		if c == '[' {
			closer = ']'
		}
		if c == '\'' {
			kind = String
		}
		j := strings.IndexByte(s[i+1:], closer)
		if j < 0 {
			return Token{Kind: kind, Start: i, End: len(s), Open: true}
		}
		return Token{Kind: kind, Start: i, End: i + 1 + j + 1}
	default:
		if IDChar(c) {
			j := i + 1
			for j < len(s) && IDChar(s[j]) {
				j++
			}
			return Token{Kind: Word, Start: i, End: j}
		}
	}
	return Token{Kind: Other, Start: i, End: i + 1}
}

// completer calls SQLite's sqlite3_complete. A libc thread context is
// needed for every call into the C library; they are pooled.
type completer struct{ tls *libc.TLS }

var completers = sync.Pool{New: func() any { return &completer{tls: libc.NewTLS()} }}

// complete reports whether s ends with a complete SQL statement, by
// SQLite's own rules. A NUL byte would end the C string early; SQLite's
// tokenizer sees it as an illegal character, so 0x01 (also illegal, also
// no part of a word) stands in for it.
func (c *completer) complete(s string) bool {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\x01")
	}
	cs, err := libc.CString(s)
	if err != nil {
		panic("sqlsplit: " + err.Error()) // out of memory
	}
	defer libc.Xfree(c.tls, cs)
	return sqlite3.Xsqlite3_complete(c.tls, cs) != 0
}

// Split cuts sql into statements where sqlite3_complete says the text is
// complete. Empty statements (lone semicolons) are dropped. Text after the
// last complete statement that holds any token other than whitespace and
// comments becomes a final statement with Terminated=false; an
// unterminated string or comment extends it to the end.
func Split(sql string) []Statement {
	var out []Statement
	var c *completer
	defer func() {
		if c != nil {
			completers.Put(c)
		}
	}()
	start := -1   // first byte of the statement being collected
	lastSig := -1 // end of the last significant token of that statement
	from := 0     // where the text sqlite3_complete sees begins
	line := 1     // line at byte lineAt
	startLine := 0
	lineAt := 0
	countTo := func(pos int) int {
		if pos > lineAt {
			line += strings.Count(sql[lineAt:pos], "\n")
			lineAt = pos
		}
		return line
	}
	for i := 0; i < len(sql); {
		t := Scan(sql, i)
		i = t.End
		switch {
		case t.Kind == Semi:
			if start < 0 {
				from = t.End // an empty statement
				continue
			}
			if c == nil {
				c = completers.Get().(*completer)
			}
			if !c.complete(sql[from:t.End]) {
				lastSig = t.End
				continue // inside a trigger body
			}
			out = append(out, Statement{
				Text: sql[start:t.End], Line: startLine, EndLine: countTo(t.Start),
				Start: start, End: t.End, Terminated: true,
			})
			start, lastSig, from = -1, -1, t.End
		case t.Insignificant():
			if t.Open && start >= 0 {
				lastSig = len(sql) // an unclosed comment runs to the end
			}
		default:
			if start < 0 {
				start = t.Start
				startLine = countTo(start)
			}
			lastSig = t.End
		}
	}
	if start >= 0 {
		end := lastSig
		out = append(out, Statement{
			Text: sql[start:end], Line: startLine, EndLine: countTo(end - 1),
			Start: start, End: end, Terminated: false,
		})
	}
	return out
}
