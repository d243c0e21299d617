package migrations

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/guardcm/guard/internal/report"
)

// FuzzCheck feeds arbitrary SQL to the whole engine as a new migration on
// top of a small base. Whatever the SQL, Check must not fail or panic
// (bad SQL is a finding), and every finding must name a known rule, a
// severity, a file of the folder and a message.
func FuzzCheck(f *testing.F) {
	addCheckSeeds(f)
	base := fuzzBase
	known := map[string]bool{}
	for _, r := range Rules() {
		known[r.ID] = true
	}
	f.Fuzz(func(t *testing.T, sql string) {
		in := Input{Dir: dir, HasBase: true, Base: []File{base},
			Head: []File{base, {Path: dir + "/0002_fuzz.sql", Content: []byte(sql)}}}
		fs, err := Check(context.Background(), in, Options{})
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		for _, x := range fs {
			if !known[x.Rule] || x.Message == "" || x.File != dir+"/0002_fuzz.sql" ||
				(x.Severity != report.SeverityError && x.Severity != report.SeverityWarning && x.Severity != report.SeverityNotice) {
				t.Fatalf("bad finding %+v", x)
			}
		}
	})
}

// fuzzBase is the migration FuzzCheck and FuzzSetAside put under the
// fuzzed one.
var fuzzBase = File{Path: dir + "/0001_base.sql", Content: []byte(
	"CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '', email TEXT UNIQUE);\n" +
		"CREATE INDEX users_name ON users(name);\n" +
		"CREATE VIEW named AS SELECT id, name FROM users;\n" +
		"CREATE TRIGGER users_t AFTER DELETE ON users BEGIN SELECT 1; END;\n")}

// addCheckSeeds seeds a fuzz target with the new migrations of every rule
// folder (each exercises a rule), the D1 corpus files, and a few shapes.
func addCheckSeeds(f *testing.F) {
	for _, src := range ruleFolders(f) {
		for _, fl := range txtar.Parse([]byte(src)).Files {
			if strings.HasPrefix(fl.Name, "new/") {
				f.Add(string(fl.Data))
			}
		}
	}
	f.Add("SELECT 1; SELECT 'a;b'; CREATE TRIGGER t AFTER INSERT ON users BEGIN SELECT 1; END;")
	f.Add("ALTER TABLE users RENAME TO people;")
	f.Add("CREATE TABLE n AS SELECT * FROM users; DROP TABLE users; ALTER TABLE n RENAME TO users;")
	f.Add("ALTER TABLE users ADD COLUMN at TEXT DEFAULT (datetime('now'));")
	f.Add("CREATE VIRTUAL TABLE s USING fts5(a); DROP TABLE s;")
	files, _ := filepath.Glob("testdata/d1/*/migrations/*.sql")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil && len(data) < 4096 {
			f.Add(string(data))
		}
	}
}
