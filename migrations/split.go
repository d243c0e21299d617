package migrations

import (
	"strings"
)

// Statement is one SQL statement of a migration file as SQLite would see it.
// Text runs from the statement's first token to its terminating semicolon
// (inclusive); leading whitespace and comments belong to the gap before it.
type Statement struct {
	Text    string
	Line    int // 1-based line of the statement's first token
	EndLine int // 1-based line of the statement's last byte
	// Start and End are byte offsets into the input: Text == input[Start:End].
	Start, End int
	// Terminated is false only for a last statement that has no closing
	// semicolon (SQLite still runs it; wrangler sends the file as one query).
	Terminated bool
}

// token kinds produced by scan. Comments and whitespace are separate kinds
// because suppression comments are read from the comments, while the
// completeness state machine treats both as whitespace.
type tokKind uint8

const (
	tokSpace tokKind = iota
	tokLineComment
	tokBlockComment
	tokSemi
	tokWord   // identifier or keyword: a run of IdChar bytes
	tokString // '...' literal
	tokQuoted // "..." `...` [...] identifier
	tokOther  // any other single byte (operators, punctuation)
)

type token struct {
	kind       tokKind
	start, end int
	// open is true when a string, quoted identifier or block comment runs
	// to the end of the input without being closed.
	open bool
}

// idChar is SQLite's IdChar(): the bytes sqlite3CtypeMap marks 0x46, i.e.
// ASCII letters and digits, '_' and '$', and every byte >= 0x80 (so UTF-8
// sequences are parts of identifiers).
func idChar(c byte) bool {
	return c >= 0x80 || c == '_' || c == '$' ||
		(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// scan returns the token starting at s[i]. It follows the lexical rules of
// sqlite3_complete (complete.c): whitespace is exactly " \t\n\f\r", "--"
// comments run to the newline, "/* */" comments do not nest, quotes end at
// the next matching quote (a doubled quote is simply two adjacent tokens),
// "[" ends at "]".
func scan(s string, i int) token {
	c := s[i]
	switch c {
	case ' ', '\t', '\n', '\f', '\r':
		j := i + 1
		for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\f' || s[j] == '\r') {
			j++
		}
		return token{kind: tokSpace, start: i, end: j}
	case ';':
		return token{kind: tokSemi, start: i, end: i + 1}
	case '-':
		if i+1 < len(s) && s[i+1] == '-' {
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				return token{kind: tokLineComment, start: i, end: len(s)}
			}
			return token{kind: tokLineComment, start: i, end: i + j}
		}
	case '/':
		if i+1 < len(s) && s[i+1] == '*' {
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return token{kind: tokBlockComment, start: i, end: len(s), open: true}
			}
			return token{kind: tokBlockComment, start: i, end: i + 2 + j + 2}
		}
	case '\'', '"', '`', '[':
		closer := c
		kind := tokQuoted
		if c == '[' {
			closer = ']'
		}
		if c == '\'' {
			kind = tokString
		}
		j := strings.IndexByte(s[i+1:], closer)
		if j < 0 {
			return token{kind: kind, start: i, end: len(s), open: true}
		}
		return token{kind: kind, start: i, end: i + 1 + j + 1}
	default:
		if idChar(c) {
			j := i + 1
			for j < len(s) && idChar(s[j]) {
				j++
			}
			return token{kind: tokWord, start: i, end: j}
		}
	}
	return token{kind: tokOther, start: i, end: i + 1}
}

// tokens of the completeness state machine (sqlite3_complete).
const (
	tkSEMI = iota
	tkWS
	tkOTHER
	tkEXPLAIN
	tkCREATE
	tkTEMP
	tkTRIGGER
	tkEND
)

// completeTrans is sqlite3_complete's transition table. States: 0 nothing
// seen yet, 1 between statements, 2 in a statement, 3 after EXPLAIN, 4 after
// CREATE [TEMP], 5 inside CREATE TRIGGER, 6 after ";" in a trigger, 7 after
// ";END" in a trigger. A statement is complete when a semicolon leads to 1.
var completeTrans = [8][8]uint8{
	/* 0 */ {1, 0, 2, 3, 4, 2, 2, 2},
	/* 1 */ {1, 1, 2, 3, 4, 2, 2, 2},
	/* 2 */ {1, 2, 2, 2, 2, 2, 2, 2},
	/* 3 */ {1, 3, 3, 2, 4, 2, 2, 2},
	/* 4 */ {1, 4, 2, 2, 2, 4, 5, 2},
	/* 5 */ {6, 5, 5, 5, 5, 5, 5, 5},
	/* 6 */ {6, 6, 5, 5, 5, 5, 5, 7},
	/* 7 */ {1, 7, 5, 5, 5, 5, 5, 5},
}

func completeToken(s string, t token) int {
	switch t.kind {
	case tokSpace, tokLineComment, tokBlockComment:
		return tkWS
	case tokSemi:
		return tkSEMI
	case tokWord:
		w := s[t.start:t.end]
		switch len(w) {
		case 3:
			if strings.EqualFold(w, "end") {
				return tkEND
			}
		case 4:
			if strings.EqualFold(w, "temp") {
				return tkTEMP
			}
		case 6:
			if strings.EqualFold(w, "create") {
				return tkCREATE
			}
		case 7:
			if strings.EqualFold(w, "trigger") {
				return tkTRIGGER
			}
			if strings.EqualFold(w, "explain") {
				return tkEXPLAIN
			}
		case 9:
			if strings.EqualFold(w, "temporary") {
				return tkTEMP
			}
		}
	}
	return tkOTHER
}

// Split cuts sql into statements exactly where sqlite3_complete would say a
// statement is complete: at a semicolon outside strings, quoted identifiers
// and comments, except inside CREATE TRIGGER ... BEGIN ... END where only
// ";END;" closes the statement. Empty statements (lone semicolons) are
// dropped. Text after the last complete statement that holds any token other
// than whitespace and comments becomes a final statement with
// Terminated=false; an unterminated string or comment extends it to the end.
func Split(sql string) []Statement {
	var out []Statement
	state := uint8(0)
	start := -1   // first byte of the statement being collected
	lastSig := -1 // end of the last significant token of that statement
	line := 1     // line at byte i
	startLine := 0
	lineAt := 0 // byte offset where line was last counted up to
	countTo := func(pos int) int {
		if pos > lineAt {
			line += strings.Count(sql[lineAt:pos], "\n")
			lineAt = pos
		}
		return line
	}
	for i := 0; i < len(sql); {
		t := scan(sql, i)
		tk := completeToken(sql, t)
		if start < 0 && tk != tkWS && tk != tkSEMI {
			start = t.start
			startLine = countTo(start)
		}
		if start >= 0 && tk != tkWS {
			lastSig = t.end
		}
		if t.open && start >= 0 {
			// An unclosed string, identifier or comment swallows the rest
			// of the input into the current statement.
			lastSig = len(sql)
		}
		state = completeTrans[state][tk]
		if tk == tkSEMI && state == 1 && start >= 0 {
			out = append(out, Statement{
				Text: sql[start:t.end], Line: startLine, EndLine: countTo(t.start),
				Start: start, End: t.end, Terminated: true,
			})
			start, lastSig = -1, -1
		}
		i = t.end
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

// transactionStatement reports whether a top-level statement is transaction
// control, following SQLite's grammar for the first two tokens so that
// "END IF;" of a pasted PL/pgSQL block is not mistaken for END. Remote D1
// rejects these in migrations; trigger bodies never reach here because a
// trigger is one CREATE statement.
func transactionStatement(stmt string) (string, bool) {
	toks := significantTokens(stmt, 2)
	if len(toks) == 0 || toks[0].kind != tokWord {
		return "", false
	}
	kw := strings.ToUpper(stmt[toks[0].start:toks[0].end])
	next := "" // "" when the statement ends after the keyword
	if len(toks) > 1 && toks[1].kind != tokSemi {
		next = strings.ToUpper(stmt[toks[1].start:toks[1].end])
		if toks[1].kind != tokWord {
			next = "?"
		}
	}
	switch kw {
	case "BEGIN":
		switch next {
		case "", "DEFERRED", "IMMEDIATE", "EXCLUSIVE", "TRANSACTION":
			return kw, true
		}
	case "COMMIT", "END":
		switch next {
		case "", "TRANSACTION":
			return kw, true
		}
	case "ROLLBACK":
		switch next {
		case "", "TRANSACTION", "TO":
			return kw, true
		}
	case "SAVEPOINT", "RELEASE":
		if next != "" {
			return kw, true
		}
	}
	return "", false
}

// significantTokens returns up to n tokens of stmt that are not whitespace
// or comments.
func significantTokens(stmt string, n int) []token {
	var out []token
	for i := 0; i < len(stmt) && len(out) < n; {
		t := scan(stmt, i)
		i = t.end
		switch t.kind {
		case tokSpace, tokLineComment, tokBlockComment:
			continue
		}
		out = append(out, t)
	}
	return out
}

// dmlVerb returns the verb of a data statement (DELETE, UPDATE, INSERT,
// REPLACE, SELECT, VALUES), looking past a leading WITH clause, together
// with whether a WHERE keyword appears at parenthesis depth 0 after the
// verb. Both come from tokens, so a WHERE inside a string, a comment or a
// sub-select does not count.
func dmlVerb(stmt string) (verb string, topWhere bool) {
	depth := 0
	seenWith := false
	first := true
	for i := 0; i < len(stmt); {
		t := scan(stmt, i)
		i = t.end
		switch t.kind {
		case tokSpace, tokLineComment, tokBlockComment:
			continue
		case tokOther:
			switch stmt[t.start] {
			case '(':
				depth++
			case ')':
				depth--
			}
		case tokWord:
			if depth != 0 {
				break
			}
			w := strings.ToUpper(stmt[t.start:t.end])
			if verb == "" {
				if first && w == "WITH" {
					seenWith = true
				}
				switch w {
				case "DELETE", "UPDATE", "INSERT", "REPLACE", "SELECT", "VALUES":
					verb = w
				}
			} else if w == "WHERE" {
				topWhere = true
			}
		}
		if verb == "" && first && !seenWith {
			// Not a WITH prefix: the verb must be the first token.
			return "", false
		}
		first = false
	}
	return verb, topWhere
}

// comment is one comment of a file with its 1-based line.
type comment struct {
	text string // without the comment markers
	line int
}

// comments returns every comment in sql, found with the same tokenizer as
// Split so that comment markers inside strings are not comments.
func comments(sql string) []comment {
	var out []comment
	line := 1
	for i := 0; i < len(sql); {
		t := scan(sql, i)
		switch t.kind {
		case tokLineComment:
			out = append(out, comment{text: sql[t.start+2 : t.end], line: line})
		case tokBlockComment:
			body := sql[t.start+2 : t.end]
			if !t.open {
				body = body[:len(body)-2]
			}
			out = append(out, comment{text: body, line: line})
		}
		line += strings.Count(sql[t.start:t.end], "\n")
		i = t.end
	}
	return out
}
