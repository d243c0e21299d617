package cfemu

import (
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

type d1Result struct {
	Results json.RawMessage `json:"results"`
	Success bool            `json:"success"`
	Meta    struct {
		Changes   int64 `json:"changes"`
		LastRowID int64 `json:"last_row_id"`
		ChangedDB bool  `json:"changed_db"`
	} `json:"meta"`
}

func d1Query(t *testing.T, c *apiClient, db, endpoint, sql string, params ...any) (response, []d1Result) {
	t.Helper()
	body := map[string]any{"sql": sql}
	if len(params) > 0 {
		body["params"] = params
	}
	r := c.json("POST", "/accounts/"+acct+"/d1/database/"+db+"/"+endpoint, body)
	var out []d1Result
	if r.Success {
		if err := json.Unmarshal(r.Result, &out); err != nil {
			t.Fatalf("D1 result: %v: %s", err, r.Result)
		}
	}
	return r, out
}

func TestD1Query(t *testing.T) {
	e, c := newTestServer(t, WithD1Database(acct, "db-uuid", "appdb"))

	r, res := d1Query(t, c, "db-uuid", "query", "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT); INSERT INTO users(email) VALUES ('a@x'); INSERT INTO users(email) VALUES ('b@x')")
	mustOK(t, r, "create + insert")
	if len(res) != 3 || res[2].Meta.Changes != 1 || res[2].Meta.LastRowID != 2 || !res[2].Meta.ChangedDB {
		t.Fatalf("per-statement results = %+v", res)
	}

	// By name as well as by UUID, with params, rows as objects.
	r, res = d1Query(t, c, "appdb", "query", "SELECT id, email FROM users WHERE email = ?", "b@x")
	mustOK(t, r, "select by name")
	if string(res[0].Results) != `[{"email":"b@x","id":2}]` {
		t.Fatalf("rows = %s", res[0].Results)
	}
	r, res = d1Query(t, c, "db-uuid", "raw", "SELECT id, email FROM users ORDER BY id")
	mustOK(t, r, "raw")
	if string(res[0].Results) != `{"columns":["id","email"],"rows":[[1,"a@x"],[2,"b@x"]]}` {
		t.Fatalf("raw rows = %s", res[0].Results)
	}
	r, res = d1Query(t, c, "db-uuid", "query", "INSERT INTO users(email) VALUES ('c@x') RETURNING id")
	mustOK(t, r, "returning")
	if string(res[0].Results) != `[{"id":3}]` {
		t.Fatalf("RETURNING rows = %s", res[0].Results)
	}

	// A failing statement rolls the whole batch back, like a failing
	// migration file on D1.
	r, _ = d1Query(t, c, "db-uuid", "query", "INSERT INTO users(email) VALUES ('d@x'); INSERT INTO nowhere VALUES (1)")
	mustFail(t, r, 400, codeD1Query, "failing batch")
	if !strings.Contains(r.Errors[0].Message, "no such table: nowhere") || !strings.Contains(r.Errors[0].Message, "statement 2") {
		t.Fatalf("error message = %q", r.Errors[0].Message)
	}
	_, res = d1Query(t, c, "db-uuid", "query", "SELECT count(*) AS n FROM users")
	if string(res[0].Results) != `[{"n":3}]` {
		t.Fatalf("failed batch was not rolled back: %s", res[0].Results)
	}

	// Remote D1 refuses transaction statements.
	for _, sql := range []string{"BEGIN TRANSACTION; CREATE TABLE t(x); COMMIT;", "SAVEPOINT a", "create table t(x); commit"} {
		r, _ = d1Query(t, c, "db-uuid", "query", sql)
		mustFail(t, r, 400, codeD1Query, sql)
		if !strings.Contains(r.Errors[0].Message, "BEGIN TRANSACTION") {
			t.Errorf("%q: message %q", sql, r.Errors[0].Message)
		}
	}
	r, _ = d1Query(t, c, "db-uuid", "query", "CREATE TABLE x (id INTEGER PRIMARY KEY;")
	mustFail(t, r, 400, codeD1Query, "syntax error")
	r, _ = d1Query(t, c, "db-uuid", "query", "-- only a comment")
	mustFail(t, r, 400, codeD1Query, "no statements")
	r, _ = d1Query(t, c, "db-uuid", "query", "SELECT 1; SELECT ?", 1)
	mustFail(t, r, 400, codeD1Query, "params with two statements")
	r, _ = d1Query(t, c, "nope", "query", "SELECT 1")
	mustFail(t, r, 404, codeD1NotFound, "unknown database")

	// Triggers keep their inner semicolons.
	r, _ = d1Query(t, c, "db-uuid", "query", `CREATE TABLE audit(email TEXT);
CREATE TRIGGER users_audit AFTER INSERT ON users BEGIN
  INSERT INTO audit VALUES (new.email);
  INSERT INTO audit VALUES (new.email || ';');
END;
INSERT INTO users(email) VALUES ('t@x');`)
	mustOK(t, r, "trigger")
	_, res = d1Query(t, c, "db-uuid", "query", "SELECT count(*) AS n FROM audit")
	if string(res[0].Results) != `[{"n":2}]` {
		t.Fatalf("trigger rows = %s", res[0].Results)
	}

	j := e.Snapshot().Accounts[acct].D1["db-uuid"].Journal
	if len(j) != 3 {
		t.Fatalf("journal has %d entries, want the 3 writes: %+v", len(j), j)
	}
}

func TestD1Databases(t *testing.T) {
	_, c := newTestServer(t)
	base := "/accounts/" + acct + "/d1/database"
	r := c.json("POST", base, map[string]string{"name": "made"})
	mustOK(t, r, "create")
	var db struct{ UUID, Name string }
	json.Unmarshal(r.Result, &db)
	if db.UUID == "" || db.Name != "made" {
		t.Fatalf("created = %s", r.Result)
	}
	mustFail(t, c.json("POST", base, map[string]string{"name": "made"}), 400, codeD1BadInput, "duplicate name")
	r = c.json("GET", base+"?name=made", nil)
	mustOK(t, r, "list")
	if !strings.Contains(string(r.Result), db.UUID) || r.ResultInfo == nil || r.ResultInfo.TotalCount != 1 {
		t.Fatalf("list = %s %+v", r.Result, r.ResultInfo)
	}
	mustOK(t, c.json("GET", base+"/"+db.UUID, nil), "get")
	mustFail(t, c.json("GET", base+"/nope", nil), 404, codeD1NotFound, "get unknown")
}

func TestD1Bookmark(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	_, c := newTestServer(t, WithClock(clock), WithD1Database(acct, "db", "app"))
	bm := func(query string) string {
		t.Helper()
		r := c.json("GET", "/accounts/"+acct+"/d1/database/db/time_travel/bookmark"+query, nil)
		mustOK(t, r, "bookmark"+query)
		var out struct{ Bookmark string }
		json.Unmarshal(r.Result, &out)
		if out.Bookmark == "" {
			t.Fatalf("empty bookmark: %s", r.Result)
		}
		return out.Bookmark
	}
	b0 := bm("")
	if b0 != bm("") {
		t.Fatal("bookmark changed without a write")
	}
	d1Query(t, c, "db", "query", "SELECT 1")
	if b0 != bm("") {
		t.Fatal("bookmark changed after a read")
	}
	now = now.Add(time.Minute)
	d1Query(t, c, "db", "query", "CREATE TABLE t(x)")
	b1 := bm("")
	if b1 == b0 {
		t.Fatal("bookmark did not change after a write")
	}
	if got := bm("?timestamp=" + url.QueryEscape(now.Add(-30*time.Second).Format(time.RFC3339))); got != b0 {
		t.Fatalf("bookmark before the write = %s, want %s", got, b0)
	}
	if got := bm("?timestamp=" + url.QueryEscape(now.Add(30*time.Second).Format(time.RFC3339))); got != b1 {
		t.Fatalf("bookmark after the write = %s, want %s", got, b1)
	}
	mustFail(t, c.json("GET", "/accounts/"+acct+"/d1/database/db/time_travel/bookmark?timestamp=yesterday", nil), 400, codeD1BadInput, "bad timestamp")
	old := url.QueryEscape(now.Add(-31 * 24 * time.Hour).Format(time.RFC3339))
	mustFail(t, c.json("GET", "/accounts/"+acct+"/d1/database/db/time_travel/bookmark?timestamp="+old, nil), 400, codeD1BadInput, "beyond 30 days")
	mustFail(t, c.json("GET", "/accounts/"+acct+"/d1/database/nope/time_travel/bookmark", nil), 404, codeD1NotFound, "unknown db")
}

func TestSplitSQL(t *testing.T) {
	cases := []struct {
		in   string
		want []statement
	}{
		{"", nil},
		{"  -- just a comment\n /* and another */ ", nil},
		{"SELECT 1", []statement{{SQL: "SELECT 1", Keyword: "SELECT"}}},
		{"select 1;;  ;select 2;", []statement{{SQL: "select 1", Keyword: "SELECT"}, {SQL: "select 2", Keyword: "SELECT"}}},
		{"INSERT INTO t VALUES ('a;b', \"c;d\", `e;f`, [g;h]); -- x;y\nSELECT 2 /* ; */",
			[]statement{{SQL: "INSERT INTO t VALUES ('a;b', \"c;d\", `e;f`, [g;h])", Keyword: "INSERT"}, {SQL: "SELECT 2", Keyword: "SELECT"}}},
		{"SELECT 'it''s; fine'; SELECT 3", []statement{{SQL: "SELECT 'it''s; fine'", Keyword: "SELECT"}, {SQL: "SELECT 3", Keyword: "SELECT"}}},
		{"CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN SELECT CASE WHEN 1 THEN 2 END; UPDATE t SET x = 1; END; SELECT 1",
			[]statement{{SQL: "CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN SELECT CASE WHEN 1 THEN 2 END; UPDATE t SET x = 1; END", Keyword: "CREATE"}, {SQL: "SELECT 1", Keyword: "SELECT"}}},
		{"UPDATE t SET x = 1 RETURNING x", []statement{{SQL: "UPDATE t SET x = 1 RETURNING x", Keyword: "UPDATE", Returning: true}}},
		{"(SELECT 1)", []statement{{SQL: "(SELECT 1)"}}},
		{"SELECT 'unterminated; still one", []statement{{SQL: "SELECT 'unterminated; still one", Keyword: "SELECT"}}},
		{"begin; commit", []statement{{SQL: "begin", Keyword: "BEGIN"}, {SQL: "commit", Keyword: "COMMIT"}}},
	}
	for _, c := range cases {
		got := splitSQL(c.in)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("splitSQL(%q)\n got %+v\nwant %+v", c.in, got, c.want)
		}
	}
}

// FuzzSplitSQL checks the splitter's invariants on arbitrary input: it
// never panics, every statement is a trimmed, non-empty piece of the input,
// pieces appear in input order without overlapping, and the keyword is an
// upper-cased word.
func FuzzSplitSQL(f *testing.F) {
	for _, s := range []string{
		"SELECT 1; SELECT 2",
		"CREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT 1; END; SELECT 2",
		"INSERT INTO t VALUES ('a;b'); -- c;\n/* d; */ SELECT \"e;\"",
		"[a;b]; `c;d`",
		"'unterminated",
		"/* unterminated",
		"UPDATE t SET a=1 RETURNING a;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		pos := 0
		for _, st := range splitSQL(src) {
			if st.SQL == "" || st.SQL != strings.TrimSpace(st.SQL) {
				t.Fatalf("statement %q is empty or untrimmed", st.SQL)
			}
			i := strings.Index(src[pos:], st.SQL)
			if i < 0 {
				t.Fatalf("statement %q is not a later piece of %q", st.SQL, src)
			}
			pos += i + len(st.SQL)
			if st.Keyword != strings.ToUpper(st.Keyword) || strings.ContainsAny(st.Keyword, " ;'\"") {
				t.Fatalf("keyword %q", st.Keyword)
			}
			if st.Keyword != "" && !strings.HasPrefix(strings.ToUpper(st.SQL), st.Keyword) && !strings.Contains(strings.ToUpper(st.SQL), st.Keyword) {
				t.Fatalf("keyword %q not in %q", st.Keyword, st.SQL)
			}
		}
	})
}

// D1 enforces foreign keys, and a batch cannot turn them off (it runs in
// a transaction, where PRAGMA foreign_keys changes nothing).
func TestD1ForeignKeysEnforced(t *testing.T) {
	db, err := openSQLite()
	if err != nil {
		t.Fatal(err)
	}
	defer db.close()
	if _, err := db.run("CREATE TABLE p(id INTEGER PRIMARY KEY); CREATE TABLE c(p_id INTEGER REFERENCES p(id)); INSERT INTO p VALUES (1); INSERT INTO c VALUES (1);", nil, true); err != nil {
		t.Fatal(err)
	}
	_, err = db.run("PRAGMA foreign_keys = OFF; DELETE FROM p;", nil, true)
	if err == nil || !strings.Contains(err.Error(), "FOREIGN KEY constraint failed") {
		t.Fatalf("DELETE of a referenced parent: err = %v, want FOREIGN KEY constraint failed", err)
	}
}

// The emulated D1 refuses what D1's authorizer refuses (internal/d1), and
// the whole batch with it, while the PRAGMAs D1 supports run; the
// emulator's own replay of its journal is not a client's query.
func TestD1RefusesWhatD1Refuses(t *testing.T) {
	db, err := openSQLite()
	if err != nil {
		t.Fatal(err)
	}
	defer db.close()
	if _, err := db.run("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); PRAGMA table_list; PRAGMA defer_foreign_keys = on;", nil, true); err != nil {
		t.Fatalf("D1 runs these: %v", err)
	}
	for _, tc := range []struct{ sql, why string }{
		{"INSERT INTO t(v) VALUES ('a'); CREATE TEMP TABLE scratch(a)", "temporary"},
		{"CREATE TEMPORARY VIEW v AS SELECT 1", "temporary"},
		{"PRAGMA writable_schema = ON", "PRAGMA writable_schema"},
		{"PRAGMA journal_mode = OFF", "PRAGMA journal_mode"},
		{"ATTACH ':memory:' AS other", "ATTACH"},
	} {
		_, err := db.run(tc.sql, nil, true)
		if err == nil || !strings.Contains(err.Error(), "not authorized: SQLITE_AUTH") || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%s: err = %v, want not authorized (%s)", tc.sql, err, tc.why)
		}
	}
	res, err := db.run("SELECT count(*) FROM t", nil, true)
	if err != nil || fmt.Sprint(res.Stmts[0].Rows) != "[[0]]" {
		t.Fatalf("a refused batch must leave nothing: %v %v", res, err)
	}
	// Internal queries (the change mark reads PRAGMA schema_version) and a
	// journal replay are the emulator's own.
	if _, err := db.run("PRAGMA user_version = 2", nil, false); err != nil {
		t.Fatalf("journal replay: %v", err)
	}
	if _, err := db.run("INSERT INTO t(v) VALUES ('b')", nil, true); err != nil {
		t.Fatalf("after a refusal the next batch runs: %v", err)
	}
}
