package migrations

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/guardcm/guard/internal/report"
	sqlite "modernc.org/sqlite"
)

// wranglerTable is the table wrangler creates before applying migrations
// (wrangler's d1 migrations helper); migrations run with it present.
const wranglerTable = `CREATE TABLE IF NOT EXISTS d1_migrations(
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		name       TEXT UNIQUE,
		applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
)`

// recorder collects what SQLite's authorizer reports while one migration
// statement is compiled: the tables it reads and writes (data flow, which
// tells a table rebuild from a drop and re-create) and whether it touched
// the schema. It also refuses what a migration must not do to the machine
// running the check.
type recorder struct {
	mu     sync.Mutex
	on     bool
	reads  map[okey]bool
	writes map[okey]bool
	ddl    bool
	denied string
}

func (r *recorder) start() {
	r.mu.Lock()
	r.on, r.ddl, r.denied = true, false, ""
	clear(r.reads)
	clear(r.writes)
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
	deny := func(why string) sqlite.AuthorizerReturnCode {
		if r.denied == "" {
			r.denied = why
		}
		return sqlite.AuthorizerDeny
	}
	switch action {
	case sqlite.AuthAttach, sqlite.AuthDetach:
		return deny("ATTACH and DETACH are not available to D1 migrations")
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
		}
	case sqlite.AuthAlterTable, sqlite.AuthCreateIndex, sqlite.AuthCreateTable, sqlite.AuthCreateTempIndex, sqlite.AuthCreateTempTable,
		sqlite.AuthCreateTempTrigger, sqlite.AuthCreateTempView, sqlite.AuthCreateTrigger, sqlite.AuthCreateView,
		sqlite.AuthDropIndex, sqlite.AuthDropTable, sqlite.AuthDropTempIndex, sqlite.AuthDropTempTable,
		sqlite.AuthDropTempTrigger, sqlite.AuthDropTempView, sqlite.AuthDropTrigger, sqlite.AuthDropView,
		sqlite.AuthCreateVTable, sqlite.AuthDropVTable:
		r.ddl = true
	}
	return sqlite.AuthorizerOK
}

// replayer owns the in-memory database of one Check.
type replayer struct {
	db      *sql.DB
	conn    *sql.Conn
	rec     *recorder
	ld      *loader
	opts    *Options
	cur     *snapshot // schema after the last replayed statement, unless stale
	stale   bool
	version int64 // PRAGMA schema_version after the last statement
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
	r := &replayer{db: db, conn: conn, opts: opts,
		rec: &recorder{reads: map[okey]bool{}, writes: map[okey]bool{}}}
	r.ld = newLoader(conn)
	err = conn.Raw(func(dc any) error {
		reg, ok := dc.(sqlite.AuthorizerRegisterer)
		if !ok {
			return errors.New("the sqlite driver does not support an authorizer")
		}
		return reg.RegisterAuthorizer(r.rec.authorize)
	})
	if err == nil {
		// D1 enforces foreign keys; wrangler creates its tracking table first.
		_, err = conn.ExecContext(ctx, "PRAGMA foreign_keys = ON")
	}
	if err == nil {
		_, err = conn.ExecContext(ctx, wranglerTable)
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

// failure is a statement SQLite refused.
type failure struct {
	line int
	msg  string
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

// exec runs one statement of a migration with the authorizer recording.
func (r *replayer) exec(ctx context.Context, st Statement) (*failure, error) {
	sctx, cancel := context.WithTimeout(ctx, r.opts.timeout())
	defer cancel()
	r.rec.start()
	_, err := r.conn.ExecContext(sctx, st.Text)
	r.rec.stop()
	if err == nil {
		return nil, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	msg := sqliteMessage(err)
	switch {
	case sctx.Err() != nil:
		msg = fmt.Sprintf("the statement did not finish within %s", r.opts.timeout())
	case r.rec.denied != "":
		msg = msg + ": " + r.rec.denied
	}
	return &failure{line: st.Line, msg: msg}, nil
}

// replayFile applies one migration file inside a savepoint, the way D1 runs
// a migration file as one unit (and, like D1, a PRAGMA foreign_keys inside
// it changes nothing). With detail, the schema is diffed after every
// statement and the file's content findings are returned.
func (r *replayer) replayFile(ctx context.Context, f *migFile, stmts []Statement, detail bool) ([]report.Finding, *failure, error) {
	if err := r.execInternal(ctx, "SAVEPOINT guard_replay"); err != nil {
		return nil, nil, fmt.Errorf("replay %s: %w", f.path, err)
	}
	var tr *tracker
	if detail {
		before, err := r.snapshot(ctx)
		if err != nil {
			return nil, nil, err
		}
		tr = newTracker(before)
	}
	var fail *failure
	for _, st := range stmts {
		if _, ok := transactionStatement(st.Text); ok {
			continue // reported by the transaction rule; D1 runs the file as one unit
		}
		var err error
		if detail {
			fail, err = r.replayDetailed(ctx, st, tr)
		} else {
			fail, err = r.replayPlain(ctx, st)
		}
		if err != nil {
			return nil, nil, err
		}
		if fail != nil {
			break
		}
	}
	if fail != nil {
		if err := r.execInternal(ctx, "ROLLBACK TO guard_replay"); err != nil {
			return nil, nil, fmt.Errorf("replay %s: roll back: %w", f.path, err)
		}
		r.stale = true
	}
	if err := r.execInternal(ctx, "RELEASE guard_replay"); err != nil {
		return nil, nil, fmt.Errorf("replay %s: %w", f.path, err)
	}
	if !detail || fail != nil {
		return nil, fail, nil
	}
	end, err := r.snapshot(ctx)
	if err != nil {
		return nil, nil, err
	}
	fs := tr.findings(end)
	for i := range fs {
		fs[i].File = f.path
	}
	return fs, nil, nil
}

func (r *replayer) execInternal(ctx context.Context, q string) error {
	_, err := r.conn.ExecContext(ctx, q)
	return err
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
	}
	return changed, nil
}

// replayPlain runs a statement of a file that only builds the schema.
func (r *replayer) replayPlain(ctx context.Context, st Statement) (*failure, error) {
	fail, err := r.exec(ctx, st)
	if err != nil || fail != nil {
		return fail, err
	}
	_, err = r.afterExec(ctx)
	return nil, err
}

// replayDetailed runs a statement of a changed file and moves the tracker
// by the schema diff. An ALTER TABLE runs inside its own savepoint so that,
// when it added a column SQLite might refuse on a table with rows, it can
// be undone, probed against such a table, and run again.
func (r *replayer) replayDetailed(ctx context.Context, st Statement, tr *tracker) (*failure, error) {
	alter := false
	if w := significantTokens(st.Text, 1); len(w) == 1 && strings.EqualFold(st.Text[w[0].start:w[0].end], "ALTER") {
		alter = true
		if err := r.execInternal(ctx, "SAVEPOINT guard_stmt"); err != nil {
			return nil, fmt.Errorf("replay: %w", err)
		}
	}
	before := r.cur
	fail, err := r.exec(ctx, st)
	if err != nil {
		return nil, err
	}
	if fail != nil {
		if alter {
			if err := r.execInternal(ctx, "ROLLBACK TO guard_stmt"); err != nil {
				return nil, fmt.Errorf("replay: %w", err)
			}
			if err := r.execInternal(ctx, "RELEASE guard_stmt"); err != nil {
				return nil, fmt.Errorf("replay: %w", err)
			}
		}
		return fail, nil
	}
	readers, writers := tr.resolve(r.rec.reads), tr.resolve(r.rec.writes)
	changed, err := r.afterExec(ctx)
	if err != nil {
		return nil, err
	}
	var created []*lineage
	var probes []addedColumn
	if changed {
		after, err := r.snapshot(ctx)
		if err != nil {
			return nil, err
		}
		created = tr.apply(after, st.Line)
		probes = tr.needProbe(after, st.Line)
	}
	tr.flow(readers, writers, created)
	if !alter {
		return nil, nil
	}
	if len(probes) > 0 && before != nil {
		after := r.cur
		if err := r.probe(ctx, st, tr, before, probes); err != nil {
			return nil, err
		}
		r.cur, r.stale = after, false
		if r.version, err = r.schemaVersion(ctx); err != nil {
			return nil, err
		}
	}
	if err := r.execInternal(ctx, "RELEASE guard_stmt"); err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	return nil, nil
}

// probe undoes an ALTER TABLE that added a column to a table which existed
// before the file, runs it again against that table holding one row, and
// runs it for real once more. The replay's tables are empty, production's
// are not, and SQLite refuses several ADD COLUMN forms only on a table with
// rows: a non-constant default such as CURRENT_TIMESTAMP, a STORED
// generated column, a REFERENCES column with a non-NULL default. What
// SQLite says is recorded for the tracker.
func (r *replayer) probe(ctx context.Context, st Statement, tr *tracker, before *snapshot, cols []addedColumn) error {
	if err := r.execInternal(ctx, "ROLLBACK TO guard_stmt"); err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	t := before.table(cols[0].table.schema, cols[0].tableName)
	if t != nil && t.table != nil {
		steps := []string{"SAVEPOINT guard_probe",
			// The row only has to exist: its foreign keys are never
			// checked (the savepoint is rolled back) and CHECK constraints
			// are not its business.
			"PRAGMA defer_foreign_keys = ON", "PRAGMA ignore_check_constraints = ON"}
		for _, q := range steps {
			if err := r.execInternal(ctx, q); err != nil {
				return fmt.Errorf("probe: %w", err)
			}
		}
		if err := r.execInternal(ctx, syntheticRow(t)); err == nil {
			fail, err := r.exec(ctx, st)
			if err != nil {
				return err
			}
			if fail != nil {
				tr.probes = append(tr.probes, probeResult{line: st.Line, table: cols[0].table, msg: fail.msg})
			}
		}
		for _, q := range []string{"ROLLBACK TO guard_probe", "RELEASE guard_probe",
			"PRAGMA ignore_check_constraints = OFF", "PRAGMA defer_foreign_keys = OFF"} {
			if err := r.execInternal(ctx, q); err != nil {
				return fmt.Errorf("probe: %w", err)
			}
		}
	}
	fail, err := r.exec(ctx, st)
	if err != nil {
		return err
	}
	if fail != nil {
		return fmt.Errorf("probe: statement on line %d failed when run again: %s", st.Line, fail.msg)
	}
	return nil
}

// syntheticRow is an INSERT of one row into t: columns with a default,
// generated columns and the rowid are left to SQLite; every other column
// gets a zero of its type (STRICT tables check types), so that NOT NULL
// holds and generated columns computed from them are not NULL either.
func syntheticRow(t *object) string {
	var cols, vals []string
	rid, _ := rowidAlias(t.table.cols)
	for _, c := range t.table.cols {
		if c.hidden != 0 || c.dflt.Valid || c.name == rid {
			continue
		}
		cols = append(cols, quoteIdent(c.name))
		typ := strings.ToUpper(c.typ)
		switch {
		case strings.Contains(typ, "INT"):
			vals = append(vals, "0")
		case strings.Contains(typ, "CHAR"), strings.Contains(typ, "CLOB"), strings.Contains(typ, "TEXT"):
			vals = append(vals, "''")
		case strings.Contains(typ, "BLOB"):
			vals = append(vals, "x''")
		case strings.Contains(typ, "REAL"), strings.Contains(typ, "FLOA"), strings.Contains(typ, "DOUB"):
			vals = append(vals, "0.0")
		default:
			vals = append(vals, "0")
		}
	}
	target := quoteIdent(t.schema) + "." + quoteIdent(t.name)
	if len(cols) == 0 {
		return "INSERT INTO " + target + " DEFAULT VALUES"
	}
	return "INSERT INTO " + target + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(vals, ", ") + ")"
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
