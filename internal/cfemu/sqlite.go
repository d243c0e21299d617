package cfemu

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	_ "modernc.org/sqlite" // the real SQLite behind every emulated D1 database
)

// sqliteDB is one emulated D1 database: a private in-memory SQLite database
// held by a single connection (":memory:" is per connection).
type sqliteDB struct {
	db *sql.DB
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
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("emulated D1: %w", err)
	}
	return &sqliteDB{db: db}, nil
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
// With checkTx, transaction statements are refused as remote D1 refuses them.
func (s *sqliteDB) run(text string, params []any, checkTx bool) (*batchResult, error) {
	stmts := splitSQL(text)
	if len(stmts) == 0 {
		return nil, &d1Error{"D1_ERROR: no SQL statements in the query"}
	}
	if len(params) > 0 && len(stmts) > 1 {
		return nil, &d1Error{"D1_ERROR: params are only allowed with a single statement"}
	}
	if checkTx {
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
		r, err := runStatement(ctx, tx, st, params)
		if err != nil {
			_ = tx.Rollback()
			return nil, &d1Error{fmt.Sprintf("D1_ERROR: statement %d: %v: SQLITE_ERROR", i+1, err)}
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
