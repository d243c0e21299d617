package d1

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	sqlite "modernc.org/sqlite"
)

// TestRefusalThroughSQLite runs statements through SQLite's own authorizer
// with Refusal deciding, so the actions are the ones SQLite really reports.
func TestRefusalThroughSQLite(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var why string
	err = conn.Raw(func(dc any) error {
		return dc.(sqlite.AuthorizerRegisterer).RegisterAuthorizer(func(a sqlite.AuthorizerActionCode, a1, a2, _, _ string) sqlite.AuthorizerReturnCode {
			if r := Refusal(a, a1, a2); r != "" {
				why = r
				return sqlite.AuthorizerDeny
			}
			return sqlite.AuthorizerOK
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		stmt, refused string // refused: part of the reason, "" when D1 runs it
	}{
		{"CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)", ""},
		{"CREATE INDEX t_v ON t(v)", ""},
		{"INSERT INTO t(v) VALUES ('a')", ""},
		{"PRAGMA table_list", ""},
		{"PRAGMA foreign_keys = OFF", ""},
		{"PRAGMA defer_foreign_keys = on", ""},
		{"PRAGMA Table_Info(t)", ""},
		{"CREATE TEMP TABLE x(a)", "temporary"},
		{"CREATE TEMPORARY VIEW v AS SELECT 1", "temporary"},
		{"CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END", "temporary"},
		{"PRAGMA writable_schema = ON", "PRAGMA writable_schema"},
		{"PRAGMA journal_mode", "PRAGMA journal_mode"},
		{"PRAGMA user_version = 3", "PRAGMA user_version"},
		{"ATTACH ':memory:' AS other", "ATTACH"},
		{"SELECT load_extension('x')", "extensions"},
	} {
		why = ""
		_, err := conn.ExecContext(ctx, tc.stmt)
		if tc.refused == "" {
			if err != nil {
				t.Errorf("%s: D1 runs it, got %v (%s)", tc.stmt, err, why)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "not authorized") || !strings.Contains(why, tc.refused) {
			t.Errorf("%s: want refused (%q), got err %v, reason %q", tc.stmt, tc.refused, err, why)
		}
	}
}
