package cfemu

import "strings"

// statement is one SQL statement of a D1 query batch.
type statement struct {
	SQL       string // the statement text, trimmed, without its ';'
	Keyword   string // first keyword, upper case ("" when it starts otherwise)
	Returning bool   // a RETURNING clause makes a write produce rows
}

// splitSQL splits a batch into statements at top-level semicolons, the way
// SQLite's sqlite3_complete() sees them: quoted text (single, double,
// backtick and bracket quotes) and comments
// (--, /* */) hide semicolons, and inside CREATE TRIGGER only "; END ;"
// ends the statement. Segments holding only comments are dropped. It never
// fails: text SQLite cannot parse is still returned so that SQLite reports the
// error, as D1 would.
func splitSQL(src string) []statement {
	var out []statement
	start := 0
	var (
		words      []string // first words of the current statement (up to 3)
		hasToken   bool
		inTrigger  bool
		afterSemi  bool // inside a trigger: the previous token was ';'
		endAfter   bool // inside a trigger: the previous tokens were '; END'
		returning  bool
		firstIsKey bool
	)
	flush := func(end int) {
		if hasToken {
			st := statement{SQL: strings.TrimSpace(src[start:end]), Returning: returning}
			if firstIsKey && len(words) > 0 {
				st.Keyword = words[0]
			}
			out = append(out, st)
		}
		words, hasToken, inTrigger, afterSemi, endAfter, returning, firstIsKey = nil, false, false, false, false, false, false
	}
	token := func() { // a token other than a word or ';'
		if !hasToken {
			firstIsKey = false
		}
		hasToken = true
		afterSemi, endAfter = false, false
	}
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			j := strings.IndexByte(src[i:], '\n')
			if j < 0 {
				i = len(src)
			} else {
				i += j + 1
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			j := strings.Index(src[i+2:], "*/")
			if j < 0 {
				i = len(src)
			} else {
				i += 2 + j + 2
			}
		case c == '\'' || c == '"' || c == '`':
			token()
			i = skipQuoted(src, i, c)
		case c == '[':
			token()
			j := strings.IndexByte(src[i:], ']')
			if j < 0 {
				i = len(src)
			} else {
				i += j + 1
			}
		case c == ';':
			if inTrigger && !endAfter {
				afterSemi, endAfter = true, false
				i++
				continue
			}
			flush(i)
			i++
			start = i
		case isWordByte(c):
			j := i
			for j < len(src) && isWordByte(src[j]) {
				j++
			}
			w := strings.ToUpper(src[i:j])
			if !hasToken {
				firstIsKey = c < '0' || c > '9'
			}
			hasToken = true
			if len(words) < 3 {
				words = append(words, w)
				if isCreateTrigger(words) {
					inTrigger = true
				}
			}
			if w == "RETURNING" {
				returning = true
			}
			endAfter = inTrigger && afterSemi && w == "END"
			afterSemi = false
			i = j
		default:
			token()
			i++
		}
	}
	flush(len(src))
	return out
}

func isCreateTrigger(words []string) bool {
	if len(words) < 2 || words[0] != "CREATE" {
		return false
	}
	if words[1] == "TRIGGER" {
		return true
	}
	return len(words) == 3 && (words[1] == "TEMP" || words[1] == "TEMPORARY") && words[2] == "TRIGGER"
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 ||
		(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// skipQuoted returns the index after the quoted token starting at i; a
// doubled quote character is an escaped quote.
func skipQuoted(src string, i int, q byte) int {
	j := i + 1
	for j < len(src) {
		if src[j] == q {
			if j+1 < len(src) && src[j+1] == q {
				j += 2
				continue
			}
			return j + 1
		}
		j++
	}
	return len(src)
}
