package migrations

import (
	"strings"
	"testing"
)

// FuzzSameSQL checks the comment-only comparison of edited migrations:
// a text always has the same SQL as itself, as itself with comments and
// whitespace added around statements, and never as itself with a token
// changed. It also feeds the token helpers that read statement heads
// (addedColumn, dropTarget, leadingWords), which must not fail on any input.
func FuzzSameSQL(f *testing.F) {
	for _, s := range []string{
		"CREATE TABLE t(id INTEGER PRIMARY KEY, x TEXT); -- first",
		"-- Migration number: 0001 \t 2024-01-01\nALTER TABLE t ADD COLUMN y TEXT;",
		"/* block */ DROP TABLE IF EXISTS \"a\".\"b\";",
		"INSERT INTO t VALUES ('--not a comment', \"/*x*/\");",
		"ALTER TABLE main.users ADD COLUMN `email` TEXT NOT NULL;",
		"DROP TABLE IF EXISTS",
		"SELECT 'unterminated",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !sameSQL(s, s) {
			t.Fatalf("sameSQL(s, s) is false for %q", s)
		}
		padded := "-- added comment\n" + s
		if !strings.Contains(s, "/*") && !sameSQL(s, padded) {
			t.Fatalf("a leading comment changed the SQL of %q", s)
		}
		if !endsOpen(s) && sameSQL(s, s+"\nx") {
			t.Fatalf("an added token went unnoticed in %q", s)
		}
		addedColumn(s)
		droppedColumn(s)
		uniqueIndexIfNotExists(s)
		if _, cols, ok := updatedColumns(s); ok && len(cols) == 0 {
			t.Fatalf("updatedColumns(%q) is ok with no column", s)
		}
		leadingWords(s, 4)
		if w := leadingWords(s, 4); len(w) == 4 && w[0] == "DROP" {
			dropTarget(s)
		}
	})
}

// endsOpen reports text whose last token (a string, quoted name or block
// comment) is never closed, so that anything appended belongs to it.
func endsOpen(s string) bool {
	open := false
	for i := 0; i < len(s); {
		t := scan(s, i)
		i = t.End
		open = t.Open
	}
	return open
}
