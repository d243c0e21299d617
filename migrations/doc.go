// Package migrations checks a folder of Cloudflare D1 migrations the way
// wrangler will apply them, so that a numbering mistake, an edit of an
// applied migration or a destructive schema change is refused before it
// reaches production, where D1 cannot roll a schema back.
//
// # Contract
//
// Check takes the folder's files at the head and, when there is one, at the
// base revision (Input), and returns findings (report.Finding) sorted by
// file, line and rule. It is pure apart from an in-memory SQLite database:
// the caller reads git and the working tree. Check returns an error only
// when the engine itself fails, the options are invalid, or ctx ends; SQL
// that does not apply is a finding (apply-failed), never an error.
//
// Only .sql files directly in Input.Dir are migrations (wrangler ignores the
// rest, including sub-folders such as drizzle's meta/). A file is "changed"
// when it is not on base (or HasBase is false) or its bytes differ from
// base. Findings are reported for changed files only: a problem already on
// base was reported when it landed and cannot be fixed without editing
// applied history. The exceptions are removed, which is about base files by
// nature, and apply-failed in an unchanged file followed by changed ones
// (see below). When nothing changed, SQLite is not opened.
//
// # File rules
//
// Files are ordered like wrangler orders them: by numeric prefix, then by
// name; .sql files without a leading number come last.
//
//   - naming: a .sql name that starts with digits but is not NNNN_name.sql
//     or NNNN.sql with Options.Digits digits (default 4, what wrangler
//     writes; wrangler applies both forms). With Options.InferDigits (when
//     guard.toml does not set digits) a folder whose numbered files (three
//     or more) all share another count, 001_init.sql, is held to it instead.
//   - stray-file: a .sql name with no leading number at all (INIT_ALL.sql,
//     schema.sql). wrangler applies it anyway, after the numbered files, so
//     it is replayed there too.
//   - duplicate-number: reported on each changed file whose number another
//     file also has.
//   - gap: a changed file whose number is more than one above the previous
//     number; numbering may start at 0000 (drizzle) or 0001 (wrangler).
//   - out-of-order: a file new against base numbered at or below the highest
//     number on base: databases that applied base would run it late.
//   - edited: same path, different bytes; the line is the first that differs.
//     When only comments or whitespace changed (the SQL tokens are the
//     same), it is a notice saying so, and the file counts as unchanged.
//   - removed: a base file missing at the head; when a new file has its exact
//     content the message says it was renamed (wrangler would run it again).
//
// # The D1 facts the replay rests on
//
// Each with its source (Cloudflare's documentation unless said otherwise).
// What D1 refuses is listed once, in internal/d1, which the emulated D1
// (internal/cfemu) enforces too, so the checker and the emulator never
// disagree about what D1 accepts:
//
//   - D1 enforces foreign keys in every query and migration, as if PRAGMA
//     foreign_keys = on; every query runs inside an implicit transaction,
//     so user SQL cannot turn them off. PRAGMA defer_foreign_keys = on
//     defers the checks to the end of the transaction, and does not stop
//     ON DELETE CASCADE. ("Define foreign keys",
//     https://developers.cloudflare.com/d1/sql-api/foreign-keys/, and the
//     defer_foreign_keys entry of "SQL statements".)
//   - D1 supports these PRAGMA statements: table_list, table_info,
//     table_xinfo, index_list, index_info, index_xinfo, quick_check,
//     foreign_key_check, foreign_key_list, case_sensitive_like,
//     ignore_check_constraints, legacy_alter_table, recursive_triggers,
//     reverse_unordered_selects, foreign_keys, defer_foreign_keys, optimize;
//     "D1 PRAGMA statements only apply to the current transaction". ("SQL
//     statements", https://developers.cloudflare.com/d1/sql-api/sql-statements/.)
//   - D1 refuses temporary tables and views with "not authorized"
//     (SQLITE_AUTH): workerd's authorizer denies the temp schema (D1
//     maintainer in cloudflare/workers-sdk#4298, pointing at workerd's
//     sqlite.c++). Remote D1 rejects BEGIN/COMMIT/SAVEPOINT in a migration
//     (observed, shared/notes/wrangler-offline.md; D1's error names the
//     JavaScript transaction APIs instead).
//   - wrangler applies each migration file as one query inside a
//     transaction, in numeric order, and records it in d1_migrations by name
//     only; a failing file is rolled back ("Migrations",
//     https://developers.cloudflare.com/d1/reference/migrations/, and
//     observed with wrangler 4.86).
//   - From SQLite's own rules, which D1 runs: DROP TABLE first deletes the
//     table's rows (so children declared ON DELETE CASCADE lose theirs and
//     other children make the drop fail once they hold rows; the deferred
//     count of violations it adds is only cleared by a rollback), and ALTER
//     TABLE ... RENAME rewrites the children's REFERENCES to the new name
//     (https://sqlite.org/foreignkeys.html, https://sqlite.org/lang_altertable.html).
//
// # Replay and schema diff
//
// Schema rules never look at SQL text for effects. The baseline (Options.
// Baseline: a schema production got outside the folder) and then the files
// are replayed in order into a fresh in-memory SQLite database
// (modernc.org/sqlite), set up like D1: foreign keys enforced, wrangler's
// d1_migrations table present, each file in one transaction (so PRAGMA
// foreign_keys inside a file changes nothing and defer_foreign_keys lasts
// until the file's commit, as on D1). Statements come from
// internal/sqlsplit, where SQLite's own sqlite3_complete decides where a
// statement ends (the emulated D1 of internal/cfemu uses the same splitter).
//
// Every statement runs in a savepoint. A statement SQLite refuses is
// reported and undone, and the replay goes on with the next one (best
// effort), so later statements and files are still checked; findings after
// the first failure say so. Plain apply-failed is reported once per file
// (later statements that fail on a missing or duplicate name, or a syntax
// error, are counted into it); failures with a precise rule (fk-violation,
// not-null-no-default, d1-unsupported, resource-limit) are each reported.
// A failure in an unchanged, already-applied file is a warning naming the
// baseline option, and only when changed files follow it.
//
// # Rows in the tables
//
// Files added against the base after the last file already on base are
// applied together, in one deploy, so a table one of them creates is still
// empty when the next added file runs, and production never held it: it
// gets no synthetic rows, and what the later added files do to it (ADD
// COLUMN NOT NULL, a rebuild, a drop, its indexes) is no finding. Only an
// empty table counts: a production table renamed or rebuilt by an added
// file holds the copied rows and stays under every rule. Not so
// for added files numbered before a base file, nor for a folder that
// appears whole in one push (more often a history imported or moved than a
// database born empty).
//
// Before each changed file, every table not seeded yet gets two synthetic
// rows that satisfy its constraints: parents before children, foreign keys
// pointing at existing parent rows, values distinct per row and per column
// (so UNIQUE holds, and a copied value tells its source column), by column
// affinity (STRICT tables accept them), text as a JSON object (text columns
// often hold JSON that later migrations read with json_extract); the second
// row leaves nullable columns without a default NULL, as production's rows
// do wherever the worker left them out or the column came later, so a copy
// into a NOT NULL column fails here as on D1 (an explicit NULL does not
// take a DEFAULT). When SQLite refuses (CHECK, triggers), plainer values
// are tried (defaults, NULL, zero). A table no row satisfies is skipped,
// and a file that uses it gets a rows-skipped notice. Options.SchemaOnly
// replays on empty tables (the comparison point of the cost). Row-level
// rules:
//
//   - cascade-delete: a data statement (DELETE, DROP TABLE, REPLACE) is
//     compiled first with EXPLAIN, so SQLite's authorizer names the table it
//     deletes from; the rows of every table its foreign keys reach are
//     counted before and after, and rows that vanished from a table the
//     statement does not name went with a cascade. A cascade into tables the
//     file drops anyway is folded into their drop-table findings.
//   - fk-violation: FOREIGN KEY constraint failed, from a statement or from
//     the file's commit (deferred checks); the message names the children.
//   - fk-dangling: at the end of the file a table keeps a foreign key to a
//     table that no longer exists (the rename-first rebuild moves the
//     children's references to the old name, then drops it).
//   - dqs-literal: SQLite compiled a double-quoted name into a string
//     constant (OP_String8 in the EXPLAIN program) because no table in scope
//     has that column; the rows get the name as their value.
//   - not-null-no-default: NULL reaching a NOT NULL column (SQLite's
//     "NOT NULL constraint failed" on the rows), and ADD COLUMN NOT NULL
//     without default on a table with rows. A rebuild whose copy gave every
//     row a value (the rebuilt table holds the rows) is no finding.
//   - pragma-no-effect: PRAGMA foreign_keys = off. d1-unsupported: what D1
//     refuses (above), and VACUUM.
//
// # Bounds
//
// Each file runs under Options.FileTimeout (default 10 s) and may grow the
// database by Options.FileMemory (default 256 MiB: SQLite's max_page_count
// set per file); while a check runs, SQLite's process-wide hard heap limit
// is four times that. Hitting a limit is a resource-limit finding that
// names the limit (SQLite rolls the file back), never an internal error.
// Guard's own work per statement is proportional to what the statement
// changed (the schema snapshot is an overlay; after CREATE statements only
// the new rows of sqlite_schema are read), so the replay adds cost linear
// in the schema's size. SQLite alone scans its whole schema table after
// each CREATE; in a large schema, after a run of CREATE statements, the
// replay sets the rows it has read aside (setaside.go) so that each CREATE
// scans a few rows, and puts them back before anything that needs them.
// 10,000 tables replay within 10 s, half of what SQLite alone takes on the
// same files (BenchmarkTables shows both).
//
// In changed files the schema (sqlite_schema plus pragma table_xinfo,
// index_list, index_info and foreign_key_list) is read after every
// statement that changed it and compared with the schema before, and a
// lineage follows each table through the file:
//   - one statement that removes exactly one table and adds one with the same
//     columns is ALTER TABLE ... RENAME TO (nothing else in SQLite does that);
//   - in one statement a column that vanishes while another appears at the
//     same position is a RENAME COLUMN, otherwise columns are dropped or added;
//   - which tables a statement reads and writes comes from SQLite's
//     authorizer, so INSERT ... SELECT and CREATE TABLE ... AS SELECT show
//     where rows went.
//
// At the end of the file, a table that existed when the file started and is
// gone is a rebuild when its rows went (directly or through a temporary
// copy) into a table that now has its name: then each column the new table
// lacks is a drop-column on the line of the DROP TABLE — unless the copy
// put its values into a column of a new name (every synthetic value differs
// by column, so exactly one new column holding all of them is a copy): that
// is a rename-column on the new table's line; a kept column that holds
// another column's values (INSERT ... SELECT * into a table whose columns
// are in another order copies by position) is a drop-column too — and a
// rebuild that keeps every column with its own values is no finding.
// Otherwise it is a drop-table, also when a table of the same name is
// re-created without copying rows (the data is gone). Tables created and
// dropped within one file are never findings.
//
// Decisions on the schema rules:
//
//   - rename-table compares names case-insensitively, as SQLite resolves
//     them (SQLite refuses a case-only table rename anyway). rename-column is
//     case-sensitive: a column's spelling is the key of every result row, so
//     "name" becoming "Name" breaks the running worker.
//   - A rename, or a drop, that is undone later in the same file is no
//     finding; a column renamed and then dropped is one drop-column.
//   - drop-index and drop-trigger are not reported for a table reported as
//     drop-table; they are reported when a rebuild loses them. Autoindexes
//     (UNIQUE and PRIMARY KEY constraints) are not indexes for drop-index.
//   - not-null-no-default: a NOT NULL column without default (not generated,
//     not the rowid) added to a table that existed before the file, or
//     appearing (or becoming NOT NULL) in a rebuilt table.
//   - unique-on-existing: a unique index (explicit, or from a UNIQUE or
//     PRIMARY KEY constraint of a rebuilt table) on a table that existed
//     before the file, unless a unique column set the table already had is
//     contained in it (widening is safe) or it includes a column added in
//     this file without a default (all NULL, and NULLs never collide).
//   - unique-not-created: CREATE UNIQUE INDEX IF NOT EXISTS that leaves the
//     schema as it was because a non-unique index of that name exists:
//     the migration applies, the uniqueness it was written for does not.
//   - The tables hold rows, so an ALTER TABLE that SQLite refuses only on a
//     table with rows (a non-constant default such as CURRENT_TIMESTAMP, a
//     STORED generated column, a foreign key with a non-NULL default) fails
//     in the replay as in production: apply-failed with SQLite's message.
//   - apply-failed carries SQLite's own message and the statement's line.
//     Postgres or MySQL files are simply files SQLite refuses.
//   - The authorizer refuses what a migration must not do to the machine
//     running the check and what D1 does not offer: ATTACH/DETACH,
//     transaction control, PRAGMA writable_schema, setting schema_version,
//     load_extension().
//   - DROP INDEX of an index on a column the file then drops is folded into
//     the drop-column finding; an index dropped while the file leaves one
//     whose key columns begin with the same columns is no finding (a unique
//     one needs a unique index on the same columns, a partial one is always
//     reported); DROP TABLE IF EXISTS of a table the replay
//     never had is a notice (production may hold it).
//
// # Statement rules
//
// Two rules classify single top-level statements with the splitter's
// tokenizer (comments and strings are tokens, so they cannot fool it):
//
//   - transaction: BEGIN [DEFERRED|IMMEDIATE|EXCLUSIVE|TRANSACTION],
//     COMMIT/END [TRANSACTION], ROLLBACK [TRANSACTION|TO], SAVEPOINT, RELEASE.
//     Remote D1 rejects them. They are not replayed (D1 runs the file as one
//     transaction). "END IF;" of a pasted PL/pgSQL block is not END. Trigger bodies
//     are inside one CREATE TRIGGER statement and never count.
//   - unbounded-dml: DELETE or UPDATE (after an optional WITH clause) with no
//     WHERE at parenthesis depth 0 — except an UPDATE that assigns only
//     columns the same file added (ALTER TABLE ADD COLUMN): a backfill.
//
// # Suppression and severity
//
// A comment "-- guard:allow <rule> <reason>" (or a block comment starting
// that way) anywhere in a file turns that rule's findings in that file into
// notices that still print, with the reason appended, so an intended change
// is on record. A guard:allow without a known rule or without a reason
// allows nothing and is itself a finding, rule bad-allow (error). Options
// can change a rule's severity or turn it off ("off"); an allowed finding
// is a notice whatever its configured severity.
package migrations
