package migrations

import (
	"fmt"
	"strings"

	"github.com/guardcm/guard/internal/d1"
	"github.com/guardcm/guard/internal/sqlsplit"
)

// d1Refusal is a statement D1 refuses (or ignores) although SQLite runs it.
type d1Refusal struct {
	rule string
	msg  string
	fix  string
}

// pragmaRefusal classifies one PRAGMA a statement uses. value is "" when
// the pragma is only read.
func pragmaRefusal(name, value string) *d1Refusal {
	n := lowerASCII(name)
	switch {
	case n == "foreign_keys" && turnsOff(value):
		return &d1Refusal{rule: RulePragmaNoEffect,
			msg: fmt.Sprintf("PRAGMA foreign_keys = %s has no effect on D1: D1 enforces foreign keys in every query and migration and runs each migration file inside a transaction, where this pragma cannot change (%s)", value, d1.DocForeignKeys),
			fix: "remove it; to allow violations until the end of the file use PRAGMA defer_foreign_keys = on, which still lets ON DELETE CASCADE delete child rows when a parent table is dropped"}
	case !d1.CompatiblePragma(n):
		return &d1Refusal{rule: RuleD1Unsupported,
			msg: fmt.Sprintf("PRAGMA %s is not one of the PRAGMA statements D1 supports (%s); D1 refuses the migration", name, d1.DocSQLStmts),
			fix: "remove the PRAGMA from the migration"}
	}
	return nil
}

func tempRefusal(what string) *d1Refusal {
	return &d1Refusal{rule: RuleD1Unsupported,
		msg: fmt.Sprintf("%s: D1 refuses temporary tables, views, indexes and triggers with \"not authorized\" (SQLITE_AUTH; %s)", what, d1.DocTempTables),
		fix: "use an ordinary table and drop it at the end of the migration"}
}

// leadingWords returns up to n leading keywords of a statement, upper case,
// read with the tokenizer (comments and quoted names are not keywords).
func leadingWords(stmt string, n int) []string {
	var out []string
	for _, t := range significantTokens(stmt, n) {
		if t.Kind != sqlsplit.Word {
			break
		}
		out = append(out, strings.ToUpper(stmt[t.Start:t.End]))
	}
	return out
}

// vacuumStatement reports VACUUM, which D1 does not run inside a migration
// (a migration is one transaction; SQLite itself refuses VACUUM there).
func vacuumStatement(stmt string) bool {
	w := leadingWords(stmt, 1)
	return len(w) == 1 && w[0] == "VACUUM"
}

// turnsOff reports a pragma value that switches a boolean pragma off.
// Turning foreign keys on is what D1 does anyway, so only off is a hazard.
func turnsOff(v string) bool {
	switch lowerASCII(strings.Trim(v, `'"`)) {
	case "off", "false", "no", "0":
		return true
	}
	return false
}

// addedColumn names the column of ALTER TABLE t ADD [COLUMN] c, read with
// the tokenizer; ok is false for any other statement.
func addedColumn(stmt string) (table, column string, ok bool) {
	return alteredColumn(stmt, "ADD")
}

// droppedColumn names the column of ALTER TABLE t DROP [COLUMN] c.
func droppedColumn(stmt string) (table, column string, ok bool) {
	return alteredColumn(stmt, "DROP")
}

// alteredColumn reads ALTER TABLE [s.]t <verb> [COLUMN] c with the
// tokenizer.
func alteredColumn(stmt, verb string) (table, column string, ok bool) {
	toks := significantTokens(stmt, 8)
	word := func(i int) string {
		if i >= len(toks) {
			return ""
		}
		return strings.ToUpper(stmt[toks[i].Start:toks[i].End])
	}
	if word(0) != "ALTER" || word(1) != "TABLE" || len(toks) < 5 {
		return "", "", false
	}
	table, i, _ := objectName(stmt, toks, 2)
	if word(i) != verb || i+1 >= len(toks) {
		return "", "", false
	}
	c := i + 1
	if word(c) == "COLUMN" {
		c++
	}
	if c >= len(toks) {
		return "", "", false
	}
	return table, tokenName(stmt, toks[c]), true
}

// updatedColumns reads UPDATE [OR action] [schema.]table SET c = expr, ...
// with the tokenizer: the table and the columns assigned. ok is false for
// any other statement, a WITH prefix, or a row-value assignment (SET (a, b)
// = ...), which callers then treat as touching anything.
func updatedColumns(stmt string) (table string, cols []string, ok bool) {
	toks := significantTokens(stmt, len(stmt))
	text := func(i int) string { return stmt[toks[i].Start:toks[i].End] }
	upper := func(i int) string {
		if i >= len(toks) {
			return ""
		}
		return strings.ToUpper(text(i))
	}
	if upper(0) != "UPDATE" {
		return "", nil, false
	}
	i := 1
	if upper(i) == "OR" {
		i += 2
	}
	table, i, ok = objectName(stmt, toks, i)
	if !ok {
		return "", nil, false
	}
	for ; i < len(toks) && upper(i) != "SET"; i++ {
	}
	i++
	for {
		if i >= len(toks) || (toks[i].Kind != sqlsplit.Word && toks[i].Kind != sqlsplit.Quoted) {
			return "", nil, false
		}
		cols = append(cols, tokenName(stmt, toks[i]))
		if i++; i >= len(toks) || text(i) != "=" {
			return "", nil, false
		}
		depth := 0
		for i++; ; i++ {
			if i >= len(toks) {
				return table, cols, true
			}
			if toks[i].Kind == sqlsplit.Other {
				switch text(i) {
				case "(":
					depth++
				case ")":
					depth--
				}
			}
			if depth != 0 {
				continue
			}
			if toks[i].Kind == sqlsplit.Other && text(i) == "," {
				i++
				break
			}
			if toks[i].Kind == sqlsplit.Word {
				switch upper(i) {
				case "FROM", "WHERE", "RETURNING", "ORDER", "LIMIT":
					return table, cols, true
				}
			}
		}
	}
}
