package cfemu

import (
	"strings"

	"github.com/guardcm/guard/internal/sqlsplit"
)

// statement is one SQL statement of a D1 query batch.
type statement struct {
	SQL       string // the statement text, trimmed, without its ';'
	Keyword   string // first keyword, upper case ("" when it starts otherwise)
	Returning bool   // a RETURNING clause makes a write produce rows
}

// splitSQL splits a batch into statements with internal/sqlsplit, the
// splitter the migration checker uses too (SQLite's own sqlite3_complete
// decides where a statement ends), so the checker and the emulated D1
// never disagree. Segments holding only comments are dropped. It never
// fails: text SQLite cannot parse is still returned so that SQLite reports
// the error, as D1 would.
func splitSQL(src string) []statement {
	var out []statement
	for _, st := range sqlsplit.Split(src) {
		text := strings.TrimSpace(strings.TrimSuffix(st.Text, ";"))
		s := statement{SQL: text}
		first := true
		for i := 0; i < len(text); {
			t := sqlsplit.Scan(text, i)
			i = t.End
			if t.Insignificant() {
				continue
			}
			if t.Kind == sqlsplit.Word {
				w := strings.ToUpper(text[t.Start:t.End])
				if first && (w[0] < '0' || w[0] > '9') {
					s.Keyword = w
				}
				if w == "RETURNING" {
					s.Returning = true
				}
			}
			first = false
		}
		out = append(out, s)
	}
	return out
}
