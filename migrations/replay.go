package migrations

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/guardcm/guard/internal/d1"
	"github.com/guardcm/guard/internal/report"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// wranglerTable is the table wrangler creates before applying migrations
// (wrangler's d1 migrations helper); migrations run with it present.
const wranglerTable = `CREATE TABLE IF NOT EXISTS d1_migrations(
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		name       TEXT UNIQUE,
		applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
)`

// pragmaUse is one PRAGMA a statement runs: its name and the value it sets
// ("" when it only reads).
type pragmaUse struct{ name, value string }

// recorder collects what SQLite's authorizer reports while one migration
// statement is compiled: the tables it reads, writes, deletes from and
// drops (data flow, which tells a table rebuild from a drop and re-create,
// and the parents whose children may lose rows), whether it touched the
// schema, and what D1 would refuse. It also refuses what a migration must
// not do to the machine running the check.
type recorder struct {
	mu      sync.Mutex
	on      bool
	reads   map[okey]bool
	writes  map[okey]bool
	deletes map[okey]bool // DELETE targets, including DROP TABLE's implicit DELETE and FK actions
	// target is the table the statement itself deletes from, drops, or
	// writes: the first one SQLite authorizes (foreign key actions on the
	// children are compiled after it).
	target  okey
	created []string // names of objects the statement creates in main
	ddl     bool
	other   bool // DDL other than CREATE in main (drop, alter, temp, virtual)
	denied  string
	pragmas []pragmaUse
	temp    string // first temporary object the statement creates, for d1-unsupported
	// aside is set while rows of sqlite_schema are set aside (setaside.go):
	// a statement that needs the whole table is then refused, and wanted
	// says so, so that it runs again once the rows are back.
	aside, wanted bool
}

func (r *recorder) setTarget(db, table string) {
	if r.target.name == "" && !internalName(table) {
		r.target = objKey(db, "table", table)
	}
}

func newRecorder() *recorder {
	return &recorder{reads: map[okey]bool{}, writes: map[okey]bool{}, deletes: map[okey]bool{}}
}

func (r *recorder) start() {
	r.mu.Lock()
	r.on, r.ddl, r.other, r.denied, r.temp, r.target, r.wanted, r.aside = true, false, false, "", "", okey{}, false, false
	clear(r.reads)
	clear(r.writes)
	clear(r.deletes)
	r.created = r.created[:0]
	r.pragmas = r.pragmas[:0]
	r.mu.Unlock()
}

func (r *recorder) stop() {
	r.mu.Lock()
	r.on = false
	r.mu.Unlock()
}

func (r *recorder) authorize(action sqlite.AuthorizerActionCode, arg1, arg2, db, trigger string) sqlite.AuthorizerReturnCode {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.on {
		return sqlite.AuthorizerOK
	}
	if r.aside && needsWholeSchema(action, arg1, arg2, db) {
		r.wanted = true
		return sqlite.AuthorizerDeny
	}
	deny := func(why string) sqlite.AuthorizerReturnCode {
		if r.denied == "" {
			r.denied = why
		}
		return sqlite.AuthorizerDeny
	}
	switch action {
	case sqlite.AuthAttach, sqlite.AuthDetach:
		return deny("D1 does not offer ATTACH or DETACH, and guard does not let a migration open files")
	case sqlite.AuthTransaction, sqlite.AuthSavepoint:
		return deny("transaction control is not available to D1 migrations")
	case sqlite.AuthPragma:
		switch lowerASCII(arg1) {
		case "writable_schema":
			return deny("PRAGMA writable_schema is not available to D1 migrations")
		case "schema_version":
			if arg2 != "" {
				return deny("setting PRAGMA schema_version is not available to D1 migrations")
			}
		}
		r.pragmas = append(r.pragmas, pragmaUse{arg1, arg2})
	case sqlite.AuthFunction:
		if lowerASCII(arg2) == "load_extension" {
			return deny("load_extension() is not available to D1 migrations")
		}
	case sqlite.AuthRead:
		if db != "" {
			r.reads[objKey(db, "table", arg1)] = true
		}
	case sqlite.AuthInsert, sqlite.AuthUpdate:
		if trigger == "" && db != "" {
			r.writes[objKey(db, "table", arg1)] = true
			r.setTarget(db, arg1)
		}
	case sqlite.AuthDelete:
		if trigger == "" && db != "" {
			r.deletes[objKey(db, "table", arg1)] = true
			r.setTarget(db, arg1)
		}
	case sqlite.AuthCreateTable, sqlite.AuthCreateIndex, sqlite.AuthCreateView, sqlite.AuthCreateTrigger:
		r.ddl = true
		if action == sqlite.AuthCreateIndex || action == sqlite.AuthCreateTrigger {
			r.created = append(r.created, arg2) // the table: its row lists the new object
		} else {
			r.created = append(r.created, arg1)
		}
	case sqlite.AuthCreateTempIndex, sqlite.AuthCreateTempTable, sqlite.AuthCreateTempTrigger, sqlite.AuthCreateTempView:
		r.ddl, r.other = true, true
		if r.temp == "" {
			kind := map[sqlite.AuthorizerActionCode]string{sqlite.AuthCreateTempIndex: "INDEX", sqlite.AuthCreateTempTable: "TABLE",
				sqlite.AuthCreateTempTrigger: "TRIGGER", sqlite.AuthCreateTempView: "VIEW"}[action]
			r.temp = "CREATE TEMP " + kind + " " + arg1
		}
	case sqlite.AuthDropTable:
		r.ddl, r.other = true, true
		r.setTarget(db, arg1)
	case sqlite.AuthAlterTable, sqlite.AuthDropIndex, sqlite.AuthDropTempIndex, sqlite.AuthDropTempTable,
		sqlite.AuthDropTempTrigger, sqlite.AuthDropTempView, sqlite.AuthDropTrigger, sqlite.AuthDropView,
		sqlite.AuthCreateVTable, sqlite.AuthDropVTable:
		r.ddl, r.other = true, true
	}
	return sqlite.AuthorizerOK
}

// needsWholeSchema reports the actions that may read or rewrite rows of
// sqlite_schema other than the ones the statement creates: everything but
// creating objects and reading or writing rows. A CREATE reads back the
// rowid of its own new row (SQLite's nested UPDATE of sqlite_schema).
func needsWholeSchema(action sqlite.AuthorizerActionCode, arg1, arg2, db string) bool {
	switch action {
	case sqlite.AuthCreateTable, sqlite.AuthCreateIndex, sqlite.AuthCreateView, sqlite.AuthCreateTrigger,
		sqlite.AuthInsert, sqlite.AuthUpdate, sqlite.AuthDelete, sqlite.AuthSelect, sqlite.AuthFunction,
		sqlite.AuthRecursive, sqlite.AuthReindex:
		return false
	case sqlite.AuthRead:
		return schemaTableName(arg1) && (db != "main" || arg2 != "ROWID")
	}
	return true
}

func schemaTableName(name string) bool {
	switch lowerASCII(name) {
	case "sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema":
		return true
	}
	return false
}

// replayer owns the in-memory database of one Check.
type replayer struct {
	db       *sql.DB
	conn     *sql.Conn
	rec      *recorder
	ld       *loader
	opts     *Options
	cur      *snapshot // schema after the last replayed statement, unless stale
	stale    bool
	version  int64 // PRAGMA schema_version after the last statement
	pageSize int64
	inTx     bool
	rows     *rowState // synthetic rows; nil when SchemaOnly
	// born are the tables (lower names) added files of this check created:
	// empty in production when the later added files run (bornEmpty).
	born map[string]bool
	// creations counts the statements since the last set-aside that only
	// created objects, with none that needed the whole schema between.
	creations int
}

// heapLimit sets SQLite's process-wide hard heap limit while checks run and
// restores it when the last one ends. A lower limit the process already
// has is kept.
var heapLimit struct {
	sync.Mutex
	users int
	saved int64
}

func acquireHeapLimit(ctx context.Context, conn *sql.Conn, limit int64) error {
	heapLimit.Lock()
	defer heapLimit.Unlock()
	if heapLimit.users == 0 {
		if err := conn.QueryRowContext(ctx, "PRAGMA hard_heap_limit").Scan(&heapLimit.saved); err != nil {
			return err
		}
		if heapLimit.saved == 0 || heapLimit.saved > limit {
			if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA hard_heap_limit = %d", limit)); err != nil {
				return err
			}
		}
	}
	heapLimit.users++
	return nil
}

func releaseHeapLimit(conn *sql.Conn) {
	heapLimit.Lock()
	defer heapLimit.Unlock()
	heapLimit.users--
	if heapLimit.users == 0 {
		_, _ = conn.ExecContext(context.Background(), fmt.Sprintf("PRAGMA hard_heap_limit = %d", heapLimit.saved))
	}
}

func openReplayer(ctx context.Context, opts *Options) (*replayer, error) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return nil, fmt.Errorf("open in-memory sqlite: %w", err)
	}
	// One connection: an in-memory database lives and dies with it.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open in-memory sqlite: %w", err)
	}
	r := &replayer{db: db, conn: conn, opts: opts, rec: newRecorder()}
	r.ld = newLoader(conn)
	r.ld.inTx = &r.inTx
	r.ld.aside.policy = opts.setAside
	if !opts.SchemaOnly {
		r.rows = newRowState()
	}
	if err := acquireHeapLimit(ctx, conn, 4*opts.memory()); err != nil {
		conn.Close()
		db.Close()
		return nil, fmt.Errorf("prepare replay database: %w", err)
	}
	err = conn.Raw(func(dc any) error {
		reg, ok := dc.(sqlite.AuthorizerRegisterer)
		if !ok {
			return errors.New("the sqlite driver does not support an authorizer")
		}
		return reg.RegisterAuthorizer(r.rec.authorize)
	})
	// D1 enforces foreign keys; wrangler creates its tracking table first.
	// Sorts and temporary b-trees stay in memory, under the heap limit.
	for _, q := range []string{"PRAGMA foreign_keys = ON", "PRAGMA temp_store = MEMORY", wranglerTable} {
		if err == nil {
			_, err = conn.ExecContext(ctx, q)
		}
	}
	if err == nil {
		err = conn.QueryRowContext(ctx, "PRAGMA page_size").Scan(&r.pageSize)
	}
	if err != nil {
		r.close()
		return nil, fmt.Errorf("prepare replay database: %w", err)
	}
	if r.version, err = r.schemaVersion(ctx); err != nil {
		r.close()
		return nil, err
	}
	r.stale = true
	return r, nil
}

func (r *replayer) close() {
	releaseHeapLimit(r.conn)
	r.conn.Close()
	r.db.Close()
}

func (r *replayer) schemaVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := r.conn.QueryRowContext(ctx, "PRAGMA schema_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema_version: %w", err)
	}
	return v, nil
}

// snapshot returns the current schema, reading it only if it may have
// changed since the last read.
func (r *replayer) snapshot(ctx context.Context) (*snapshot, error) {
	if !r.stale && r.cur != nil {
		return r.cur, nil
	}
	s, err := r.ld.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	r.cur, r.stale = s, false
	return s, nil
}

// failure is a statement SQLite (or D1's rules) refused.
type failure struct {
	line int
	msg  string
	// rule is the finding the failure becomes: apply-failed unless SQLite's
	// message or the authorizer names something more precise.
	rule string
	fix  string
	// txLost: SQLite rolled the whole file back (out of memory, database
	// full, interrupted), so nothing of the file stays applied.
	txLost bool
	// limit: the failure is one of the replay's own limits.
	limit bool
}

// sqliteMessage strips the driver's decoration ("SQL logic error: ... (1)")
// down to SQLite's own message, which is what a user can search for.
func sqliteMessage(err error) string {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err.Error()
	}
	msg := strings.TrimSuffix(se.Error(), fmt.Sprintf(" (%d)", se.Code()))
	if i := strings.Index(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() & 0xff
	}
	return 0
}

// onlyWithRows are SQLite's messages for ALTER TABLE ... ADD COLUMN forms
// it refuses only on a table that holds rows.
var onlyWithRows = []string{
	"Cannot add a column with non-constant default",
	"cannot add a STORED column",
	"Cannot add a REFERENCES column with non-NULL default value",
}

// classify turns a statement's error into a failure with the most precise
// rule SQLite's message (or the authorizer) allows.
func (r *replayer) classify(ctx, fctx context.Context, st Statement, err error) *failure {
	msg := sqliteMessage(err)
	f := &failure{line: st.Line, msg: msg, rule: RuleApplyFailed}
	code := sqliteCode(err)
	switch {
	case fctx.Err() != nil && ctx.Err() == nil:
		f.rule, f.limit, f.txLost = RuleResourceLimit, true, true
		f.msg = fmt.Sprintf("the file did not finish within the replay's limit of %s per migration file", r.opts.timeout())
		f.fix = "a migration must not run for long on D1 either: bound the statement (LIMIT, a WHERE on an indexed column), or split the data change out of the migration"
	case code == sqlite3.SQLITE_FULL:
		f.rule, f.limit, f.txLost = RuleResourceLimit, true, true
		f.msg = fmt.Sprintf("the file grows the database beyond the replay's limit of %d MiB per migration file (SQLite max_page_count): %s", r.opts.memory()>>20, msg)
		f.fix = "a migration that generates this much data is a bulk load: do it outside the migration, in bounded batches"
	case code == sqlite3.SQLITE_NOMEM:
		f.rule, f.limit, f.txLost = RuleResourceLimit, true, true
		f.msg = fmt.Sprintf("the statement needs more memory than the replay allows (SQLite hard heap limit of %d MiB): %s", 4*r.opts.memory()>>20, msg)
		f.fix = "bound the statement: a migration that needs this much memory on a few rows needs far more on production's"
	case code == sqlite3.SQLITE_TOOBIG:
		f.rule, f.limit = RuleResourceLimit, true
		f.msg = "a value is larger than SQLite's maximum string or blob length: " + msg
		f.fix = "store large values outside the database (R2) and keep a reference"
	case r.rec.temp != "":
		ref := tempRefusal(r.rec.temp)
		f.rule, f.msg, f.fix = ref.rule, ref.msg, ref.fix
	case r.rec.denied != "" && code == sqlite3.SQLITE_AUTH:
		f.rule, f.msg = RuleD1Unsupported, msg+": "+r.rec.denied
		f.fix = "remove the statement; D1 refuses it"
	case strings.HasPrefix(msg, "FOREIGN KEY constraint failed"):
		f.rule = RuleFKViolation
		f.msg = "FOREIGN KEY constraint failed once the tables hold rows; D1 enforces foreign keys in every migration (" + d1.DocForeignKeys + ")"
		f.fix = "keep every reference valid: copy or delete the child rows first, or defer the check with PRAGMA defer_foreign_keys = on and restore the rows before the file ends"
	case strings.HasPrefix(msg, "UNIQUE constraint failed") && isCreateIndex(st.Text):
		f.rule = RuleUniqueOnExisting
		f.msg = "the unique index fails on the rows the table already has (production's has rows too): " + msg
		f.fix = "deduplicate the rows first (or give the new column distinct values), then create the index"
	case strings.HasPrefix(msg, "NOT NULL constraint failed"), strings.HasPrefix(msg, "Cannot add a NOT NULL column with default value NULL"):
		f.rule = RuleNotNullNoDefault
		f.msg = "with rows in the table (production has them, some holding NULL where a column allows it) SQLite refuses it: " + msg +
			"; an explicit NULL, copied from a nullable column, does not take the column's DEFAULT"
		if t, c, ok := addedColumn(st.Text); ok {
			f.msg = fmt.Sprintf("column %s.%s is added NOT NULL without a default; SQLite refuses that on a table with rows (production's has): %s", t, c, msg)
		}
		f.fix = "give the column a DEFAULT, or fill it for every row (INSERT ... SELECT must provide a value: COALESCE(old_column, <default>))"
	default:
		for _, m := range onlyWithRows {
			if strings.HasPrefix(msg, m) {
				f.msg = "statement fails as soon as the table has rows (production's has): " + msg
				f.fix = "add the column without that default or constraint, then backfill it with UPDATE"
			}
		}
	}
	if vacuumStatement(st.Text) {
		f.rule, f.msg, f.fix = RuleD1Unsupported, "VACUUM cannot run inside a migration: D1 applies each file as one transaction ("+d1.DocMigrations+"): "+msg, "remove VACUUM from the migration"
	}
	if f.fix == "" {
		f.fix = "make the statement valid SQLite on top of the earlier migrations (D1 runs SQLite: Postgres or MySQL syntax is rejected)"
	}
	return f
}

func isCreateIndex(stmt string) bool {
	w := leadingWords(stmt, 3)
	return len(w) >= 2 && w[0] == "CREATE" && (w[1] == "INDEX" || (w[1] == "UNIQUE" && len(w) == 3 && w[2] == "INDEX"))
}

func (r *replayer) execInternal(ctx context.Context, q string) error {
	_, err := r.conn.ExecContext(ctx, q)
	return err
}

// begin opens the file's transaction: D1 applies a migration file as one
// transaction, so PRAGMA foreign_keys inside it changes nothing and
// PRAGMA defer_foreign_keys lasts until its end.
func (r *replayer) begin(ctx context.Context) error {
	var pages int64
	if err := r.conn.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	limit := pages + r.opts.memory()/r.pageSize
	if err := r.execInternal(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", limit)); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	if err := r.execInternal(ctx, "BEGIN"); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	r.inTx = true
	return nil
}

// run executes one statement of a migration with the authorizer
// recording. SQLite makes every statement atomic: one that fails is undone
// and the transaction goes on, so the replay can go on with the rest of
// the file. Only the errors SQLite documents as possibly rolling back the
// whole transaction (out of memory, database full, I/O, busy, interrupt)
// end the file: it is then rolled back for certain, as D1 would.
func (r *replayer) run(ctx, fctx context.Context, st Statement) (*failure, error) {
	r.rec.start()
	r.rec.aside = r.ld.aside.active()
	_, err := r.conn.ExecContext(fctx, st.Text)
	r.rec.stop()
	if err != nil && r.rec.wanted {
		// Refused while compiling, so it never ran: run it on the whole table.
		r.creations = 0
		if err := r.ld.putRowsBack(ctx, r.inTx, false); err != nil {
			return nil, err
		}
		r.rec.start()
		r.rec.aside = false
		_, err = r.conn.ExecContext(fctx, st.Text)
		r.rec.stop()
	}
	if err == nil {
		return nil, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	f := r.classify(ctx, fctx, st, err)
	switch sqliteCode(err) {
	case sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_INTERRUPT:
		f.txLost = true
	}
	if fctx.Err() != nil {
		f.txLost = true
	}
	if f.txLost {
		_ = r.execInternal(ctx, "ROLLBACK") // fails only when SQLite already rolled back
		r.inTx = false
		if err := r.rolledBack(ctx); err != nil {
			return nil, err
		}
	}
	r.creations = 0
	if !f.txLost && r.ld.aside.active() {
		// SQLite may reload its schema after a failed statement.
		if err := r.ld.putRowsBack(ctx, r.inTx, true); err != nil {
			return nil, err
		}
		if r.version, err = r.schemaVersion(ctx); err != nil {
			return nil, err
		}
	}
	r.stale = true
	return f, nil
}

// rolledBack notes a rollback of the replay's transaction: the schema is
// read anew, and rows set aside before it go back.
func (r *replayer) rolledBack(ctx context.Context) error {
	r.stale = true
	if err := r.ld.rolledBack(ctx); err != nil {
		return err
	}
	var err error
	r.version, err = r.schemaVersion(ctx)
	return err
}

// setRowsAside moves rows of sqlite_schema aside once enough new ones were
// created (setaside.go); the loader reads the new rows first.
// setRowsAside moves rows of sqlite_schema aside (setaside.go) after a run
// of statements that only created objects, in a large schema: a run is
// what makes SQLite's scans add up, and anything else brings the rows
// back, so setting them aside between ALTERs would only move them to and
// fro. The loader reads the new rows first.
func (r *replayer) setRowsAside(ctx context.Context) error {
	switch {
	case r.rec.other:
		r.creations = 0
		return nil
	case len(r.rec.created) > 0:
		r.creations++
	}
	p := r.ld.aside.policy.orDefault()
	if r.creations < p.batch || r.ld.maxRowid+int64(r.creations) < int64(p.min) {
		return nil
	}
	r.creations = 0
	if _, err := r.snapshot(ctx); err != nil {
		return err
	}
	return r.ld.setRowsAside(ctx, r.inTx)
}

// afterExec notes whether the statement changed the schema.
func (r *replayer) afterExec(ctx context.Context) (bool, error) {
	ver, err := r.schemaVersion(ctx)
	if err != nil {
		return false, err
	}
	changed := ver != r.version || r.rec.ddl
	r.version = ver
	if changed {
		r.stale = true
		r.ld.note(r.rec)
	}
	return changed, nil
}

// fileResult is what replaying one file produced.
type fileResult struct {
	findings []report.Finding // content findings (changed files only)
	failures []*failure       // statements refused, in order
}

// replayFile applies one migration file the way D1 does: in one
// transaction, foreign keys enforced. With detail, the schema is diffed
// after every statement, row-level effects are watched, and the file's
// content findings are returned. A failing statement is undone and the
// replay goes on with the next one (best effort), so that later statements
// and files are still checked.
func (r *replayer) replayFile(ctx context.Context, f *migFile, stmts []Statement, detail bool) (*fileResult, error) {
	res := &fileResult{}
	fctx, cancel := context.WithTimeout(ctx, r.opts.timeout())
	defer cancel()
	var tr *tracker
	var fw *fileWatch
	if detail {
		if r.rows != nil {
			if err := r.seed(ctx); err != nil {
				return nil, err
			}
		}
		before, err := r.snapshot(ctx)
		if err != nil {
			return nil, err
		}
		tr = newTracker(before)
		fw = r.newFileWatch(before)
	}
	if err := r.begin(ctx); err != nil {
		return nil, err
	}
	for _, st := range stmts {
		if _, ok := transactionStatement(st.Text); ok {
			continue // reported by the transaction rule; D1 runs the file as one unit
		}
		var fail *failure
		var err error
		if detail {
			fail, err = r.replayDetailed(ctx, fctx, st, tr, fw)
		} else {
			fail, err = r.replayPlain(ctx, fctx, st)
		}
		if err != nil {
			return nil, err
		}
		if fail == nil {
			continue
		}
		res.failures = append(res.failures, fail)
		if fail.txLost {
			break
		}
	}
	// The file's findings describe the schema it leaves, read before the
	// commit: a commit D1 would refuse is reported, and the replay then goes
	// on from the state before the file, as D1 would.
	if detail && !r.lostFile(res) {
		end, err := r.snapshot(ctx)
		if err != nil {
			return nil, err
		}
		res.findings = append(tr.findings(end, fw), fw.findings(ctx, r, tr, end)...)
		res.findings = foldRestated(res.findings, res.failures)
		for i := range res.findings {
			res.findings[i].File = f.path
		}
	}
	if err := r.commit(ctx, res, fw); err != nil {
		return nil, err
	}
	if f.added {
		if err := r.bornEmpty(ctx); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// lostFile reports a file whose transaction SQLite rolled back entirely:
// nothing of it stays, so schema findings would describe a state that never
// exists.
func (r *replayer) lostFile(res *fileResult) bool {
	for _, f := range res.failures {
		if f.txLost {
			return true
		}
	}
	return false
}

// commit ends the file's transaction. A commit that fails on deferred
// foreign keys (PRAGMA defer_foreign_keys) is what D1 reports for the whole
// file: the violations are recorded, the violating child rows removed so the
// replay can keep the file's schema, and the commit retried.
func (r *replayer) commit(ctx context.Context, res *fileResult, fw *fileWatch) error {
	if !r.inTx {
		r.stale = true
		r.ld.invalidate()
		return nil
	}
	for attempt := 0; ; attempt++ {
		err := r.execInternal(ctx, "COMMIT")
		if err == nil {
			r.inTx = false
			r.ld.committedTx()
			return nil
		}
		if attempt > 0 || !strings.HasPrefix(sqliteMessage(err), "FOREIGN KEY constraint failed") {
			if rerr := r.execInternal(ctx, "ROLLBACK"); rerr != nil {
				return fmt.Errorf("replay: commit: %v; roll back: %w", err, rerr)
			}
			r.inTx = false
			if err := r.rolledBack(ctx); err != nil {
				return err
			}
			res.failures = append(res.failures, &failure{msg: "the file cannot be committed: " + sqliteMessage(err), rule: RuleApplyFailed, txLost: true,
				fix: "make the file apply as one transaction"})
			return nil
		}
		viol, err := r.fkViolations(ctx)
		if err != nil {
			return err
		}
		res.failures = append(res.failures, deferredFailure(viol, fw))
		if len(viol) == 0 {
			// SQLite counts the violations a DROP TABLE caused even when a
			// rebuilt parent holds the same keys again: only a rollback
			// clears the count, as on D1.
			if err := r.execInternal(ctx, "ROLLBACK"); err != nil {
				return fmt.Errorf("replay: roll back: %w", err)
			}
			r.inTx = false
			return r.rolledBack(ctx)
		}
		if err := r.removeViolations(ctx, viol); err != nil {
			return err
		}
	}
}

// replayPlain runs a statement of a file that only builds the schema.
func (r *replayer) replayPlain(ctx, fctx context.Context, st Statement) (*failure, error) {
	fail, err := r.run(ctx, fctx, st)
	if err != nil || fail != nil {
		return fail, err
	}
	if _, err = r.afterExec(ctx); err != nil {
		return nil, err
	}
	return nil, r.setRowsAside(ctx)
}

// replayDetailed runs a statement of a changed file: it watches the rows of
// the tables the statement may affect, moves the tracker by the schema
// diff, and notes what D1 would refuse or ignore.
func (r *replayer) replayDetailed(ctx, fctx context.Context, st Statement, tr *tracker, fw *fileWatch) (*failure, error) {
	pre, err := fw.before(ctx, r, st)
	if err != nil {
		return nil, err
	}
	fail, err := r.run(ctx, fctx, st)
	if err != nil {
		return nil, err
	}
	if fail != nil {
		// A statement that compiled but failed on the rows still says where
		// the author meant rows to go (a rebuild's copy).
		tr.flow(tr.resolve(r.rec.reads), tr.resolve(r.rec.writes), nil)
		if fail.rule == RuleFKViolation && pre != nil && len(pre.names) > 0 {
			var names []string
			for _, n := range pre.names {
				names = append(names, n)
			}
			sort.Strings(names)
			fail.msg = fmt.Sprintf("%s (rows of %s reference the rows this statement deletes)", fail.msg, strings.Join(names, ", "))
		}
		return fail, nil
	}
	fw.noteD1(r.rec, st)
	readers, writers := tr.resolve(r.rec.reads), tr.resolve(r.rec.writes)
	deleted := fw.deletedTables(r.rec)
	changed, err := r.afterExec(ctx)
	if err != nil {
		return nil, err
	}
	var created []*lineage
	if changed {
		after, err := r.snapshot(ctx)
		if err != nil {
			return nil, err
		}
		created = tr.apply(after, r.ld.changed, r.ld.from, st.Line)
	}
	tr.flow(readers, writers, created)
	if err := fw.after(ctx, r, st, pre, deleted, changed); err != nil {
		return nil, err
	}
	return nil, r.setRowsAside(ctx)
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// foldRestated drops schema findings that only restate a failure of the
// same file: a NOT NULL column a failing copy did not fill is reported once,
// where SQLite refused the rows.
func foldRestated(fs []report.Finding, failures []*failure) []report.Finding {
	failed := map[string]bool{}
	for _, f := range failures {
		failed[f.rule] = true
	}
	if !failed[RuleNotNullNoDefault] {
		return fs
	}
	out := fs[:0]
	for _, f := range fs {
		if f.Rule != RuleNotNullNoDefault {
			out = append(out, f)
		}
	}
	return out
}
