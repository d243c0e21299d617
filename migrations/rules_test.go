package migrations

import (
	"context"
	"strings"
	"testing"

	"github.com/guardcm/guard/internal/report"
)

// Every rule as a small migrations folder, with negatives next to the
// positives. Unless the header says "nobase", plain files are on base and
// new/ files are what the push adds.
var ruleCases = []struct{ name, src string }{
	// ---- file list rules ----
	{"naming/short-digits", `
-- want --
naming error 002_b.sql:0 ~ 3-digit number, want 4 digits
out-of-order error 002_b.sql:0
-- 0001_a.sql --
CREATE TABLE a(x);
-- 0003_c.sql --
CREATE TABLE c(x);
-- new/002_b.sql --
CREATE TABLE b(x);
`},
	{"naming/no-name", `
-- want --
naming error 0002-b.sql:0 ~ followed by _<name>
-- 0001_a.sql --
CREATE TABLE a(x);
-- new/0002-b.sql --
CREATE TABLE b(x);
`},
	{"naming/huge-number-and-subfolders", `
-- want --
naming error 123456789012345678901234567890_x.sql:0 ~ the number is too large
-- 0001_a.sql --
CREATE TABLE a(x);
-- new/123456789012345678901234567890_x.sql --
CREATE TABLE b(x);
-- new/meta/0002_snapshot.sql --
DROP TABLE a;
`},
	{"naming/digits-option", `
digits: 3
-- want --
-- 001_a.sql --
CREATE TABLE a(x);
-- new/002_b.sql --
CREATE TABLE b(x);
`},
	{"naming/inferred-from-the-applied-files", `
infer-digits
-- want --
-- 001_a.sql --
CREATE TABLE a(x);
-- 002_b.sql --
CREATE TABLE b(x);
-- 003_c.sql --
CREATE TABLE c(x);
-- new/004_d.sql --
CREATE TABLE d(x);
`},
	{"naming/inferred-a-new-file-breaks-the-pattern", `
infer-digits
-- want --
naming error 0004_d.sql:0 ~ 4-digit number, want 3 digits
-- 001_a.sql --
CREATE TABLE a(x);
-- 002_b.sql --
CREATE TABLE b(x);
-- 003_c.sql --
CREATE TABLE c(x);
-- new/0004_d.sql --
CREATE TABLE d(x);
`},
	{"naming/one-odd-file-is-no-convention", `
# supermemoryai/supermemory: 000_setup.sql, then drizzle's 0001_... files
infer-digits
-- want --
-- 000_setup.sql --
CREATE TABLE a(x);
-- new/0001_remarkable_avengers.sql --
CREATE TABLE b(x);
`},
	{"naming/inferred-mixed-folder-keeps-4", `
infer-digits
-- want --
naming error 03_c.sql:0 ~ 2-digit number, want 4 digits
-- 001_a.sql --
CREATE TABLE a(x);
-- 0002_b.sql --
CREATE TABLE b(x);
-- new/03_c.sql --
CREATE TABLE c(x);
`},
	{"naming/inferred-new-folder", `
infer-digits
nobase
-- want --
-- new/01_a.sql --
CREATE TABLE a(x);
-- new/02_b.sql --
CREATE TABLE b(x);
-- new/03_c.sql --
CREATE TABLE c(x);
`},
	{"naming/non-sql-ignored", `
-- want --
-- 0001_a.sql --
CREATE TABLE a(x);
-- new/README.md --
DROP TABLE a;
-- new/.gitkeep --
-- new/0002_b.SQL --
DROP TABLE a;
-- new/0002_c.sql --
CREATE TABLE c(x);
`},
	{"stray-file", `
-- want --
stray-file warning INIT_ALL.sql:0 ~ wrangler applies every .sql file
-- 0001_a.sql --
CREATE TABLE a(x);
-- new/INIT_ALL.sql --
CREATE TABLE IF NOT EXISTS a(x);
`},
	{"stray-file/on-base-not-reported", `
-- want --
-- 0001_a.sql --
CREATE TABLE a(x);
-- schema.sql --
CREATE TABLE IF NOT EXISTS a(x);
-- new/0002_b.sql --
CREATE TABLE b(x);
`},
	{"duplicate-number", `
-- want --
duplicate-number error 0002_c.sql:0 ~ also used by 0002_b.sql
out-of-order error 0002_c.sql:0
-- 0001_a.sql --
CREATE TABLE a(x);
-- 0002_b.sql --
CREATE TABLE b(x);
-- new/0002_c.sql --
CREATE TABLE c(x);
`},
	{"duplicate-number/both-new", `
nobase
-- want --
duplicate-number error 0002_b.sql:0 ~ also used by 0002_c.sql
duplicate-number error 0002_c.sql:0 ~ also used by 0002_b.sql
-- 0001_a.sql --
CREATE TABLE a(x);
-- 0002_b.sql --
CREATE TABLE b(x);
-- 0002_c.sql --
CREATE TABLE c(x);
`},
	{"gap", `
-- want --
gap error 0004_d.sql:0 ~ number 0003 is missing before 0004_d.sql
-- 0001_a.sql --
CREATE TABLE a(x);
-- 0002_b.sql --
CREATE TABLE b(x);
-- new/0004_d.sql --
CREATE TABLE d(x);
`},
	{"gap/start-at-zero-or-one-is-fine", `
nobase
-- want --
-- 0000_a.sql --
CREATE TABLE a(x);
-- 0001_b.sql --
CREATE TABLE b(x);
`},
	{"gap/start", `
nobase
-- want --
gap error 0002_b.sql:0 ~ numbering starts at 0002
-- 0002_b.sql --
CREATE TABLE b(x);
`},
	{"gap/old-gap-not-reported", `
-- want --
-- 0001_a.sql --
CREATE TABLE a(x);
-- 0005_b.sql --
CREATE TABLE b(x);
-- new/0006_c.sql --
CREATE TABLE c(x);
`},
	{"out-of-order", `
-- want --
out-of-order error 0002_late.sql:0 ~ base already has 0003_c.sql
-- 0001_a.sql --
CREATE TABLE a(x);
-- 0003_c.sql --
CREATE TABLE c(x);
-- new/0002_late.sql --
CREATE TABLE late(x);
`},
	{"edited", `
-- want --
edited error 0002_b.sql:2 ~ was changed
-- 0001_a.sql --
CREATE TABLE a(x);
-- old/0002_b.sql --
CREATE TABLE b(
  x
);
-- new/0002_b.sql --
CREATE TABLE b(
  x,
  y
);
`},
	{"edited/content-rules-apply", `
-- want --
drop-table error 0002_b.sql:2
edited error 0002_b.sql:2
-- 0001_a.sql --
CREATE TABLE a(x);
-- old/0002_b.sql --
CREATE TABLE b(x);
-- new/0002_b.sql --
CREATE TABLE b(x);
DROP TABLE a;
`},
	{"removed", `
-- want --
gap error 0003_c.sql:0 ~ number 0002 is missing
removed error 0002_b.sql:0 ~ was deleted
-- 0001_a.sql --
CREATE TABLE a(x);
-- old/0002_b.sql --
CREATE TABLE b(x);
-- new/0003_c.sql --
CREATE TABLE c(x);
`},
	{"removed/renamed", `
-- want --
out-of-order error 0002_better_name.sql:0
removed error 0002_b.sql:0 ~ renamed to 0002_better_name.sql
-- 0001_a.sql --
CREATE TABLE a(x);
-- old/0002_b.sql --
CREATE TABLE b(x);
-- new/0002_better_name.sql --
CREATE TABLE b(x);
`},

	// ---- schema rules ----
	{"drop-table", `
-- want --
drop-table error 0002_drop.sql:2 ~ table users is dropped
-- 0001_a.sql --
CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE posts(id INTEGER PRIMARY KEY);
-- new/0002_drop.sql --
-- users are gone
DROP TABLE users;
`},
	{"drop-table/quoting-and-case", `
-- want --
drop-table error 0002_drop.sql:1
drop-table error 0002_drop.sql:2
drop-table error 0002_drop.sql:3
drop-table error 0002_drop.sql:4 ~ table tags
-- 0001_a.sql --
CREATE TABLE "Users"(id);
CREATE TABLE [order](id);
CREATE TABLE ` + "`posts`" + `(id);
CREATE TABLE tags(id);
-- new/0002_drop.sql --
drop table USERS;
DrOp TaBlE "order";
DROP/**/TABLE/* x */` + "`POSTS`" + `;
DROP
  TABLE
  IF EXISTS main.tags;
`},
	{"drop-table/only-in-comments-and-strings", `
-- want --
-- 0001_a.sql --
CREATE TABLE users(id, note TEXT);
-- new/0002_safe.sql --
-- DROP TABLE users;
/* DROP TABLE users;
   ALTER TABLE users DROP COLUMN note; */
INSERT INTO users(id, note) VALUES (1, 'DROP TABLE users; -- ALTER TABLE users RENAME TO x');
CREATE TABLE "DROP TABLE users"(x);
SELECT 'DELETE FROM users';
`},
	{"drop-table/if-exists-on-missing-table-is-nothing", `
-- want --
drop-table notice 0002_b.sql:1 ~ DROP TABLE IF EXISTS customers does nothing here (no migration creates
-- 0001_a.sql --
CREATE TABLE a(x);
-- new/0002_b.sql --
DROP TABLE IF EXISTS customers;
CREATE TABLE customers(id);
`},
	{"drop-table/created-and-dropped-in-one-file", `
-- want --
-- 0001_a.sql --
CREATE TABLE a(x);
-- new/0002_tmp.sql --
CREATE TABLE scratch(x);
INSERT INTO scratch SELECT x FROM a;
DROP TABLE scratch;
`},
	{"drop-table/recreated-without-copy", `
-- want --
drop-table error 0002_b.sql:1 ~ re-created on line 2 but no rows are copied
-- 0001_a.sql --
CREATE TABLE subs(id TEXT PRIMARY KEY, endpoint TEXT);
-- new/0002_b.sql --
DROP TABLE subs;
CREATE TABLE subs(id INTEGER PRIMARY KEY AUTOINCREMENT, endpoint TEXT);
`},
	{"drop-table/foreign-keys-mentioned", `
-- want --
fk-violation error 0002_b.sql:1 ~ FOREIGN KEY constraint failed once the tables hold rows
-- 0001_a.sql --
CREATE TABLE users(id INTEGER PRIMARY KEY);
CREATE TABLE posts(id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id));
-- new/0002_b.sql --
DROP TABLE users;
`},
	{"drop-table/copied-elsewhere", `
-- want --
drop-table error 0002_b.sql:3 ~ rows are copied into people
-- 0001_a.sql --
CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);
-- new/0002_b.sql --
CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT);
INSERT INTO people SELECT * FROM users;
DROP TABLE users;
`},
	{"drop-table/virtual-table-once", `
-- want --
drop-table error 0002_b.sql:1 ~ table search is dropped
-- 0001_a.sql --
CREATE VIRTUAL TABLE search USING fts5(title, body);
-- new/0002_b.sql --
DROP TABLE search;
`},
	{"drop-column", `
-- want --
drop-column error 0002_b.sql:2 ~ column users.email is dropped
-- 0001_a.sql --
CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT, name TEXT);
-- new/0002_b.sql --
-- spring cleaning
ALTER TABLE "USERS" DROP COLUMN [Email];
`},
	{"drop-column/rebuild-loses-a-column", `
-- want --
pragma-no-effect warning 0002_rebuild.sql:1 ~ PRAGMA foreign_keys = off has no effect on D1: D1 enforces foreign key
drop-column error 0002_rebuild.sql:10 ~ column posts.posted_at is lost: the table is rebuilt (new table on lin
-- 0001_a.sql --
CREATE TABLE posts(id INTEGER PRIMARY KEY, text TEXT, posted_at TIMESTAMP);
-- new/0002_rebuild.sql --
PRAGMA foreign_keys = off;
-- new shape
CREATE TABLE new_posts(
  id INTEGER PRIMARY KEY,
  text TEXT
);
INSERT INTO new_posts(id, text)
SELECT id, text FROM posts;

DROP TABLE posts;
ALTER TABLE new_posts RENAME TO posts;
PRAGMA foreign_keys = on;
`},
	{"drop-column/rebuild-copying-a-column-under-a-new-name-is-a-rename", `
-- want --
rename-column error 0002_rebuild.sql:1 ~ column cards.last4 is renamed to last_four by the rebuild
rename-column error 0002_rebuild.sql:1 ~ column cards.n is renamed to count by the rebuild
drop-column error 0002_rebuild.sql:3 ~ column cards.legacy is lost
-- 0001_a.sql --
CREATE TABLE cards (id TEXT PRIMARY KEY, last4 TEXT, kind TEXT NOT NULL, legacy TEXT, n INTEGER);
-- new/0002_rebuild.sql --
CREATE TABLE cards_new (id TEXT PRIMARY KEY, last_four TEXT, kind TEXT NOT NULL, count INTEGER);
INSERT INTO cards_new (id, last_four, kind, count) SELECT id, last4, kind, n FROM cards;
DROP TABLE cards;
ALTER TABLE cards_new RENAME TO cards;
`},
	{"drop-column/rebuild-keeping-all-columns-is-fine", `
-- want --
-- 0001_a.sql --
CREATE TABLE posts(id INTEGER PRIMARY KEY, text TEXT, n INTEGER);
CREATE INDEX posts_n ON posts(n);
-- new/0002_rebuild.sql --
CREATE TABLE "__new_posts"(id INTEGER PRIMARY KEY, text TEXT NOT NULL DEFAULT '', n TEXT, extra TEXT);
INSERT INTO "__new_posts"(id, text, n) SELECT id, COALESCE(text, ''), CAST(n AS TEXT) FROM posts;
DROP TABLE posts;
ALTER TABLE "__new_posts" RENAME TO posts;
CREATE INDEX posts_n ON posts(n);
`},
	{"drop-column/rebuild-through-temp-table", `
-- want --
d1-unsupported error 0002_rebuild.sql:1 ~ CREATE TEMP TABLE t1_backup: D1 refuses temporary tables, views, index
drop-column error 0002_rebuild.sql:3 ~ column t1.c is lost: the table is rebuilt (new table on line 4, old on
-- 0001_a.sql --
CREATE TABLE t1(a, b, c);
-- new/0002_rebuild.sql --
CREATE TEMPORARY TABLE t1_backup(a, b);
INSERT INTO t1_backup SELECT a, b FROM t1;
DROP TABLE t1;
CREATE TABLE t1(a, b);
INSERT INTO t1 SELECT a, b FROM t1_backup;
DROP TABLE t1_backup;
`},
	{"drop-column/rebuild-renaming-the-old-table-first", `
-- want --
drop-column error 0002_rebuild.sql:4 ~ column t.b is lost
-- 0001_a.sql --
CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT, c TEXT);
-- new/0002_rebuild.sql --
ALTER TABLE t RENAME TO t_old;
CREATE TABLE t(a INTEGER PRIMARY KEY, c TEXT);
INSERT INTO t(a, c) SELECT a, c FROM t_old;
DROP TABLE t_old;
`},
	{"drop-column/rebuild-with-create-as-select", `
-- want --
drop-column error 0002_rebuild.sql:2 ~ column t.c is lost
-- 0001_a.sql --
CREATE TABLE t(a, b, c);
-- new/0002_rebuild.sql --
CREATE TABLE t_new AS SELECT a, b FROM t;
DROP TABLE t;
ALTER TABLE t_new RENAME TO t;
`},
	{"drop-column/rebuild-drops-index-and-trigger", `
-- want --
drop-index warning 0002_rebuild.sql:3 ~ index t_b on t
drop-trigger warning 0002_rebuild.sql:3 ~ trigger t_touch on t
-- 0001_a.sql --
CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT, at TEXT);
CREATE INDEX t_b ON t(b);
CREATE TRIGGER t_touch AFTER UPDATE ON t BEGIN UPDATE t SET at = 'now' WHERE a = new.a; END;
-- new/0002_rebuild.sql --
CREATE TABLE t2(a INTEGER PRIMARY KEY, b TEXT, at TEXT);
INSERT INTO t2 SELECT * FROM t;
DROP TABLE t;
ALTER TABLE t2 RENAME TO t;
`},
	{"rename-table", `
-- want --
rename-table error 0002_b.sql:2 ~ table cc_sessions is renamed to coder_sessions
-- 0001_a.sql --
CREATE TABLE cc_sessions(id TEXT PRIMARY KEY, prompt TEXT);
CREATE INDEX cc_prompt ON cc_sessions(prompt);
-- new/0002_b.sql --
-- Rename cc_sessions table to coder_sessions
ALTER TABLE cc_sessions RENAME TO coder_sessions;
`},
	{"rename-table/and-back", `
-- want --
-- 0001_a.sql --
CREATE TABLE pets(id);
-- new/0002_b.sql --
ALTER TABLE pets RENAME TO animals;
ALTER TABLE animals RENAME TO pets;
`},
	{"rename-column", `
-- want --
rename-column error 0002_b.sql:1 ~ column users.name is renamed to displayName
-- 0001_a.sql --
CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);
-- new/0002_b.sql --
ALTER TABLE ` + "`users`" + ` RENAME COLUMN ` + "`name`" + ` TO ` + "`displayName`" + `;
`},
	{"rename-column/case-change-breaks-result-keys", `
-- want --
rename-column error 0002_b.sql:1 ~ renamed to Name
-- 0001_a.sql --
CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);
-- new/0002_b.sql --
ALTER TABLE users RENAME name TO Name;
`},
	{"rename-column/then-drop-is-one-drop", `
-- want --
drop-column error 0002_b.sql:2 ~ column users.name is dropped
-- 0001_a.sql --
CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);
-- new/0002_b.sql --
ALTER TABLE users RENAME COLUMN name TO old_name;
ALTER TABLE users DROP COLUMN old_name;
`},
	{"rename-column/in-table-created-in-file", `
-- want --
-- 0001_a.sql --
CREATE TABLE a(x);
-- new/0002_b.sql --
CREATE TABLE users(id int);
ALTER TABLE users RENAME COLUMN id TO uid;
ALTER TABLE users ADD COLUMN c int;
ALTER TABLE users RENAME COLUMN c TO d;
`},
	{"drop-index", `
-- want --
drop-index warning 0002_b.sql:1 ~ index users_email on users
-- 0001_a.sql --
CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT);
CREATE INDEX users_email ON users(email);
-- new/0002_b.sql --
DROP INDEX IF EXISTS "users_email";
`},
	{"drop-index/recreated-is-fine", `
-- want --
-- 0001_a.sql --
CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT);
CREATE INDEX users_email ON users(email);
-- new/0002_b.sql --
DROP INDEX users_email;
CREATE INDEX users_email ON users(lower(email));
`},
	{"drop-index/with-its-table-is-one-finding", `
-- want --
drop-table error 0002_b.sql:1
-- 0001_a.sql --
CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT);
CREATE INDEX users_email ON users(email);
CREATE TRIGGER users_t AFTER INSERT ON users BEGIN SELECT 1; END;
-- new/0002_b.sql --
DROP TABLE users;
`},
	{"drop-view", `
-- want --
drop-view warning 0002_b.sql:1 ~ view active_users
-- 0001_a.sql --
CREATE TABLE users(id INTEGER PRIMARY KEY, active INTEGER);
CREATE VIEW active_users AS SELECT id FROM users WHERE active;
-- new/0002_b.sql --
DROP VIEW active_users;
`},
	{"drop-view/recreated-is-fine", `
-- want --
-- 0001_a.sql --
CREATE TABLE users(id INTEGER PRIMARY KEY, active INTEGER);
CREATE VIEW active_users AS SELECT id FROM users WHERE active;
-- new/0002_b.sql --
DROP VIEW active_users;
ALTER TABLE users ADD COLUMN name TEXT;
CREATE VIEW active_users AS SELECT id, name FROM users WHERE active;
`},
	{"drop-trigger", `
-- want --
drop-trigger warning 0002_b.sql:1 ~ trigger users_touch on users
-- 0001_a.sql --
CREATE TABLE users(id INTEGER PRIMARY KEY, at TEXT);
CREATE TRIGGER users_touch AFTER UPDATE ON users
BEGIN
  UPDATE users SET at = CURRENT_TIMESTAMP WHERE id = NEW.id;
END;
-- new/0002_b.sql --
DROP TRIGGER users_touch;
`},
	{"not-null-no-default", `
-- want --
not-null-no-default error 0002_b.sql:1 ~ column users.c2 is added NOT NULL without a default
not-null-no-default error 0002_b.sql:4 ~ column users.c5 is added NOT NULL without a default
-- 0001_a.sql --
CREATE TABLE users(id int);
-- new/0002_b.sql --
ALTER TABLE users ADD COLUMN c2 int NOT NULL;
ALTER TABLE users ADD COLUMN c3 int NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN c4 text;
ALTER TABLE users ADD COLUMN c5 int GENERATED ALWAYS AS (id + 1) VIRTUAL NOT NULL;
`},
	{"not-null-no-default/rebuild-copies-null-into-a-default", `
# Production's rows hold NULL in a nullable column (here added later with
# ALTER TABLE ADD COLUMN); copying it into NOT NULL fails although the new
# column has a DEFAULT: an explicit NULL does not take it. Held-out
# repository Makisuo/electric-proxy, 0004.
-- want --
not-null-no-default error 0003_c.sql:2 ~ NOT NULL constraint failed: __new_apps.jwt
-- 0001_a.sql --
CREATE TABLE apps (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL);
-- 0002_b.sql --
ALTER TABLE apps ADD jwt TEXT;
-- new/0003_c.sql --
CREATE TABLE __new_apps (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, jwt TEXT DEFAULT '{}' NOT NULL);
INSERT INTO __new_apps(id, name, jwt) SELECT id, name, jwt FROM apps;
DROP TABLE apps;
ALTER TABLE __new_apps RENAME TO apps;
`},
	{"not-null-no-default/new-table-is-fine", `
-- want --
-- 0001_a.sql --
CREATE TABLE a(x);
-- new/0002_b.sql --
CREATE TABLE users(id int);
ALTER TABLE users ADD COLUMN c1 int NOT NULL;
`},
	{"not-null-no-default/rebuild", `
-- want --
not-null-no-default error 0002_b.sql:2 ~ NOT NULL constraint failed: t_new.b
-- 0001_a.sql --
CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT);
-- new/0002_b.sql --
CREATE TABLE t_new(a INTEGER PRIMARY KEY, b TEXT NOT NULL, c TEXT NOT NULL);
INSERT INTO t_new(a, b, c) SELECT a, b, 'x' FROM t;
DROP TABLE t;
ALTER TABLE t_new RENAME TO t;
`},
	{"unique-on-existing", `
-- want --
unique-on-existing warning 0002_b.sql:3 ~ unique index idx_b on existing table users (b)
unique-on-existing warning 0002_b.sql:4 ~ (c, d)
-- 0001_a.sql --
CREATE TABLE users(id INTEGER PRIMARY KEY, b, c, d);
-- new/0002_b.sql --
ALTER TABLE users ADD COLUMN a;
CREATE UNIQUE INDEX idx_a ON users (a);
CREATE UNIQUE INDEX idx_b ON users (b);
CREATE UNIQUE INDEX idx_c_d ON users (c, d);
CREATE INDEX idx_plain ON users (c);
CREATE UNIQUE INDEX idx_id_b ON users (id, b);
`},
	{"unique-on-existing/widening-is-fine", `
-- want --
drop-index warning 0002_b.sql:1
-- 0001_a.sql --
CREATE TABLE users(id INTEGER PRIMARY KEY, a, b);
CREATE UNIQUE INDEX idx_a_b ON users(a, b);
-- new/0002_b.sql --
DROP INDEX idx_a_b;
ALTER TABLE users ADD COLUMN c;
CREATE UNIQUE INDEX idx_a_b_c ON users (a, b, c);
`},
	{"unique-on-existing/new-column-with-default-is-not-fresh", `
-- want --
unique-on-existing warning 0002_b.sql:2 ~ the unique index fails on the rows the table already has (production's
-- 0001_a.sql --
CREATE TABLE users(id INTEGER PRIMARY KEY);
-- new/0002_b.sql --
ALTER TABLE users ADD COLUMN code TEXT DEFAULT 'x';
CREATE UNIQUE INDEX users_code ON users(code);
`},
	{"unique-on-existing/rebuild-adds-constraint", `
-- want --
unique-on-existing warning 0002_b.sql:1 ~ UNIQUE/PRIMARY KEY constraint on existing table peers (domain)
-- 0001_a.sql --
CREATE TABLE peers(id INTEGER PRIMARY KEY, domain TEXT NOT NULL);
-- new/0002_b.sql --
CREATE TABLE peers_new(id INTEGER PRIMARY KEY, domain TEXT UNIQUE NOT NULL);
INSERT INTO peers_new SELECT * FROM peers;
DROP TABLE peers;
ALTER TABLE peers_new RENAME TO peers;
`},
	{"unbounded-dml", `
-- want --
unbounded-dml warning 0002_b.sql:1 ~ DELETE without WHERE
unbounded-dml warning 0002_b.sql:2 ~ UPDATE without WHERE
unbounded-dml warning 0002_b.sql:3
unbounded-dml warning 0002_b.sql:5
-- 0001_a.sql --
CREATE TABLE t(id INTEGER PRIMARY KEY, x, y);
-- new/0002_b.sql --
DELETE FROM t;
update t set x = (select max(y) from t where y > 0);
WITH c AS (SELECT id FROM t WHERE x) DELETE FROM t;
DELETE FROM t WHERE id IN (SELECT id FROM t);
UPDATE t SET x = 'WHERE' -- WHERE in a comment
;
UPDATE t SET x = 1 WHERE y IS NULL;
WITH c AS (SELECT 1) UPDATE t SET x = 2 WHERE id = 1;
INSERT INTO t(x) SELECT y FROM t;
INSERT INTO t(id, x) VALUES (1, 2) ON CONFLICT(id) DO UPDATE SET x = 3;
CREATE TRIGGER t_del AFTER INSERT ON t BEGIN DELETE FROM t; UPDATE t SET x = 1; END;
`},
	{"transaction", `
-- want --
transaction error 0002_b.sql:1 ~ top-level BEGIN
transaction error 0002_b.sql:3 ~ top-level COMMIT
transaction error 0002_b.sql:4 ~ SAVEPOINT
transaction error 0002_b.sql:6 ~ RELEASE
transaction error 0002_b.sql:7 ~ END
transaction error 0002_b.sql:11 ~ BEGIN
transaction error 0002_b.sql:12 ~ ROLLBACK
-- 0001_a.sql --
CREATE TABLE t(id INTEGER PRIMARY KEY, x);
-- new/0002_b.sql --
BEGIN TRANSACTION;
ALTER TABLE t ADD COLUMN y;
COMMIT;
SAVEPOINT s1;
ALTER TABLE t ADD COLUMN z;
RELEASE s1;
end;
CREATE TRIGGER tr AFTER INSERT ON t BEGIN
  UPDATE t SET x = 1 WHERE id = new.id;
END;
/* x */ BEGIN IMMEDIATE;
ROLLBACK TO s1;
`},
	{"transaction/pasted-plpgsql-end-if-is-not-a-transaction", `
-- want --
apply-failed error 0002_b.sql:1 ~ statement does not apply on top of the earlier migrations: near "DO":
-- 0001_a.sql --
CREATE TABLE t(id INTEGER PRIMARY KEY, x);
-- new/0002_b.sql --
DO $$
BEGIN
  IF true THEN
    ALTER TABLE t ADD COLUMN y;
  END IF;
END $$;
`},
	{"apply-failed", `
-- want --
apply-failed error 0002_b.sql:3 ~ statement does not apply on top of the earlier migrations: no such tab
drop-table error 0002_b.sql:4 ~ table t is dropped
-- 0001_a.sql --
CREATE TABLE t(id);
-- new/0002_b.sql --
ALTER TABLE t ADD COLUMN x;

INSERT INTO nope VALUES (1);
DROP TABLE t;
`},
	{"apply-failed/postgres", `
-- want --
apply-failed error 0002_pg.sql:2 ~ statement does not apply on top of the earlier migrations: near "EXIST
-- 0001_a.sql --
CREATE TABLE nodes(id, status);
-- new/0002_pg.sql --
-- PostgreSQL
ALTER TABLE nodes DROP COLUMN IF EXISTS status;
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS settings JSONB NOT NULL DEFAULT '{}'::jsonb;
`},
	{"apply-failed/stops-replay", `
nobase
-- want --
apply-failed error 0002_b.sql:1 ~ statement does not apply on top of the earlier migrations: table t alr
drop-table error 0003_c.sql:1 ~ table t is dropped
apply-failed error 0003_c.sql:2 ~ statement does not apply on top of the earlier migrations: no such tab
unbounded-dml warning 0003_c.sql:2 ~ DELETE without WHERE touches every row of the table
-- 0001_a.sql --
CREATE TABLE t(id);
-- 0002_b.sql --
CREATE TABLE t(id);
-- 0003_c.sql --
DROP TABLE t;
DELETE FROM t;
`},
	{"apply-failed/in-base-file-blocks-the-new-one", `
-- want --
apply-failed warning 0001_a.sql:1 ~ this migration is already applied, but it does not apply on a fresh SQ
apply-failed error 0002_b.sql:1 ~ statement does not apply on top of the earlier migrations: no such tab
-- 0001_a.sql --
INSERT INTO created_elsewhere VALUES (1);
-- new/0002_b.sql --
DROP TABLE created_elsewhere;
`},
	{"apply-failed/attach-is-refused", `
-- want --
d1-unsupported error 0002_b.sql:1 ~ not authorized: D1 does not offer ATTACH or DETACH, and guard does not
-- 0001_a.sql --
CREATE TABLE t(id);
-- new/0002_b.sql --
ATTACH DATABASE 'guard-must-not-create-this.db' AS other;
`},
	{"apply-failed/runaway-query", `
timeout: 300ms
-- want --
resource-limit error 0002_b.sql:1 ~ the file did not finish within the replay's limit of 300ms per migrati
-- 0001_a.sql --
CREATE TABLE t(id);
-- new/0002_b.sql --
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c;
`},
	{"apply-failed/only-an-empty-table-takes-it", `
-- want --
apply-failed error 0002_b.sql:2 ~ statement does not apply on top of the earlier migrations: statement f
apply-failed error 0002_b.sql:3 ~ statement does not apply on top of the earlier migrations: statement f
apply-failed error 0002_b.sql:4 ~ statement does not apply on top of the earlier migrations: statement f
-- 0001_a.sql --
CREATE TABLE teams(id INTEGER PRIMARY KEY);
CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL, age INT CHECK (age > 200));
-- new/0002_b.sql --
CREATE TABLE fresh(id INTEGER PRIMARY KEY);
ALTER TABLE users ADD COLUMN created_at TEXT DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE users ADD COLUMN name_len INT GENERATED ALWAYS AS (length(name)) STORED;
ALTER TABLE users ADD COLUMN team_id INT REFERENCES teams(id) DEFAULT 1;
ALTER TABLE users ADD COLUMN nick TEXT DEFAULT 'x';
ALTER TABLE users ADD COLUMN name_upper TEXT GENERATED ALWAYS AS (upper(name)) VIRTUAL NOT NULL;
ALTER TABLE fresh ADD COLUMN created_at TEXT DEFAULT CURRENT_TIMESTAMP;
`},
	{"apply-failed/duplicate-column-from-stray", `
-- want --
apply-failed error INIT_ALL.sql:2 ~ duplicate column name: html
stray-file warning INIT_ALL.sql:0
-- 0001_a.sql --
CREATE TABLE emails(id);
ALTER TABLE emails ADD COLUMN html TEXT;
-- new/INIT_ALL.sql --
CREATE TABLE IF NOT EXISTS emails(id);
ALTER TABLE emails ADD COLUMN html TEXT;
`},

	// ---- suppression and severity ----
	{"allow", `
-- want --
drop-column notice 0002_b.sql:3 ~ allowed by guard:allow on line 1: nothing reads legacy since v2
drop-table error 0002_b.sql:4
-- 0001_a.sql --
CREATE TABLE users(id INTEGER PRIMARY KEY, legacy TEXT);
CREATE TABLE old(id);
-- new/0002_b.sql --
-- guard:allow drop-column nothing reads legacy since v2
-- (and this sentence mentions guard:allow only in passing)
ALTER TABLE users DROP COLUMN legacy;
DROP TABLE old;
`},
	{"allow/block-comment-and-file-rule", `
-- want --
gap notice 0005_b.sql:0 ~ allowed by guard:allow on line 1: 0002-0004 were abandoned
-- 0001_a.sql --
CREATE TABLE t(id);
-- new/0005_b.sql --
/* guard:allow gap 0002-0004 were abandoned */
ALTER TABLE t ADD COLUMN x;
`},
	{"allow/malformed", `
-- want --
bad-allow error 0002_b.sql:1 ~ drop-column has no reason
bad-allow error 0002_b.sql:2 ~ unknown rule "drop-everything"
bad-allow error 0002_b.sql:3 ~ names no rule
drop-column error 0002_b.sql:4
-- 0001_a.sql --
CREATE TABLE users(id INTEGER PRIMARY KEY, legacy TEXT);
-- new/0002_b.sql --
-- guard:allow drop-column
-- guard:allow drop-everything because
-- guard:allow
ALTER TABLE users DROP COLUMN legacy;
`},
	{"allow/in-string-is-not-a-comment", `
-- want --
drop-column error 0002_b.sql:2
-- 0001_a.sql --
CREATE TABLE users(id INTEGER PRIMARY KEY, legacy TEXT);
-- new/0002_b.sql --
INSERT INTO users(legacy) VALUES ('-- guard:allow drop-column sneaky');
ALTER TABLE users DROP COLUMN legacy;
`},
	{"severity/override-and-off", `
severity: drop-column=warning unbounded-dml=off
-- want --
drop-column warning 0002_b.sql:1
-- 0001_a.sql --
CREATE TABLE users(id INTEGER PRIMARY KEY, legacy TEXT);
-- new/0002_b.sql --
ALTER TABLE users DROP COLUMN legacy;
DELETE FROM users;
`},
	{"unchanged-files-are-not-reported", `
-- want --
-- 0001_a.sql --
CREATE TABLE t(id, x);
-- 0002_b.sql --
ALTER TABLE t DROP COLUMN x;
DELETE FROM t;
BEGIN;
-- README.md --
hello
`},
	{"wrangler-table-exists", `
-- want --
drop-table error 0002_b.sql:1 ~ table d1_migrations is dropped
-- 0001_a.sql --
SELECT count(*) FROM d1_migrations;
-- new/0002_b.sql --
DROP TABLE d1_migrations;
`},
}

func TestRules(t *testing.T) {
	for _, c := range ruleCases {
		t.Run(c.name, func(t *testing.T) { checkCase(t, c.src) })
	}
}

// Every rule of the table must be exercised by at least one case above.
func TestEveryRuleHasACase(t *testing.T) {
	folders := ruleFolders(t)
	for _, r := range Rules() {
		found := false
		for _, c := range ruleCases {
			if strings.Contains(c.src, "\n"+r.ID+" ") {
				found = true
			}
		}
		for _, src := range folders {
			if strings.Contains(src, "\n"+r.ID+" ") {
				found = true
			}
		}
		if !found {
			t.Errorf("rule %s has no positive case in ruleCases", r.ID)
		}
	}
}

func TestRulesTable(t *testing.T) {
	want := map[string]report.Severity{
		"naming": "error", "duplicate-number": "error", "gap": "error", "out-of-order": "error",
		"edited": "error", "removed": "error", "stray-file": "warning", "drop-table": "error",
		"drop-column": "error", "rename-table": "error", "rename-column": "error",
		"drop-index": "warning", "drop-view": "warning", "drop-trigger": "warning",
		"not-null-no-default": "error", "unique-on-existing": "warning", "unbounded-dml": "warning",
		"transaction": "error", "apply-failed": "error", "bad-allow": "error",
		"cascade-delete": "error", "fk-violation": "error", "fk-dangling": "error", "dqs-literal": "error",
		"pragma-no-effect": "warning", "d1-unsupported": "error", "resource-limit": "error", "rows-skipped": "notice",
		"unique-not-created": "warning",
	}
	got := Rules()
	if len(got) != len(want) {
		t.Fatalf("Rules() has %d rules, want %d", len(got), len(want))
	}
	for _, r := range got {
		if want[r.ID] != r.DefaultSeverity {
			t.Errorf("rule %s: default severity %q, want %q", r.ID, r.DefaultSeverity, want[r.ID])
		}
		if r.Description == "" {
			t.Errorf("rule %s has no description", r.ID)
		}
	}
}

func TestOptionsValidation(t *testing.T) {
	in := Input{Dir: dir}
	for _, o := range []Options{
		{Severity: map[string]report.Severity{"drop-everything": "off"}},
		{Severity: map[string]report.Severity{"drop-table": "fatal"}},
		{Digits: -1},
	} {
		if _, err := Check(context.Background(), in, o); err == nil {
			t.Errorf("Check with %+v: no error", o)
		}
	}
}

// With nothing new against base the engine must not need SQLite at all:
// a base file that cannot apply is then not even looked at.
func TestNothingChangedNoReplay(t *testing.T) {
	checkCase(t, `
-- want --
-- 0001_a.sql --
this is not SQL at all;
-- README.md --
changed docs only
`)
}

func TestUpdatedColumns(t *testing.T) {
	for _, tc := range []struct {
		stmt  string
		table string
		cols  string
		ok    bool
	}{
		{`UPDATE req SET link_id = (SELECT l.id FROM links l WHERE l.short_id = req.short_id)`, "req", "link_id", true},
		{`update OR IGNORE main."Req" set "a" = 1, b = coalesce(c, 'x,y') where id > 0`, "Req", "a b", true},
		{`UPDATE t SET a = CASE WHEN x THEN 1 ELSE 2 END, b = f(1, 2) RETURNING *`, "t", "a b", true},
		{`UPDATE t SET (a, b) = (1, 2)`, "", "", false},
		{`WITH x AS (SELECT 1) UPDATE t SET a = 1`, "", "", false},
		{`DELETE FROM t`, "", "", false},
		{`UPDATE t SET`, "", "", false},
	} {
		table, cols, ok := updatedColumns(tc.stmt)
		if ok != tc.ok || table != tc.table || strings.Join(cols, " ") != tc.cols {
			t.Errorf("updatedColumns(%q) = %q, %q, %v; want %q, %q, %v", tc.stmt, table, cols, ok, tc.table, tc.cols, tc.ok)
		}
	}
}
