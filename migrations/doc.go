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
// nature, and apply-failed in an unchanged file that stops the replay before
// a changed one (see below). When nothing changed, SQLite is not opened.
//
// # File rules
//
// Files are ordered like wrangler orders them: by numeric prefix, then by
// name; .sql files without a leading number come last.
//
//   - naming: a .sql name that starts with digits but is not NNNN_name.sql
//     with Options.Digits digits (default 4, what wrangler writes).
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
//   - removed: a base file missing at the head; when a new file has its exact
//     content the message says it was renamed (wrangler would run it again).
//
// # Replay and schema diff
//
// Schema rules never look at SQL text for effects. The files are replayed
// in order into a fresh in-memory SQLite database (modernc.org/sqlite), set
// up like D1: foreign keys enforced, wrangler's d1_migrations table present.
// Each file runs inside a savepoint, as D1 runs a file as one unit (so a
// PRAGMA foreign_keys inside a file changes nothing, as on D1). Statements
// come from Split, which cuts exactly where sqlite3_complete says a
// statement ends (strings, quoted identifiers, comments and CREATE TRIGGER
// bodies included); the fuzz test checks it against sqlite3_complete.
//
// In changed files the schema (sqlite_schema plus pragma table_xinfo,
// table_list, index_list, index_info and foreign_key_list) is read after
// every statement that changed it and compared with the schema before, and
// a lineage follows each table through the file:
//
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
// lacks is a drop-column on the line of the DROP TABLE, and a rebuild that
// keeps every column is no finding. Otherwise it is a drop-table, also when
// a table of the same name is re-created without copying rows (the data is
// gone). Tables created and dropped within one file are never findings.
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
//   - The replay's tables are empty but production's are not. An ALTER TABLE
//     that adds a column SQLite may refuse on a table with rows (a default
//     that is not a plain literal, such as CURRENT_TIMESTAMP; a STORED
//     generated column; a foreign key with a non-NULL default) is undone,
//     run again against the table holding one made-up row, and redone; if
//     SQLite refuses it there, that is apply-failed with SQLite's message.
//   - apply-failed carries SQLite's own message and the statement's line.
//     Replay stops at the first file that fails (later files would fail or
//     pass for the wrong reasons); the message lists the changed files that
//     were therefore not checked. When the failing file is unchanged but
//     changed files follow it, it is still reported, on that base file, since
//     otherwise the changed files would pass unchecked. Postgres or MySQL
//     files are simply files SQLite refuses.
//   - The authorizer refuses what a migration must not do to the machine
//     running the check and what D1 does not offer: ATTACH/DETACH,
//     transaction control, PRAGMA writable_schema, setting schema_version,
//     load_extension(). A statement runs at most Options.StatementTimeout.
//
// # Statement rules
//
// Two rules classify single top-level statements with the splitter's
// tokenizer (comments and strings are tokens, so they cannot fool it):
//
//   - transaction: BEGIN [DEFERRED|IMMEDIATE|EXCLUSIVE|TRANSACTION],
//     COMMIT/END [TRANSACTION], ROLLBACK [TRANSACTION|TO], SAVEPOINT, RELEASE.
//     Remote D1 rejects them. They are not replayed (D1 runs the file as one
//     unit). "END IF;" of a pasted PL/pgSQL block is not END. Trigger bodies
//     are inside one CREATE TRIGGER statement and never count.
//   - unbounded-dml: DELETE or UPDATE (after an optional WITH clause) with no
//     WHERE at parenthesis depth 0.
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
