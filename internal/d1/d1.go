// Package d1 states what Cloudflare D1 refuses although SQLite runs it,
// each fact with the page that documents it. The migration checker's
// replay (package migrations) reports these as findings, and the emulated
// D1 (internal/cfemu) refuses them as D1 does, from this one list, so the
// two never disagree about what D1 accepts.
package d1

import (
	"strings"

	sqlite "modernc.org/sqlite"
)

// The pages the facts come from.
const (
	DocForeignKeys = "https://developers.cloudflare.com/d1/sql-api/foreign-keys/"
	DocSQLStmts    = "https://developers.cloudflare.com/d1/sql-api/sql-statements/"
	// D1's documentation does not list temporary objects; the refusal is
	// observed by users (SQLITE_AUTH), as in this wrangler issue.
	DocTempTables = "https://github.com/cloudflare/workers-sdk/issues/4298"
	DocMigrations = "https://developers.cloudflare.com/d1/reference/migrations/"
)

// compatiblePragmas are the PRAGMA statements D1 documents as compatible
// ("Compatible PRAGMA statements", DocSQLStmts); D1's authorizer refuses
// any other.
var compatiblePragmas = map[string]bool{
	"table_list": true, "table_info": true, "table_xinfo": true,
	"index_list": true, "index_info": true, "index_xinfo": true,
	"quick_check": true, "foreign_key_check": true, "foreign_key_list": true,
	"case_sensitive_like": true, "ignore_check_constraints": true,
	"legacy_alter_table": true, "recursive_triggers": true,
	"reverse_unordered_selects": true, "foreign_keys": true,
	"defer_foreign_keys": true, "optimize": true,
}

// CompatiblePragma reports whether D1 runs PRAGMA name (any case).
func CompatiblePragma(name string) bool { return compatiblePragmas[strings.ToLower(name)] }

// Refusal says why D1's authorizer refuses an action SQLite's authorizer
// reports (arg1 and arg2 as SQLite passes them), or "" when D1 allows it.
// Transaction control is refused before any statement runs, with its own
// message (see the emulator), and is not repeated here.
func Refusal(action sqlite.AuthorizerActionCode, arg1, arg2 string) string {
	switch action {
	case sqlite.AuthAttach, sqlite.AuthDetach:
		return "D1 does not offer ATTACH or DETACH"
	case sqlite.AuthCreateTempIndex, sqlite.AuthCreateTempTable, sqlite.AuthCreateTempTrigger, sqlite.AuthCreateTempView,
		sqlite.AuthDropTempIndex, sqlite.AuthDropTempTable, sqlite.AuthDropTempTrigger, sqlite.AuthDropTempView:
		return "D1 refuses temporary tables, views, indexes and triggers (" + DocTempTables + ")"
	case sqlite.AuthPragma:
		if !CompatiblePragma(arg1) {
			return "PRAGMA " + arg1 + " is not one of the PRAGMA statements D1 supports (" + DocSQLStmts + ")"
		}
	case sqlite.AuthFunction:
		if strings.EqualFold(arg2, "load_extension") {
			return "D1 does not load extensions"
		}
	}
	return ""
}
