package migrations

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// genTable is what the generator knows about a table it created.
type genTable struct {
	name    string
	cols    []string // column definitions, in order
	indexes []string // CREATE INDEX statements
	viewed  bool     // a view or trigger depends on it: never rebuilt
	core    bool     // referenced by foreign keys: never rebuilt
}

// generateFolder writes n migrations of the kind a D1 project accumulates:
// tables with foreign keys and indexes, added columns, backfills, seed
// rows, views, triggers, and a few drizzle-style table rebuilds that keep
// every column. Nothing in it deserves a finding, so it doubles as a test
// that the schema diff raises no false alarms over a long history.
func generateFolder(n int, seed uint64) []File {
	rng := rand.New(rand.NewPCG(seed, 42))
	var tables []*genTable
	var files []File
	colSeq := 0
	pick := func() *genTable { return tables[rng.IntN(len(tables))] }
	newTable := func(i int) string {
		t := &genTable{name: fmt.Sprintf("t%03d", i), core: len(tables) < 5}
		t.cols = []string{"id INTEGER PRIMARY KEY", "name TEXT NOT NULL DEFAULT ''",
			"created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP"}
		var stmts []string
		if len(tables) >= 5 {
			ref := tables[rng.IntN(5)]
			t.cols = append(t.cols, fmt.Sprintf("%s_id INTEGER REFERENCES %s(id) ON DELETE CASCADE", ref.name, ref.name))
			t.indexes = append(t.indexes, fmt.Sprintf("CREATE INDEX %s_%s_id ON %s(%s_id);", t.name, ref.name, t.name, ref.name))
		}
		for k := 0; k < 2+rng.IntN(5); k++ {
			colSeq++
			t.cols = append(t.cols, fmt.Sprintf("c%d %s", colSeq, []string{"TEXT", "INTEGER", "REAL", "BLOB"}[rng.IntN(4)]))
		}
		if rng.IntN(3) == 0 {
			t.cols = append(t.cols, fmt.Sprintf("slug%d TEXT UNIQUE", i))
		}
		stmts = append(stmts, fmt.Sprintf("CREATE TABLE %s (\n  %s\n);", t.name, strings.Join(t.cols, ",\n  ")))
		stmts = append(stmts, t.indexes...)
		tables = append(tables, t)
		return strings.Join(stmts, "\n")
	}
	for i := 1; i <= n; i++ {
		var body string
		r := rng.IntN(100)
		switch {
		case len(tables) < 5 || r < 20:
			body = newTable(i)
		case r < 62:
			t := pick()
			var stmts []string
			for k := 0; k < 1+rng.IntN(2); k++ {
				colSeq++
				def := fmt.Sprintf("c%d TEXT", colSeq)
				if rng.IntN(2) == 0 {
					def = fmt.Sprintf("c%d INTEGER NOT NULL DEFAULT 0", colSeq)
				}
				t.cols = append(t.cols, def)
				stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s;", t.name, def))
			}
			if rng.IntN(3) == 0 {
				stmts = append(stmts, fmt.Sprintf("UPDATE %s SET name = 'n' || id WHERE name = '';", t.name))
			}
			body = strings.Join(stmts, "\n")
		case r < 80:
			t := pick()
			col := strings.Fields(t.cols[1+rng.IntN(len(t.cols)-1)])[0]
			ix := fmt.Sprintf("CREATE INDEX %s_ix%d ON %s(%s);", t.name, i, t.name, col)
			t.indexes = append(t.indexes, ix)
			body = "-- speed up lookups\n" + ix
		case r < 86:
			t := pick()
			body = fmt.Sprintf("INSERT INTO %s (name) VALUES ('a'), ('b'), ('c; not a statement end');", t.name)
		case r < 92:
			t := pick()
			t.viewed = true
			if rng.IntN(2) == 0 {
				body = fmt.Sprintf("CREATE VIEW v%03d AS SELECT id, name FROM %s WHERE name <> '';", i, t.name)
			} else {
				body = fmt.Sprintf("CREATE TRIGGER tr%03d AFTER UPDATE ON %s\nBEGIN\n  UPDATE %s SET created_at = CURRENT_TIMESTAMP WHERE id = NEW.id;\nEND;", i, t.name, t.name)
			}
		case r < 95:
			var t *genTable
			for _, c := range rng.Perm(len(tables)) {
				if !tables[c].viewed && !tables[c].core {
					t = tables[c]
					break
				}
			}
			if t == nil {
				body = newTable(i)
				break
			}
			// drizzle-kit's rebuild, keeping every column and adding one.
			colSeq++
			t.cols = append(t.cols, fmt.Sprintf("c%d TEXT", colSeq))
			var names []string
			for _, c := range t.cols[:len(t.cols)-1] {
				names = append(names, `"`+strings.Fields(c)[0]+`"`)
			}
			stmts := []string{
				"PRAGMA defer_foreign_keys = on;--> statement-breakpoint",
				fmt.Sprintf("CREATE TABLE `__new_%s` (\n  %s\n);--> statement-breakpoint", t.name, strings.Join(t.cols, ",\n  ")),
				fmt.Sprintf("INSERT INTO `__new_%s`(%s) SELECT %s FROM `%s`;--> statement-breakpoint", t.name, strings.Join(names, ", "), strings.Join(names, ", "), t.name),
				fmt.Sprintf("DROP TABLE `%s`;--> statement-breakpoint", t.name),
				fmt.Sprintf("ALTER TABLE `__new_%s` RENAME TO `%s`;--> statement-breakpoint", t.name, t.name),
			}
			stmts = append(stmts, t.indexes...)
			body = strings.Join(stmts, "\n")
		default:
			body = newTable(i)
		}
		header := fmt.Sprintf("-- Migration number: %04d \t 2024-01-01T00:00:00.000Z\n", i)
		files = append(files, File{Path: fmt.Sprintf("%s/%04d_step_%d.sql", dir, i, i), Content: []byte(header + body + "\n")})
	}
	return files
}

func TestGeneratedFolderIsClean(t *testing.T) {
	files := generateFolder(500, 1)
	got, err := Check(context.Background(), Input{Dir: dir, Head: files}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("%d unexpected findings, first ones:\n%s", len(got), format(got[:min(len(got), 10)]))
	}
	// And one bad migration at the end is still found.
	bad := File{Path: dir + "/0501_oops.sql", Content: []byte("ALTER TABLE t003 DROP COLUMN name;\n")}
	got, err = Check(context.Background(), Input{Dir: dir, Head: append(files, bad), Base: files, HasBase: true}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	compare(t, got, parseWants(t, "drop-column error 0501_oops.sql:1 ~ column t003.name is dropped"))
}

// BenchmarkCheck500 replays and diffs 500 migrations that are all new (no
// base): the worst case, every file diffed statement by statement.
func BenchmarkCheck500(b *testing.B) {
	files := generateFolder(500, 1)
	in := Input{Dir: dir, Head: files}
	b.ResetTimer()
	for b.Loop() {
		fs, err := Check(context.Background(), in, Options{})
		if err != nil || len(fs) != 0 {
			b.Fatalf("Check: %v, %d findings", err, len(fs))
		}
	}
}

// BenchmarkCheck500SchemaOnly is BenchmarkCheck500 on empty tables: the
// comparison point of the row-aware replay's cost (goal: within 2x).
func BenchmarkCheck500SchemaOnly(b *testing.B) {
	files := generateFolder(500, 1)
	in := Input{Dir: dir, Head: files}
	b.ResetTimer()
	for b.Loop() {
		fs, err := Check(context.Background(), in, Options{SchemaOnly: true})
		if err != nil || len(fs) != 0 {
			b.Fatalf("Check: %v, %d findings", err, len(fs))
		}
	}
}

// BenchmarkCheck500OneNew is the usual push: 499 migrations on base are
// replayed without diffing, the new one is diffed.
func BenchmarkCheck500OneNew(b *testing.B) {
	files := generateFolder(500, 1)
	in := Input{Dir: dir, Head: files, Base: files[:499], HasBase: true}
	b.ResetTimer()
	for b.Loop() {
		if _, err := Check(context.Background(), in, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// generateTables writes n tables, ten per migration, each referencing the
// table before it: the shape of a large schema, for the linearity goal.
func generateTables(n int) []File {
	var files []File
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			fmt.Fprintf(&b, "CREATE TABLE t%05d (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '', prev_id INTEGER REFERENCES t%05d(id) ON DELETE CASCADE);\n", i, i-1)
		} else {
			fmt.Fprintf(&b, "CREATE TABLE t%05d (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '');\n", i)
		}
		fmt.Fprintf(&b, "CREATE INDEX t%05d_name ON t%05d(name);\n", i, i)
		if i%10 == 9 || i == n-1 {
			files = append(files, File{Path: fmt.Sprintf("%s/%04d_tables.sql", dir, len(files)+1), Content: []byte(b.String())})
			b.Reset()
		}
	}
	return files
}

// BenchmarkTables replays schemas of growing size, every migration new (the
// worst case: each statement diffed, each table given synthetic rows), next
// to SQLite alone running the same files (sqlite-only). SQLite alone grows
// with the square of the schema: it reads its whole schema table after
// every CREATE (OP_ParseSchema), which guard avoids by setting rows of that
// table aside (setaside.go), and it walks every table's foreign keys on
// every schema change (sqlite3FkClearTriggerCache), which nobody can avoid
// but is cheap per table. Goal: 10,000 tables within 10 s.
func BenchmarkTables(b *testing.B) {
	for _, n := range []int{2000, 10000} {
		files := generateTables(n)
		b.Run(fmt.Sprintf("%d/sqlite-only", n), func(b *testing.B) {
			for b.Loop() {
				if err := sqliteOnly(files); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, mode := range []string{"schema-only", "rows"} {
			b.Run(fmt.Sprintf("%d/%s", n, mode), func(b *testing.B) {
				in := Input{Dir: dir, Head: files}
				for b.Loop() {
					fs, err := Check(context.Background(), in, Options{SchemaOnly: mode == "schema-only"})
					if err != nil || len(fs) != 0 {
						b.Fatalf("Check: %v, %d findings", err, len(fs))
					}
				}
			})
		}
	}
}

// sqliteOnly applies the files the way wrangler does, one transaction per
// file, on a fresh in-memory database with foreign keys on: the cost of
// SQLite alone.
func sqliteOnly(files []File) error {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("PRAGMA foreign_keys = ON"); err != nil {
		return err
	}
	for _, f := range files {
		if _, err := db.Exec("BEGIN;\n" + string(f.Content) + "\nCOMMIT;"); err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
	}
	return nil
}
