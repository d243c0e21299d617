package migrations

import (
	"strings"

	"github.com/guardcm/guard/internal/sqlsplit"
)

// Statement is one SQL statement of a migration file as SQLite would see it
// (see internal/sqlsplit, the one splitter the replay and the emulated D1
// share).
type Statement = sqlsplit.Statement

// Split cuts a migration file into statements where SQLite's own
// sqlite3_complete says each one ends.
func Split(sql string) []Statement { return sqlsplit.Split(sql) }

type token = sqlsplit.Token

func scan(s string, i int) token { return sqlsplit.Scan(s, i) }

// transactionStatement reports whether a top-level statement is transaction
// control, following SQLite's grammar for the first two tokens so that
// "END IF;" of a pasted PL/pgSQL block is not mistaken for END. Remote D1
// rejects these in migrations; trigger bodies never reach here because a
// trigger is one CREATE statement.
func transactionStatement(stmt string) (string, bool) {
	toks := significantTokens(stmt, 2)
	if len(toks) == 0 || toks[0].Kind != sqlsplit.Word {
		return "", false
	}
	kw := strings.ToUpper(stmt[toks[0].Start:toks[0].End])
	next := "" // "" when the statement ends after the keyword
	if len(toks) > 1 && toks[1].Kind != sqlsplit.Semi {
		next = strings.ToUpper(stmt[toks[1].Start:toks[1].End])
		if toks[1].Kind != sqlsplit.Word {
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
		i = t.End
		switch t.Kind {
		case sqlsplit.Space, sqlsplit.LineComment, sqlsplit.BlockComment:
			continue
		}
		out = append(out, t)
	}
	return out
}

// tokenName is identifier token t of stmt as SQLite reads it: without its
// quotes.
func tokenName(stmt string, t token) string {
	name := stmt[t.Start:t.End]
	if t.Kind == sqlsplit.Quoted && len(name) >= 2 {
		name = name[1 : len(name)-1]
	}
	return name
}

// objectName reads the [schema.]name that starts at toks[i]: the name, the
// index of the token after it, and ok false when the tokens end first.
func objectName(stmt string, toks []token, i int) (name string, next int, ok bool) {
	if i+2 < len(toks) && stmt[toks[i+1].Start:toks[i+1].End] == "." {
		i += 2
	}
	if i >= len(toks) {
		return "", i, false
	}
	return tokenName(stmt, toks[i]), i + 1, true
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
		i = t.End
		switch t.Kind {
		case sqlsplit.Space, sqlsplit.LineComment, sqlsplit.BlockComment:
			continue
		case sqlsplit.Other:
			switch stmt[t.Start] {
			case '(':
				depth++
			case ')':
				depth--
			}
		case sqlsplit.Word:
			if depth != 0 {
				break
			}
			w := strings.ToUpper(stmt[t.Start:t.End])
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
		switch t.Kind {
		case sqlsplit.LineComment:
			out = append(out, comment{text: sql[t.Start+2 : t.End], line: line})
		case sqlsplit.BlockComment:
			body := sql[t.Start+2 : t.End]
			if !t.Open {
				body = body[:len(body)-2]
			}
			out = append(out, comment{text: body, line: line})
		}
		line += strings.Count(sql[t.Start:t.End], "\n")
		i = t.End
	}
	return out
}
