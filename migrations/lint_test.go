package migrations

import (
	"context"
	"github.com/rogpeppe/go-internal/txtar"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Cases of other migration linters whose meaning matches one of our rules,
// replayed through the engine. testdata/lint/PROVENANCE.md says where each
// file comes from. Each case is a folder: a base migration that creates
// what the case's SQL needs (the linters' tests attach a schema by hand),
// and the case's SQL as the new migration 0002_case.sql. Where our verdict
// differs from the linter's, the comment says why.

const caseFile = "0002_case.sql"

type lintCase struct {
	source string // case name in the linter's test suite
	setup  string // SQL of the base migration 0001_setup.sql
	sql    string // the case's SQL (for squawk: read from cases_sql.txtar)
	want   string // our findings in 0002_case.sql, want-line format
}

func runLintCase(t *testing.T, c lintCase) {
	t.Helper()
	setup := File{Path: dir + "/0001_setup.sql", Content: []byte(c.setup)}
	in := Input{Dir: dir, HasBase: true, Base: []File{setup},
		Head: []File{setup, {Path: dir + "/" + caseFile, Content: []byte(c.sql)}}}
	got, err := Check(context.Background(), in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	compare(t, got, parseWants(t, c.want))
}

// atlas analyzer cases (testdata/lint/atlas/analyzer_cases.yaml). The
// Go tests they come from attach hand-built schema changes to partial SQL;
// here the SQL must run on SQLite, so it is completed where noted.
var atlasCases = []lintCase{
	{source: "destructive_test.go TestAnalyzer_DropTable",
		setup: "CREATE TABLE `users` (id);\nCREATE TABLE `posts` (id);\n",
		// "CREATE TABLE `posts`;" is not SQLite: given a column.
		sql: "DROP TABLE `users`;\nDROP TABLE `posts`;\nCREATE TABLE `posts` (id);\n",
		// Like atlas, posts is reported although it is re-created (empty).
		want: "drop-table error 0002_case.sql:1 ~ table users\ndrop-table error 0002_case.sql:2 ~ re-created on line 3 but no rows are copied"},
	{source: "destructive_test.go TestAnalyzer_SkipTemporaryTable",
		setup: "CREATE TABLE other (id);\n",
		// The change "AddTable users + DropTable users" as SQL.
		sql:  "CREATE TABLE `users` (id);\nDROP TABLE `users`;\n",
		want: ""},
	{source: "destructive_test.go TestAnalyzer_DropColumn",
		setup: "CREATE TABLE `pets` (id, `c`);\n",
		sql:   "ALTER TABLE `pets` DROP COLUMN `c`;\n",
		want:  "drop-column error 0002_case.sql:1 ~ column pets.c is dropped"},
	{source: "incompatible_test.go TestAnalyzer_RenameColumn",
		setup: "CREATE TABLE `pets` (`id` int);\nCREATE TABLE `cards` (`id` int);\n",
		// Atlas attaches one table per line; as SQL each rename needs its
		// own table. Atlas skips pets because "id" is re-added next; we do
		// not: the old worker then reads NULLs from the new, empty "id".
		sql: "CREATE TABLE `users` (`id` int);\n" +
			"ALTER TABLE `users` RENAME COLUMN `id` TO `uid`;\n" +
			"ALTER TABLE `pets` RENAME COLUMN `id` TO `uid`;ALTER TABLE `pets` ADD COLUMN `id` int;\n" +
			"ALTER TABLE `cards` RENAME COLUMN `id` TO `uid`;\n",
		want: "rename-column error 0002_case.sql:3 ~ column pets.id is renamed to uid\n" +
			"rename-column error 0002_case.sql:4 ~ column cards.id is renamed to uid"},
	{source: "incompatible_test.go TestAnalyzer_RenameTable",
		setup: "CREATE TABLE `pets` (id);\nCREATE TABLE `cards` (id);\n",
		// SQLite refuses a rename that only changes case ("there is already
		// another table"), so the new names differ by more. Atlas skips
		// cards because a view takes its old name; we report it: the view
		// serves reads, but the old worker's writes to cards fail.
		sql: "CREATE TABLE `users` (`id` int);\n" +
			"ALTER TABLE `users` RENAME TO `users_v2`;\n" +
			"ALTER TABLE `pets` RENAME TO `pets_v2`;\n" +
			"ALTER TABLE `cards` RENAME TO `cards_v2`;\n" +
			"CREATE VIEW `cards` AS SELECT * FROM `cards_v2`;\n",
		want: "rename-table error 0002_case.sql:3 ~ table pets is renamed to pets_v2\n" +
			"rename-table error 0002_case.sql:4 ~ table cards is renamed to cards_v2"},
	{source: "datadepend_test.go TestAnalyzer_AddUniqueIndex",
		setup: "CREATE TABLE users (b, c, d);\n",
		sql: "-- table users has existing columns b, c, d; column a is added in this change\n" +
			"ALTER TABLE users ADD COLUMN a;\n" +
			"CREATE UNIQUE INDEX idx_a ON users (a);      -- skipped: new column\n" +
			"CREATE UNIQUE INDEX idx_b ON users (b);      -- reported\n" +
			"CREATE UNIQUE INDEX idx_c_d ON users (c, d); -- reported\n",
		want: "unique-on-existing warning 0002_case.sql:4 ~ unique index idx_b on existing table users (b)\n" +
			"unique-on-existing warning 0002_case.sql:5 ~ unique index idx_c_d on existing table users (c, d)"},
	{source: "datadepend_test.go TestAnalyzer_AddUniqueIndex (second pass)",
		setup: "CREATE TABLE users (a, b);\nCREATE UNIQUE INDEX idx_a_b ON users (a, b);\n",
		sql: "DROP INDEX idx_a_b;                              -- unique (a, b)\n" +
			"ALTER TABLE users ADD COLUMN c;\n" +
			"CREATE UNIQUE INDEX idx_a_b_c ON users (a, b, c);\n",
		// Widening is safe for us too; atlas has no drop-index rule.
		want: "drop-index warning 0002_case.sql:1 ~ index idx_a_b"},
	{source: "sqlitecheck_test.go TestDetectModifyTable",
		setup: "CREATE TABLE `users` (id);\nCREATE TABLE `posts` (`text` text NULL, `posted_at` timestamp);\nCREATE TABLE `pets` (id);\n",
		sql: "DROP TABLE `users`;\n" +
			"PRAGMA foreign_keys = off;\n" +
			"CREATE TABLE `new_posts` (`text` text NOT NULL);\n" +
			"INSERT INTO `new_posts` (`text`) SELECT `text` FROM `posts`;\n" +
			"DROP TABLE `posts`;                          -- posts had (text NULL, posted_at timestamp)\n" +
			"ALTER TABLE `new_posts` RENAME TO `posts`;\n" +
			"PRAGMA foreign_keys = on;\n" +
			"DROP TABLE `pets`;\n",
		// DS102 users, DS103 posted_at (the rebuild is a modify, not a drop
		// of posts), DS102 pets, LT101 text becomes NOT NULL: the copy of a
		// row whose text is NULL fails on the INSERT.
		want: "drop-table error 0002_case.sql:1 ~ table users\n" +
			"pragma-no-effect warning 0002_case.sql:2 ~ PRAGMA foreign_keys = off has no effect on D1\n" +
			"not-null-no-default error 0002_case.sql:4 ~ NOT NULL constraint failed: new_posts.text\n" +
			"drop-column error 0002_case.sql:5 ~ column posts.posted_at is lost\n" +
			"drop-table error 0002_case.sql:8 ~ table pets"},
	{source: "migrate_test.go TestMigrate_Lint",
		setup: "CREATE TABLE t(c int);", sql: "DROP TABLE t;",
		want: "drop-table error 0002_case.sql:1 ~ table t is dropped"},
}

func TestAtlasAnalyzerCases(t *testing.T) {
	data, err := os.ReadFile("testdata/lint/atlas/analyzer_cases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range atlasCases {
		t.Run(c.source, func(t *testing.T) {
			// Keep the table tied to the copied corpus file.
			test := strings.Fields(c.source)[1]
			if !strings.Contains(string(data), test) {
				t.Fatalf("%s is not in analyzer_cases.yaml", test)
			}
			runLintCase(t, c)
		})
	}
}

// atlas integration scripts (testdata/lint/atlas/txtar): every migration
// of the script is new; N.sql becomes 000N_atlas.sql.
func TestAtlasScripts(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		// The NOT NULL column added to a table created in the same file is
		// not reported; the one added to an existing table is (MF103).
		{"cli-migrate-lint-add-notnull.txtar", "not-null-no-default error 0002_atlas.sql:1 ~ column users.c2"},
		// 1.sql renames a column it created to "oid". Atlas's SQLite took
		// that; the SQLite guard replays with (3.54) refuses to rename a
		// column to a rowid alias, so the folder stops applying there, as
		// it would on a D1 running that SQLite; the replay goes on (best
		// effort) and still finds the drops of the later files.
		{"cli-migrate-lint-destructive.txtar",
			"apply-failed error 0001_atlas.sql:5 ~ cannot rename to rowid alias: oid\n" +
				"drop-table error 0002_atlas.sql:1 ~ table users is dropped\n" +
				"drop-table error 0003_atlas.sql:1 ~ table pets is dropped"},
		{"cli-migrate-lint-project.txtar",
			"apply-failed error 0001_atlas.sql:5 ~ cannot rename to rowid alias: oid\n" +
				"drop-table error 0002_atlas.sql:1 ~ table users is dropped\n" +
				"drop-table error 0003_atlas.sql:1 ~ table pets is dropped"},
		{"cli-migrate-lint-minimal-env.txtar", "drop-table error 0002_atlas.sql:1 ~ table users"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/lint/atlas/txtar", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			in := Input{Dir: dir}
			for _, f := range txtar.Parse(data).Files {
				name, ok := strings.CutPrefix(f.Name, "migrations/")
				if !ok || !strings.HasSuffix(name, ".sql") {
					continue
				}
				in.Head = append(in.Head, File{Path: dir + "/000" + strings.TrimSuffix(name, ".sql") + "_atlas.sql", Content: f.Data})
			}
			if len(in.Head) == 0 {
				t.Fatal("no migrations in script")
			}
			got, err := Check(context.Background(), in, Options{})
			if err != nil {
				t.Fatal(err)
			}
			compare(t, got, parseWants(t, tc.want))
		})
	}
}

// atlas's cmdapi folders: the second one rebuilds users without "name"
// (with rows present, and PRAGMA foreign_keys inside the file).
func TestAtlasCmdapiFolders(t *testing.T) {
	for _, tc := range []struct{ folder, want string }{
		{"sqlite", ""},
		// On D1 the PRAGMA changes nothing, so dropping users cascades into
		// friendships (ON DELETE CASCADE): atlas, with foreign keys off,
		// does not see it.
		{"sqlitetx", "pragma-no-effect warning 20220925094437_third.sql:2 ~ PRAGMA foreign_keys = off has no effect on D1\n" +
			"cascade-delete error 20220925094437_third.sql:8 ~ deleting from users also deletes rows of friendships\n" +
			"drop-column error 20220925094437_third.sql:8 ~ column users.name is lost"},
	} {
		t.Run(tc.folder, func(t *testing.T) {
			in := Input{Dir: dir, Head: readFolder(t, filepath.Join("testdata/lint/atlas/cmdapi-testdata", tc.folder))}
			// atlas names migrations by timestamp: 14 digits.
			got, err := Check(context.Background(), in, Options{Digits: 14})
			if err != nil {
				t.Fatal(err)
			}
			// Timestamps are not consecutive numbers: gaps are expected.
			var kept = got[:0]
			for _, f := range got {
				if f.Rule != RuleGap {
					kept = append(kept, f)
				}
			}
			compare(t, kept, parseWants(t, tc.want))
		})
	}
}

// squawk cases (testdata/lint/squawk/cases_sqlite_valid.yaml; SQL from
// cases_sql.txtar). squawk targets PostgreSQL: where its rule's meaning is
// ours the SQL is replayed; the differences are SQLite's or D1's.
var squawkCases = []lintCase{
	// adding-required-field: NOT NULL without default on an existing table.
	{source: "adding_required_field.rs::test::not_null_without_default", setup: `CREATE TABLE "recipe"(id INTEGER PRIMARY KEY);`,
		want: "not-null-no-default error 0002_case.sql:1 ~ column recipe.public"},
	{source: "adding_required_field.rs::test::nullable_ok", setup: `CREATE TABLE "recipe"(id INTEGER PRIMARY KEY);`},
	{source: "adding_required_field.rs::test::not_null_with_default", setup: `CREATE TABLE "recipe"(id INTEGER PRIMARY KEY);`},
	// SQLite cannot add a STORED generated column at all.
	{source: "adding_required_field.rs::test::generated_stored_not_null_ok", setup: "CREATE TABLE foo(baz);",
		want: "apply-failed error 0002_case.sql:1 ~ cannot add a STORED column"},
	{source: "adding_required_field.rs::test::generated_stored_ok", setup: "CREATE TABLE foo(baz);",
		want: "apply-failed error 0002_case.sql:1 ~ cannot add a STORED column"},
	// adding-not-nullable-field defers this case to adding-required-field;
	// for us it is the same rule.
	{source: "adding_not_null_field.rs::test::adding_field_that_is_not_nullable_without_default", setup: `CREATE TABLE "core_recipe"(id INTEGER PRIMARY KEY);`,
		want: "not-null-no-default error 0002_case.sql:2 ~ column core_recipe.foo"},
	// With a default it is fine; the BEGIN/COMMIT around it is not, on D1.
	{source: "adding_not_null_field.rs::test::adding_field_that_is_not_nullable_in_version_11", setup: `CREATE TABLE "core_recipe"(id INTEGER PRIMARY KEY);`,
		want: "transaction error 0002_case.sql:1 ~ BEGIN\ntransaction error 0002_case.sql:6 ~ COMMIT"},
	// ban-drop-table: the IF EXISTS repeats find nothing left to drop.
	{source: "ban_drop_table.rs::test::err", setup: `CREATE TABLE "table_name"(id);`,
		want: "drop-table error 0002_case.sql:1 ~ table table_name is dropped"},
	// renaming-column / renaming-table.
	{source: "renaming_column.rs::test::err", setup: `CREATE TABLE "table_name"("column_name");`,
		want: "rename-column error 0002_case.sql:1 ~ column table_name.column_name is renamed to new_column_name"},
	{source: "renaming_table.rs::test::err", setup: `CREATE TABLE "table_name"(id);`,
		want: "rename-table error 0002_case.sql:1 ~ table table_name is renamed to new_table_name"},
	// disallowed-unique-constraint: SQLite has no ADD CONSTRAINT and
	// refuses ADD COLUMN ... UNIQUE; the file does not apply.
	{source: "disallow_unique_constraint.rs::test::unique_constraint_inline_add_column_err", setup: "CREATE TABLE foo(id);",
		want: "apply-failed error 0002_case.sql:1 ~ Cannot add a UNIQUE column"},
	{source: "disallow_unique_constraint.rs::test::unique_constraint_inline_add_column_unique_err", setup: "CREATE TABLE foo(id);",
		want: "apply-failed error 0002_case.sql:1 ~ Cannot add a UNIQUE column"},
	{source: "disallow_unique_constraint.rs::test::adding_unique_constraint_err", setup: "CREATE TABLE table_name(field_name);",
		want: "apply-failed error 0002_case.sql:1 ~ syntax error"},
	// require-concurrent-index-deletion is about PostgreSQL locks; the
	// statement is still a dropped index.
	{source: "require_concurrent_index_deletion.rs::test::drop_index_missing_concurrently_err",
		setup: "CREATE TABLE t(f);\nCREATE INDEX \"field_name_idx\" ON t(f);", want: "drop-index warning 0002_case.sql:2 ~ index field_name_idx"},
	{source: "require_concurrent_index_deletion.rs::test::fix_add_concurrently_simple",
		setup: "CREATE TABLE t(f);\nCREATE INDEX i ON t(f);", want: "drop-index warning 0002_case.sql:1 ~ index i"},
	// Its false-positive regression drops a table: for us that is drop-table.
	{source: "require_concurrent_index_deletion.rs::test::regression_false_positive_drop_table_ok", setup: "CREATE TABLE some_table(id);",
		want: "drop-table error 0002_case.sql:1 ~ table some_table"},
	// ban-uncommitted-transaction / transaction-nesting: on D1 every
	// top-level transaction statement is the problem, committed or not.
	{source: "ban_uncommitted_transaction.rs::test::uncommitted_transaction_err", setup: "CREATE TABLE other(id);",
		want: "transaction error 0002_case.sql:1 ~ BEGIN"},
	{source: "ban_uncommitted_transaction.rs::test::committed_transaction_ok", setup: "CREATE TABLE other(id);",
		want: "transaction error 0002_case.sql:1\ntransaction error 0002_case.sql:3 ~ COMMIT"},
	{source: "ban_uncommitted_transaction.rs::test::rolled_back_transaction_ok", setup: "CREATE TABLE other(id);",
		want: "transaction error 0002_case.sql:1\ntransaction error 0002_case.sql:3 ~ ROLLBACK"},
	{source: "ban_uncommitted_transaction.rs::test::no_transaction_ok", setup: "CREATE TABLE other(id);"},
	{source: "ban_uncommitted_transaction.rs::test::multiple_transactions_last_uncommitted_err", setup: "CREATE TABLE other(id);",
		want: "transaction error 0002_case.sql:1\ntransaction error 0002_case.sql:3\ntransaction error 0002_case.sql:5"},
	{source: "ban_uncommitted_transaction.rs::test::nested_begin_only_last_uncommitted_err", setup: "CREATE TABLE other(id);",
		want: "transaction error 0002_case.sql:1\ntransaction error 0002_case.sql:2\ntransaction error 0002_case.sql:3"},
	{source: "transaction_nesting.rs::test::begin_repeated_err", setup: "CREATE TABLE other(id);",
		want: "transaction error 0002_case.sql:1\ntransaction error 0002_case.sql:2\ntransaction error 0002_case.sql:4"},
	{source: "transaction_nesting.rs::test::commit_repeated_err", setup: "CREATE TABLE other(id);",
		want: "transaction error 0002_case.sql:1\ntransaction error 0002_case.sql:3\ntransaction error 0002_case.sql:4"},
	{source: "transaction_nesting.rs::test::rollback_with_assume_in_transaction_err", setup: "CREATE TABLE other(id);",
		want: "transaction error 0002_case.sql:3 ~ ROLLBACK"},
	{source: "transaction_nesting.rs::test::no_nesting_ok", setup: "CREATE TABLE other(id);",
		want: "transaction error 0002_case.sql:1\ntransaction error 0002_case.sql:3"},
	{source: "transaction_nesting.rs::test::no_nesting_repeated_ok", setup: "CREATE TABLE other(id);",
		want: "transaction error 0002_case.sql:1\ntransaction error 0002_case.sql:3\ntransaction error 0002_case.sql:6\ntransaction error 0002_case.sql:8"},
	{source: "transaction_nesting.rs::test::no_nesting_with_assume_transaction_ok", setup: "CREATE TABLE other(id);"},
}

func TestSquawkCases(t *testing.T) {
	data, err := os.ReadFile("testdata/lint/squawk/cases_sql.txtar")
	if err != nil {
		t.Fatal(err)
	}
	sqlOf := map[string]string{}
	for _, f := range txtar.Parse(data).Files {
		_, short, _ := strings.Cut(f.Name, "/rules/")
		sqlOf[short] = string(f.Data)
	}
	for _, c := range squawkCases {
		t.Run(c.source, func(t *testing.T) {
			sql, ok := sqlOf[c.source]
			if !ok {
				t.Fatalf("case %s is not in cases_sql.txtar", c.source)
			}
			c.sql = sql
			runLintCase(t, c)
		})
	}
}

// Golden splits of atlas's lexer tests that are valid SQLite. Our
// splitter follows sqlite3_complete; the one place it differs from atlas is
// a nested BEGIN ... END inside a trigger body, which SQLite's parser
// rejects anyway: sqlite3_complete ends the statement at the first ";END;".
func TestAtlasSplitGoldens(t *testing.T) {
	files, err := filepath.Glob("testdata/lint/atlas/split/*/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if len(files) != 6 {
		t.Fatalf("want 6 golden split files, found %d", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			gold, err := os.ReadFile(f + ".golden")
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Split(strings.TrimSuffix(string(gold), "\n"), "\n-- end --\n")
			if filepath.Base(f) == "1_trigger.sql" {
				last := want[len(want)-1]
				cut := strings.Index(last, "END;") + len("END;")
				want = append(want[:len(want)-1], last[:cut], strings.TrimSpace(last[cut:]))
			}
			var got []string
			for _, st := range Split(string(src)) {
				got = append(got, st.Text)
				if string(src[st.Start:st.End]) != st.Text {
					t.Errorf("statement text is not input[Start:End]")
				}
			}
			if len(got) != len(want) {
				t.Fatalf("got %d statements, want %d:\n%q", len(got), len(want), got)
			}
			for i := range want {
				if strings.TrimSpace(got[i]) != strings.TrimSpace(want[i]) {
					t.Errorf("statement %d:\ngot  %q\nwant %q", i+1, got[i], want[i])
				}
			}
		})
	}
}
