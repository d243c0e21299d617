package migrations

import "testing"

func TestDMLVerb(t *testing.T) {
	for _, c := range []struct {
		in    string
		verb  string
		where bool
	}{
		{"DELETE FROM t", "DELETE", false},
		{"delete from t where x", "DELETE", true},
		{"UPDATE t SET a = (SELECT b FROM u WHERE c)", "UPDATE", false},
		{"UPDATE t SET a = 'WHERE' /* WHERE */ -- WHERE\n", "UPDATE", false},
		{"UPDATE t SET a = 1 FROM (SELECT 1 WHERE 1) AS s", "UPDATE", false},
		{"WITH RECURSIVE c(x) AS (SELECT 1 WHERE 1) DELETE FROM t", "DELETE", false},
		{"WITH c AS (SELECT 1) UPDATE t SET a = 1 WHERE a IN c", "UPDATE", true},
		{"INSERT INTO t SELECT * FROM u WHERE 1", "INSERT", true},
		{"CREATE TRIGGER x AFTER INSERT ON t BEGIN DELETE FROM t; END", "", false},
		{"\"DELETE\" FROM t", "", false},
	} {
		verb, where := dmlVerb(c.in)
		if verb != c.verb || where != c.where {
			t.Errorf("dmlVerb(%q) = %q, %v; want %q, %v", c.in, verb, where, c.verb, c.where)
		}
	}
}
