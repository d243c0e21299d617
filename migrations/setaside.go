package migrations

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
)

// Setting rows of sqlite_schema aside keeps the replay linear in the
// schema's size.
//
// SQLite itself is quadratic in the number of objects created one by one:
// after every CREATE it reads the new object back with a query on
// sqlite_schema that has no index to use (OP_ParseSchema scans the whole
// table), so 10,000 tables cost 20,000 scans of a table growing to 20,000
// rows. SQLite resolves names from its in-memory schema, not from that
// table, and reads the table again only when the schema is reloaded. So
// once the table is large, the rows the replay has already read are moved
// out of it (PRAGMA writable_schema, outside the migration's reach) into
// the loader's memory, and the table holds only the newest row (SQLite
// gives a new row the largest rowid plus one, so new rows still get new
// rowids). Each CREATE then scans a few rows.
//
// The rows go back, byte for byte with their rowids, before anything that
// needs the whole table:
//   - a statement that reads sqlite_schema, drops, alters, runs a PRAGMA or
//     anything but creating objects and reading or writing rows: the
//     authorizer refuses it while rows are aside, the rows go back, and the
//     statement runs again (a statement refused by the authorizer never
//     started, so it ran once);
//   - the loader's full read of the schema;
//   - a statement that failed, and a transaction rolled back: SQLite may
//     then reload its schema from the table, so the rows go back and the
//     schema version is bumped to make it reload from the whole table.
//
// The rows aside at the last commit are kept apart from those set aside in
// the open transaction: a rollback puts back exactly the former, since it
// undoes the removal of the latter itself.

// schemaRow is one row of main.sqlite_schema, as read, rowid included.
type schemaRow struct {
	rowid          int64
	typ, name, tbl string
	rootpage       int64
	sql            sql.NullString
}

// setAsidePolicy says when rows are set aside: after batch statements in a
// row that only created objects, once the table holds at least min rows.
// The zero value is the default; tests set both to 1 to exercise the
// mechanism on every statement.
type setAsidePolicy struct {
	min, batch int
	// audit, when set, receives what the mechanism did, and the state of
	// the database once every row is back (tests).
	audit *setAsideAudit
}

// setAsideAudit is what a test learns of one replay.
type setAsideAudit struct {
	setAside, putBack, reloads int
	// schema is main.sqlite_schema, row by row, at the end of the replay
	// with every row back; integrity is PRAGMA integrity_check's answer.
	// Both stay empty when nothing was replayed.
	schema, integrity string
}

func (p setAsidePolicy) orDefault() setAsidePolicy {
	if p.min <= 0 || p.batch <= 0 {
		// Below a few hundred rows a scan costs less than moving rows.
		return setAsidePolicy{min: 512, batch: 64, audit: p.audit}
	}
	return p
}

// setAside is the loader's record of rows moved out of main.sqlite_schema.
type setAside struct {
	policy setAsidePolicy
	// rows are out of the table now; committed were out of it at the last
	// commit. rows only grows by appending or is emptied, so committed can
	// share its array.
	rows, committed []schemaRow
	// read are rows in the table that the loader has read: the candidates
	// for setting aside, in rowid order.
	read []schemaRow
}

func (a *setAside) active() bool { return len(a.rows) > 0 }

// noteRead records rows a snapshot read from main.sqlite_schema. A full
// read replaces what was known: every row is in the table then.
func (a *setAside) noteRead(rows []schemaRow, full bool) {
	if full {
		a.read = a.read[:0]
	}
	a.read = append(a.read, rows...)
}

// writable runs fn with PRAGMA writable_schema on, and always turns it off
// again: a migration must never run with it on.
func writable(ctx context.Context, conn *sql.Conn, fn func() error) error {
	if _, err := conn.ExecContext(ctx, "PRAGMA writable_schema = ON"); err != nil {
		return err
	}
	err := fn()
	if _, offErr := conn.ExecContext(ctx, "PRAGMA writable_schema = OFF"); err == nil {
		err = offErr
	}
	return err
}

// setRowsAside moves the rows the loader has read, all but the newest, out
// of main.sqlite_schema.
func (l *loader) setRowsAside(ctx context.Context, inTx bool) error {
	a := &l.aside
	if len(a.read) < 2 {
		return nil
	}
	slices.SortFunc(a.read, func(x, y schemaRow) int { return int(x.rowid - y.rowid) })
	newest := a.read[len(a.read)-1]
	if newest.rowid != l.maxRowid {
		// The loader has not read the table's newest row: something it did
		// not see changed the table, and a full read comes next.
		return nil
	}
	err := writable(ctx, l.conn, func() error {
		_, err := l.conn.ExecContext(ctx, `DELETE FROM main.sqlite_schema WHERE rowid < ?1`, newest.rowid)
		return err
	})
	if err != nil {
		return fmt.Errorf("replay: set sqlite_schema rows aside: %w", err)
	}
	if a.policy.audit != nil {
		a.policy.audit.setAside++
	}
	a.rows = append(a.rows, a.read[:len(a.read)-1]...)
	a.read = append(a.read[:0], newest)
	if !inTx {
		a.committed = a.rows
	}
	return nil
}

// putRowsBack returns every row set aside to main.sqlite_schema. With
// reload, SQLite is also made to reload its schema from the whole table
// (after a failure or rollback it may have reloaded it from the table
// without them).
func (l *loader) putRowsBack(ctx context.Context, inTx, reload bool) error {
	a := &l.aside
	if !a.active() {
		return nil
	}
	err := writable(ctx, l.conn, func() error {
		ins, err := l.conn.PrepareContext(ctx, `INSERT INTO main.sqlite_schema(rowid, type, name, tbl_name, rootpage, sql) VALUES (?1, ?2, ?3, ?4, ?5, ?6)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		for _, row := range a.rows {
			if _, err := ins.ExecContext(ctx, row.rowid, row.typ, row.name, row.tbl, row.rootpage, row.sql); err != nil {
				return fmt.Errorf("row %d (%s): %w", row.rowid, row.name, err)
			}
		}
		if !reload {
			return nil
		}
		var v int64
		if err := l.conn.QueryRowContext(ctx, "PRAGMA schema_version").Scan(&v); err != nil {
			return err
		}
		_, err = l.conn.ExecContext(ctx, fmt.Sprintf("PRAGMA schema_version = %d", v+1))
		return err
	})
	if err != nil {
		return fmt.Errorf("replay: put sqlite_schema rows back: %w", err)
	}
	if au := a.policy.audit; au != nil {
		au.putBack++
		if reload {
			au.reloads++
		}
	}
	a.read = append(a.read, a.rows...)
	a.rows = nil
	if !inTx {
		a.committed = nil
	}
	return nil
}

// committedTx records a commit: what is aside now stays aside.
func (l *loader) committedTx() { l.aside.committed = l.aside.rows }

// rolledBack records a rollback: the rows set aside in the transaction are
// back in the table (their removal was undone), those set aside before it
// are not, and SQLite may have reloaded its schema without them. They go
// back, and the next snapshot reads the whole table.
func (l *loader) rolledBack(ctx context.Context) error {
	a := &l.aside
	a.rows = a.committed
	a.read = a.read[:0]
	l.invalidate()
	return l.putRowsBack(ctx, false, true)
}

// finishAudit puts every row back and records the schema table and its
// integrity, for a test to compare with a replay that set nothing aside.
func (l *loader) finishAudit(ctx context.Context) error {
	au := l.aside.policy.audit
	if au == nil {
		return nil
	}
	if err := l.putRowsBack(ctx, *l.inTx, false); err != nil {
		return err
	}
	rows, err := l.conn.QueryContext(ctx, `SELECT rowid, type, name, tbl_name, rootpage, coalesce(sql, '') FROM main.sqlite_schema ORDER BY rowid`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var r schemaRow
		if err := rows.Scan(&r.rowid, &r.typ, &r.name, &r.tbl, &r.rootpage, &r.sql.String); err != nil {
			return err
		}
		// Root pages are left out: moving rows of sqlite_schema frees and
		// reuses its own pages, so the pages later objects get differ.
		fmt.Fprintf(&b, "%d %s %s %s %s\n", r.rowid, r.typ, r.name, r.tbl, r.sql.String)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	au.schema = b.String()
	return l.conn.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&au.integrity)
}
