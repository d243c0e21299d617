package cfemu

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/guardcm/guard/internal/d1"
	sqlite "modernc.org/sqlite" // the real SQLite behind every emulated D1 database
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteDB is one emulated D1 database: a private in-memory SQLite database
// held by a single connection (":memory:" is per connection).
type sqliteDB struct {
	db   *sql.DB
	auth *d1Authorizer
}

// d1Authorizer refuses what D1's own authorizer refuses (internal/d1), while
// a client's statements run; the emulator's own queries are not D1's.
type d1Authorizer struct {
	mu      sync.Mutex
	on      bool
	refusal string // why the last refused action was refused
}

func (a *d1Authorizer) authorize(action sqlite.AuthorizerActionCode, arg1, arg2, _, _ string) sqlite.AuthorizerReturnCode {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.on {
		return sqlite.AuthorizerOK
	}
	if why := d1.Refusal(action, arg1, arg2); why != "" {
		a.refusal = why
		return sqlite.AuthorizerDeny
	}
	return sqlite.AuthorizerOK
}

// enforce turns D1's refusals on or off and returns the last refusal seen.
func (a *d1Authorizer) enforce(on bool) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.on = on
	why := a.refusal
	a.refusal = ""
	return why
}

func openSQLite() (*sqliteDB, error) {
	// D1 enforces foreign keys in every query (Cloudflare's "Define foreign
	// keys"); the emulated database does too, as the migration checker's
	// replay does.
	db, err := sql.Open("sqlite", ":memory:?_pragma=foreign_keys(1)")
	if err != nil {
		return nil, fmt.Errorf("emulated D1: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	auth := &d1Authorizer{}
	err = func() error {
		conn, err := db.Conn(context.Background())
		if err != nil {
			return err
		}
		defer conn.Close()
		return conn.Raw(func(dc any) error {
			reg, ok := dc.(sqlite.AuthorizerRegisterer)
			if !ok {
				return errors.New("the sqlite driver does not support an authorizer")
			}
			return reg.RegisterAuthorizer(auth.authorize)
		})
	}()
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("emulated D1: %w", err)
	}
	return &sqliteDB{db: db, auth: auth}, nil
}

func (s *sqliteDB) close() { _ = s.db.Close() }

// stmtResult is the outcome of one statement.
type stmtResult struct {
	Columns     []string
	Rows        [][]any
	Changes     int64
	LastRowID   int64
	RowsRead    int
	RowsWritten int64
	Duration    time.Duration
}

// batchResult is the outcome of a whole batch.
type batchResult struct {
	Stmts   []stmtResult
	Changed bool // the batch changed data or schema (it goes to the journal)
}

// d1Error is an error D1 reports for a query: code 7500, HTTP 400.
type d1Error struct{ msg string }

func (e *d1Error) Error() string { return e.msg }

// txControl are the statements remote D1 refuses: it wraps every batch in its
// own transaction and wants the JavaScript transaction APIs instead.
var txControl = map[string]bool{"BEGIN": true, "COMMIT": true, "END": true, "ROLLBACK": true, "SAVEPOINT": true, "RELEASE": true}

// rowKeywords start statements that produce rows.
var rowKeywords = map[string]bool{"SELECT": true, "PRAGMA": true, "WITH": true, "VALUES": true, "EXPLAIN": true}

// run executes a batch atomically: every statement or none (a failing
// statement rolls the whole batch back, like a failing D1 migration file).
// With asD1, what remote D1 refuses is refused: transaction statements,
// and what D1's authorizer denies (temporary objects, PRAGMAs outside D1's
// list, ATTACH). Without, the batch is the emulator's own (a journal
// replayed), accepted once already.
func (s *sqliteDB) run(text string, params []any, asD1 bool) (*batchResult, error) {
	stmts := splitSQL(text)
	if len(stmts) == 0 {
		return nil, &d1Error{"D1_ERROR: no SQL statements in the query"}
	}
	if len(params) > 0 && len(stmts) > 1 {
		return nil, &d1Error{"D1_ERROR: params are only allowed with a single statement"}
	}
	if asD1 {
		for i, st := range stmts {
			if txControl[st.Keyword] {
				return nil, &d1Error{fmt.Sprintf("D1_ERROR: statement %d: to execute a transaction, please use the state.storage.transaction() or state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT statements: SQLITE_AUTH", i+1)}
			}
		}
	}
	ctx := context.Background()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("emulated D1: %w", err)
	}
	defer conn.Close()
	before, err := changeMark(ctx, conn)
	if err != nil {
		return nil, err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("emulated D1: %w", err)
	}
	res := &batchResult{}
	for i, st := range stmts {
		s.auth.enforce(asD1)
		r, err := runStatement(ctx, tx, st, params)
		refusal := s.auth.enforce(false)
		if err != nil {
			_ = tx.Rollback()
			return nil, statementError(i, err, refusal)
		}
		res.Stmts = append(res.Stmts, r)
	}
	if err := tx.Commit(); err != nil {
		return nil, &d1Error{fmt.Sprintf("D1_ERROR: commit: %v", err)}
	}
	after, err := changeMark(ctx, conn)
	if err != nil {
		return nil, err
	}
	res.Changed = after != before
	for _, st := range stmts {
		if st.Keyword == "PRAGMA" {
			res.Changed = true // a pragma may set user_version and the like
		}
	}
	return res, nil
}

// statementError is D1's answer to a failing statement: SQLite's message
// and result code name, "not authorized: SQLITE_AUTH" for what D1's
// authorizer refused.
func statementError(i int, err error, refusal string) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_AUTH {
		return &d1Error{fmt.Sprintf("D1_ERROR: statement %d: not authorized: SQLITE_AUTH (%s)", i+1, strings.TrimSpace(refusal))}
	}
	return &d1Error{fmt.Sprintf("D1_ERROR: statement %d: %v: SQLITE_ERROR", i+1, err)}
}

// changeMark identifies the database's content: rows changed so far on
// this connection and the schema cookie (DDL does not count as changes).
func changeMark(ctx context.Context, conn *sql.Conn) (string, error) {
	var changes, schema int64
	if err := conn.QueryRowContext(ctx, "SELECT total_changes()").Scan(&changes); err != nil {
		return "", fmt.Errorf("emulated D1: %w", err)
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA schema_version").Scan(&schema); err != nil {
		return "", fmt.Errorf("emulated D1: %w", err)
	}
	return fmt.Sprintf("%d/%d", changes, schema), nil
}

func runStatement(ctx context.Context, tx *sql.Tx, st statement, params []any) (stmtResult, error) {
	start := time.Now()
	if rowKeywords[st.Keyword] || st.Returning {
		rows, err := tx.QueryContext(ctx, st.SQL, params...)
		if err != nil {
			return stmtResult{}, err
		}
		defer rows.Close()
		cols, err := rows.Columns()
		if err != nil {
			return stmtResult{}, err
		}
		r := stmtResult{Columns: cols, Rows: [][]any{}}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return stmtResult{}, err
			}
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					// D1 returns a BLOB as an array of byte values.
					arr := make([]int, len(b))
					for k, x := range b {
						arr[k] = int(x)
					}
					vals[i] = arr
				}
			}
			r.Rows = append(r.Rows, vals)
		}
		if err := rows.Err(); err != nil {
			return stmtResult{}, err
		}
		r.RowsRead = len(r.Rows)
		if st.Returning {
			r.Changes = int64(len(r.Rows))
			r.RowsWritten = r.Changes
		}
		r.Duration = time.Since(start)
		return r, nil
	}
	sr, err := tx.ExecContext(ctx, st.SQL, params...)
	if err != nil {
		return stmtResult{}, err
	}
	r := stmtResult{Columns: []string{}, Rows: [][]any{}}
	if n, err := sr.RowsAffected(); err == nil {
		r.Changes = n
		r.RowsWritten = n
	}
	if id, err := sr.LastInsertId(); err == nil {
		r.LastRowID = id
	}
	r.Duration = time.Since(start)
	return r, nil
}

func isD1Error(err error) bool {
	var d *d1Error
	return errors.As(err, &d)
}
