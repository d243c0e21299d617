package migrations

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/guardcm/guard/internal/d1"
	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/internal/sqlsplit"
)

// rowsPerTable is how many synthetic rows each table gets: two, so that a
// UNIQUE index or a cascade has more than one row to act on.
const rowsPerTable = 2

// rowState remembers which tables were given synthetic rows, so that each
// table is seeded once however many files follow (the replay stays linear).
type rowState struct {
	seeded  map[string]bool   // lower table name
	skipped map[string]string // lower table name -> why it holds no rows
}

func newRowState() *rowState {
	return &rowState{seeded: map[string]bool{}, skipped: map[string]string{}}
}

// bornEmpty records the tables an added file created: wrangler applies the
// added files of a push one after the other in the same deploy, so these
// tables hold no rows when the later files run. They are never seeded, and
// what a later file does to them (an ALTER TABLE ADD COLUMN NOT NULL, a
// rebuild, a drop) touches no production data. A table is born only when
// it is empty: one that appeared under a new name holding rows is a
// production table renamed or rebuilt (its rows were copied), and stays
// under every rule. Without rows (SchemaOnly) nothing can tell, so
// nothing is born.
func (r *replayer) bornEmpty(ctx context.Context) error {
	if r.rows == nil {
		return nil
	}
	s, err := r.snapshot(ctx)
	if err != nil {
		return err
	}
	keep := r.ld.fresh[:0]
	for _, k := range r.ld.fresh {
		o := s.get(k)
		if o == nil || !seedable(o) {
			continue
		}
		n, err := r.count(ctx, o.name)
		if err != nil {
			return err
		}
		if n > 0 {
			keep = append(keep, k) // rows from production's tables: seeded and judged as usual
			continue
		}
		name := lowerASCII(o.name)
		if r.born == nil {
			r.born = map[string]bool{}
		}
		r.born[name], r.rows.seeded[name] = true, true
	}
	r.ld.fresh = keep
	return nil
}

// seedable reports the tables that take synthetic rows: ordinary tables of
// main that are not SQLite's, D1's or wrangler's own.
func seedable(o *object) bool {
	return o.schema == "main" && o.typ == "table" && o.kind == "table" && o.table != nil &&
		!internalName(o.name) && !equalFoldASCII(o.name, "d1_migrations")
}

// seed gives every table not seeded yet a few rows that satisfy its
// constraints, parents before children, in one transaction that commits
// before the file starts (production's rows predate the migration).
func (r *replayer) seed(ctx context.Context) error {
	s, err := r.snapshot(ctx)
	if err != nil {
		return err
	}
	// Only tables that appeared since the last seeding are new to it.
	var todo []*object
	for _, k := range r.ld.fresh {
		if o := s.get(k); o != nil && seedable(o) && !r.rows.seeded[lowerASCII(o.name)] {
			todo = append(todo, o)
			r.rows.seeded[lowerASCII(o.name)] = true
		}
	}
	r.ld.fresh = r.ld.fresh[:0]
	if len(todo) == 0 {
		return nil
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].name < todo[j].name })
	order := parentsFirst(todo)
	if err := r.execInternal(ctx, "BEGIN"); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	// Cycles of foreign keys cannot be filled in order; deferring lets the
	// rows meet at the commit, and rows still violating are removed below.
	if err := r.execInternal(ctx, "PRAGMA defer_foreign_keys = ON"); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	for _, o := range order {
		if why := r.seedTable(ctx, o, s); why != "" {
			r.rows.skipped[lowerASCII(o.name)] = why
		}
	}
	for attempt := 0; attempt < 3; attempt++ {
		viol, err := r.fkViolations(ctx, order...)
		if err != nil {
			return err
		}
		if len(viol) == 0 {
			break
		}
		if err := r.removeViolations(ctx, viol); err != nil {
			return err
		}
	}
	if err := r.execInternal(ctx, "COMMIT"); err != nil {
		if rerr := r.execInternal(ctx, "ROLLBACK"); rerr != nil {
			return fmt.Errorf("seed: %v; roll back: %w", err, rerr)
		}
		if err := r.rolledBack(ctx); err != nil {
			return err
		}
		for _, o := range order {
			r.rows.skipped[lowerASCII(o.name)] = sqliteMessage(err)
		}
		return nil
	}
	r.ld.committedTx()
	for _, o := range order {
		n, err := r.count(ctx, o.name)
		if err != nil {
			return err
		}
		if _, why := r.rows.skipped[lowerASCII(o.name)]; n == 0 && !why {
			r.rows.skipped[lowerASCII(o.name)] = "its rows violated a foreign key that could not be satisfied"
		}
	}
	return nil
}

// parentsFirst orders tables so that a table comes after the tables its
// foreign keys reference (cycles are broken where they close).
func parentsFirst(tables []*object) []*object {
	byName := map[string]*object{}
	for _, o := range tables {
		byName[lowerASCII(o.name)] = o
	}
	state := map[*object]int{} // 1 visiting, 2 done
	var out []*object
	var visit func(o *object)
	visit = func(o *object) {
		if state[o] != 0 {
			return
		}
		state[o] = 1
		for _, ref := range o.table.refs {
			if p := byName[lowerASCII(ref)]; p != nil && p != o {
				visit(p)
			}
		}
		state[o] = 2
		out = append(out, o)
	}
	for _, o := range tables {
		visit(o)
	}
	return out
}

func (r *replayer) count(ctx context.Context, table string) (int64, error) {
	var n int64
	err := r.conn.QueryRowContext(ctx, "SELECT count(*) FROM main."+quoteIdent(table)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count rows of %s: %w", table, err)
	}
	return n, nil
}

// seedTable inserts rowsPerTable rows into o, trying value strategies from
// the most distinct to the plainest until SQLite accepts one (CHECK
// constraints and triggers decide). It returns why no row went in, or "".
func (r *replayer) seedTable(ctx context.Context, o *object, s *snapshot) string {
	var why string
	inserted := 0
	for k := 1; k <= rowsPerTable; k++ {
		for strategy := 0; strategy < 3; strategy++ {
			q, args, err := r.syntheticInsert(ctx, o, s, k, strategy)
			if err != nil {
				why = err.Error()
				continue
			}
			if err := r.execInternal(ctx, "SAVEPOINT guard_seed"); err != nil {
				return err.Error()
			}
			_, err = r.conn.ExecContext(ctx, q, args...)
			if err != nil {
				why = sqliteMessage(err)
				_ = r.execInternal(ctx, "ROLLBACK TO guard_seed")
				_ = r.execInternal(ctx, "RELEASE guard_seed")
				continue
			}
			_ = r.execInternal(ctx, "RELEASE guard_seed")
			inserted++
			break
		}
	}
	if inserted > 0 {
		return ""
	}
	return why
}

// syntheticInsert builds the INSERT of synthetic row k of table o.
// Strategy 0 gives every column a value distinct per row; 1 leaves columns
// with a default to it; 2 also leaves nullable columns NULL and uses zero
// values. Foreign key columns take the values of an existing parent row.
func (r *replayer) syntheticInsert(ctx context.Context, o *object, s *snapshot, k, strategy int) (string, []any, error) {
	fkVal := map[string]any{}
	for _, fk := range o.table.fks {
		v, ok, err := r.parentValue(ctx, fk, s, k)
		if err != nil {
			return "", nil, err
		}
		if ok {
			fkVal[lowerASCII(fk.from)] = v
		}
	}
	var cols, marks []string
	var args []any
	for i, c := range o.table.cols {
		if c.hidden != 0 {
			continue
		}
		v, set := fkVal[lowerASCII(c.name)]
		switch {
		case set:
		case strategy >= 1 && c.dflt.Valid:
			continue
		case strategy == 2 && !c.notnull && c.pk == 0:
			v = nil
		case k == rowsPerTable && !c.notnull && c.pk == 0 && !c.dflt.Valid:
			// The last row leaves nullable columns without a default
			// NULL, as production's rows are wherever the worker left
			// them out or the column came later (ALTER TABLE ADD COLUMN):
			// a copy into a NOT NULL column then fails as it would on D1.
			v = nil
		default:
			v = syntheticValue(c.typ, i, k, strategy == 2)
		}
		cols = append(cols, quoteIdent(c.name))
		marks = append(marks, "?")
		args = append(args, v)
	}
	target := "main." + quoteIdent(o.name)
	if len(cols) == 0 {
		return "INSERT INTO " + target + " DEFAULT VALUES", nil, nil
	}
	return "INSERT INTO " + target + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(marks, ", ") + ")", args, nil
}

// parentValue is the value of the referenced column in parent row k (rows
// wrap around), or ok=false when the parent has no rows.
func (r *replayer) parentValue(ctx context.Context, fk fkInfo, s *snapshot, k int) (any, bool, error) {
	col := fk.to
	if col == "" {
		p := s.table("main", fk.parent)
		if p == nil || p.table == nil {
			return nil, false, nil
		}
		for _, c := range p.table.cols {
			if c.pk == 1 {
				col = c.name
			}
		}
		if col == "" {
			col = "rowid"
		}
	}
	var v any
	q := fmt.Sprintf("SELECT %s FROM main.%s ORDER BY rowid LIMIT 1 OFFSET ?", quoteIdent(col), quoteIdent(fk.parent))
	if col == "rowid" {
		q = fmt.Sprintf("SELECT rowid FROM main.%s ORDER BY rowid LIMIT 1 OFFSET ?", quoteIdent(fk.parent))
	}
	err := r.conn.QueryRowContext(ctx, q, (k-1)%rowsPerTable).Scan(&v)
	if err == sql.ErrNoRows {
		err = r.conn.QueryRowContext(ctx, strings.Replace(q, "OFFSET ?", "OFFSET 0", 1)).Scan(&v)
	}
	if err == sql.ErrNoRows {
		return nil, false, nil
	}
	if err != nil {
		// A parent that cannot be read (a view, a missing table) leaves the
		// column to the ordinary strategies.
		return nil, false, nil
	}
	return v, true, nil
}

// syntheticValue is row k's value for column number col of declared type
// typ, following SQLite's affinity rules (so that STRICT tables accept
// it). Values differ between columns too, so where a value went tells
// which column it came from (copiedAs).
func syntheticValue(typ string, col, k int, zero bool) any {
	t := strings.ToUpper(typ)
	n := col*1000 + k
	switch {
	case strings.Contains(t, "INT"):
		if zero {
			return int64(0)
		}
		return int64(1_000_000_000 + n)
	case strings.Contains(t, "CHAR"), strings.Contains(t, "CLOB"), strings.Contains(t, "TEXT"):
		if zero {
			return ""
		}
		// A JSON object, distinct per row: text columns often hold JSON,
		// and json_extract over a value that is not JSON fails ("malformed
		// JSON") where production's values would not.
		return fmt.Sprintf(`{"guard":%d}`, n)
	case strings.Contains(t, "BLOB"):
		if zero {
			return []byte{}
		}
		return []byte{byte(col), byte(col >> 8), byte(k)}
	case strings.Contains(t, "REAL"), strings.Contains(t, "FLOA"), strings.Contains(t, "DOUB"):
		if zero {
			return 0.0
		}
		return float64(n) + 0.5
	case t == "ANY":
		return int64(n)
	}
	if zero {
		return int64(0)
	}
	return int64(1_000_000_000 + n)
}

// fkViolation is one row of pragma foreign_key_check.
type fkViolation struct {
	table  string
	rowid  sql.NullInt64
	parent string
}

// fkViolations runs PRAGMA foreign_key_check on the given tables (only
// they can hold violating rows), or on the whole database.
func (r *replayer) fkViolations(ctx context.Context, tables ...*object) ([]fkViolation, error) {
	var out []fkViolation
	check := func(q string, args ...any) error {
		rows, err := r.conn.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("foreign_key_check: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var v fkViolation
			if err := rows.Scan(&v.table, &v.rowid, &v.parent); err != nil {
				return fmt.Errorf("foreign_key_check: %w", err)
			}
			out = append(out, v)
		}
		return rows.Err()
	}
	if len(tables) == 0 {
		return out, check(`SELECT "table", rowid, parent FROM pragma_foreign_key_check`)
	}
	for _, t := range tables {
		if len(t.table.fks) == 0 {
			continue
		}
		if err := check(`SELECT "table", rowid, parent FROM pragma_foreign_key_check(?1, 'main')`, t.name); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// removeViolations deletes the child rows that violate their foreign keys,
// which clears SQLite's count of deferred violations.
func (r *replayer) removeViolations(ctx context.Context, viol []fkViolation) error {
	for _, v := range viol {
		if !v.rowid.Valid {
			continue
		}
		if _, err := r.conn.ExecContext(ctx, "DELETE FROM main."+quoteIdent(v.table)+" WHERE rowid = ?", v.rowid.Int64); err != nil {
			return fmt.Errorf("remove violating row: %w", err)
		}
	}
	return nil
}

// deferredFailure describes violations left at the end of a file whose
// foreign key checks were deferred: D1 refuses the whole file at commit.
func deferredFailure(viol []fkViolation, fw *fileWatch) *failure {
	pairs := map[string]bool{}
	var names []string
	line := 0
	for _, v := range viol {
		p := v.table + " -> " + v.parent
		if !pairs[p] {
			pairs[p] = true
			names = append(names, fmt.Sprintf("rows of %s reference %s rows that no longer exist", v.table, v.parent))
		}
		if fw != nil {
			if l := fw.lines[lowerASCII(v.parent)]; l > line {
				line = l
			}
		}
	}
	if fw != nil {
		for _, h := range fw.held {
			p := h.child + " -> " + h.parent
			if !pairs[p] {
				pairs[p] = true
				names = append(names, fmt.Sprintf("rows of %s referenced %s rows deleted on line %d (SQLite counts them as violations even when a rebuilt %s holds the same keys again)", h.child, h.parent, h.line, h.parent))
			}
			if h.line > line {
				line = h.line
			}
		}
	}
	sort.Strings(names)
	if line == 0 && fw != nil {
		line = fw.deferLine
	}
	return &failure{line: line, rule: RuleFKViolation,
		msg: "FOREIGN KEY constraint failed when the file commits: " + strings.Join(names, "; ") +
			"; deferring foreign keys only moves the check to the end of the file, and D1 refuses the whole migration (" + d1.DocForeignKeys + ")",
		fix: "rebuild the child tables too (or copy their rows and restore the references) within the same file"}
}

// fileWatch follows one changed file for the row-level and D1 rules.
type fileWatch struct {
	start     *snapshot
	lines     map[string]int // lower table -> line of the last statement that deleted from or dropped it
	notes     []report.Finding
	touched   map[string]bool // lower names of tables the file's statements used
	deferLine int
	// held are children whose rows referenced parent rows a statement
	// deleted without cascading: violations SQLite counts until the commit.
	held     []heldRef
	cascades []cascadeRec
	r        *replayer
	// dropped keeps, per line of a DROP TABLE, the values each column
	// (lower name) held just before it ran: a rebuild that copied a
	// column under a new name is told from one that lost it (copiedAs).
	dropped map[int]map[string][]string
	// droppedCols keeps, per line of an ALTER TABLE DROP COLUMN, the values
	// the column held: copied elsewhere first, they are not lost (movedTo).
	droppedCols map[int][]string
}

// cascadeRec ties a cascade-delete note to the tables that lost rows.
type cascadeRec struct {
	note   int
	tables []string
}

type heldRef struct {
	child, parent string
	line          int
}

func (r *replayer) newFileWatch(start *snapshot) *fileWatch {
	return &fileWatch{start: start, lines: map[string]int{}, touched: map[string]bool{}, r: r}
}

func (fw *fileWatch) add(rule string, line int, msg, fix string) {
	fw.notes = append(fw.notes, report.Finding{Rule: rule, Line: line, Message: msg, Fix: fix})
}

// preState is what fileWatch.before saw of a statement before it ran.
type preState struct {
	counts map[string]int64 // lower table -> rows, for tables a cascade may reach
	names  map[string]string
}

// cascadeVerbs are the statements that can delete rows: DELETE, DROP
// TABLE (an implicit DELETE first), REPLACE and INSERT/UPDATE OR REPLACE
// (a conflicting row is deleted).
func mayDelete(stmt string) bool {
	w := leadingWords(stmt, 2)
	if len(w) == 0 {
		return false
	}
	switch w[0] {
	case "DELETE", "REPLACE", "WITH":
		return true
	case "DROP":
		return len(w) > 1 && w[1] == "TABLE"
	case "INSERT", "UPDATE":
		// INSERT OR REPLACE, UPDATE OR REPLACE: the keyword, as a token.
		for i := 0; i < len(stmt); {
			t := scan(stmt, i)
			i = t.End
			if t.Kind == sqlsplit.Word && strings.EqualFold(stmt[t.Start:t.End], "REPLACE") {
				return true
			}
		}
	}
	return false
}

// before compiles a data statement with EXPLAIN (nothing runs) to learn,
// from SQLite itself, which tables it deletes from and which string
// constants it holds, then counts the rows of every table a cascade from
// those tables could reach.
func (fw *fileWatch) before(ctx context.Context, r *replayer, st Statement) (*preState, error) {
	if t, c, ok := droppedColumn(st.Text); ok && r.rows != nil {
		if vals, err := r.columnValues(ctx, t, c); err == nil && len(vals[lowerASCII(c)]) > 0 {
			if fw.droppedCols == nil {
				fw.droppedCols = map[int][]string{}
			}
			fw.droppedCols[st.Line] = vals[lowerASCII(c)]
		}
	}
	verb, _ := dmlVerb(st.Text)
	del := mayDelete(st.Text)
	if !del && verb != "INSERT" && verb != "UPDATE" {
		return nil, nil
	}
	r.rec.start()
	strs, err := explainStrings(ctx, r.conn, st.Text)
	deletes := map[string]bool{}
	if del && r.rec.target.schema == "main" {
		deletes[r.rec.target.name] = true
	}
	r.rec.stop()
	if err != nil {
		return nil, nil // the statement does not compile: run() reports it
	}
	if verb == "INSERT" || verb == "UPDATE" || verb == "DELETE" {
		fw.dqsLiterals(st, strs)
	}
	if r.rows == nil || len(deletes) == 0 {
		return nil, nil
	}
	if w := leadingWords(st.Text, 2); len(deletes) == 1 && len(w) == 2 && w[0] == "DROP" && w[1] == "TABLE" {
		for name := range deletes {
			if err := fw.keepValues(ctx, r, st.Line, name); err != nil {
				return nil, err
			}
		}
	}
	s, err := r.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	reach := s.descendants(deletes)
	if len(reach) == 0 {
		return nil, nil
	}
	pre := &preState{counts: map[string]int64{}, names: map[string]string{}}
	for name, o := range reach {
		n, err := r.count(ctx, o.name)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			pre.counts[name] = n
			pre.names[name] = o.name
		}
	}
	return pre, nil
}

// explainStrings returns the string constants (OP_String8) of the program
// SQLite compiles for stmt.
func explainStrings(ctx context.Context, conn *sql.Conn, stmt string) ([]string, error) {
	rows, err := conn.QueryContext(ctx, "EXPLAIN "+stmt)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var addr int64
		var op string
		var p1, p2, p3, p5, comment any
		var p4 sql.NullString
		if err := rows.Scan(&addr, &op, &p1, &p2, &p3, &p4, &p5, &comment); err != nil {
			return nil, err
		}
		if op == "String8" && p4.Valid {
			out = append(out, p4.String)
		}
	}
	return out, rows.Err()
}

// dqsLiterals reports double-quoted names that SQLite compiled into string
// constants: a name that is no column of the tables in scope becomes the
// string itself ("double-quoted string literal" quirk), so every row gets
// the column's name as its value.
func (fw *fileWatch) dqsLiterals(st Statement, strs []string) {
	if len(strs) == 0 {
		return
	}
	consts := map[string]int{}
	for _, s := range strs {
		consts[s]++
	}
	single := map[string]int{}
	var quoted []string
	for i := 0; i < len(st.Text); {
		t := scan(st.Text, i)
		i = t.End
		if t.Open || t.End-t.Start < 2 {
			continue
		}
		switch {
		case t.Kind == sqlsplit.String:
			single[strings.ReplaceAll(st.Text[t.Start+1:t.End-1], "''", "'")]++
		case t.Kind == sqlsplit.Quoted && st.Text[t.Start] == '"':
			quoted = append(quoted, strings.ReplaceAll(st.Text[t.Start+1:t.End-1], `""`, `"`))
		}
	}
	seen := map[string]bool{}
	for _, q := range quoted {
		if seen[q] || consts[q] <= single[q] {
			continue
		}
		seen[q] = true
		fw.add(RuleDQSLiteral, st.Line,
			fmt.Sprintf("\"%s\" is not a column of the tables this statement reads, so SQLite takes it as the string '%s' and every row gets that text", q, q),
			fmt.Sprintf("name an existing column, or write the string as '%s' if a constant is meant", q))
	}
}

// descendants returns the tables whose rows a delete from the given tables
// can reach through foreign keys (directly or transitively), keyed by lower
// name, without the tables themselves.
func (s *snapshot) descendants(from map[string]bool) map[string]*object {
	children := s.childrenOf()
	out := map[string]*object{}
	queue := make([]string, 0, len(from))
	for n := range from {
		queue = append(queue, n)
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, c := range children[n] {
			k := lowerASCII(c.name)
			if from[k] || out[k] != nil {
				continue
			}
			out[k] = c
			queue = append(queue, k)
		}
	}
	return out
}

// childrenOf maps a lower table name to the main tables whose foreign keys
// reference it, built once per snapshot.
func (s *snapshot) childrenOf() map[string][]*object {
	if s.children != nil {
		return s.children
	}
	s.children = map[string][]*object{}
	s.each(func(_ okey, o *object) {
		if o.schema != "main" || o.typ != "table" || o.table == nil {
			return
		}
		for _, ref := range o.table.refs {
			k := lowerASCII(ref)
			s.children[k] = append(s.children[k], o)
		}
	})
	return s.children
}

// after compares the row counts taken before the statement: rows that
// vanished from a table the statement does not delete from went with a
// cascade.
func (fw *fileWatch) after(ctx context.Context, r *replayer, st Statement, pre *preState, deleted map[string]bool, changed bool) error {
	for k := range deleted {
		fw.lines[k] = st.Line
	}
	for k := range r.rec.reads {
		fw.touched[k.name] = true
	}
	for k := range r.rec.writes {
		fw.touched[k.name] = true
	}
	if w := leadingWords(st.Text, 4); len(w) == 4 && w[0] == "DROP" && w[1] == "TABLE" && w[2] == "IF" && w[3] == "EXISTS" && !changed &&
		!r.ld.seen[lowerASCII(dropTarget(st.Text))] {
		name := dropTarget(st.Text)
		fw.add(RuleDropTable, st.Line,
			fmt.Sprintf("DROP TABLE IF EXISTS %s does nothing here (no migration creates %s), but production may hold it (from a migration since deleted, or created outside the folder), and there it deletes the table and its rows", name, name),
			"")
		fw.notes[len(fw.notes)-1].Severity = report.SeverityNotice
	}
	if name, ok := uniqueIndexIfNotExists(st.Text); ok && !changed {
		if cur, err := r.snapshot(ctx); err == nil {
			if ix := cur.get(objKey("main", "index", lowerASCII(name))); ix != nil && ix.sql.Valid {
				if w := leadingWords(ix.sql.String, 2); len(w) == 2 && w[1] != "UNIQUE" {
					fw.add(RuleUniqueNotCreated, st.Line,
						fmt.Sprintf("CREATE UNIQUE INDEX IF NOT EXISTS %s does nothing: an index %s already exists and is not unique (%s), so the uniqueness this migration means to add never exists", name, ix.name, ix.sql.String),
						fmt.Sprintf("DROP INDEX %s first, then create the unique index (it fails if the rows hold duplicates)", name))
				}
			}
		}
	}
	if pre == nil {
		return nil
	}
	var lost, lostNames []string
	for k, n := range pre.counts {
		if deleted[k] {
			continue
		}
		var now int64
		if o := r.curTable(ctx, k); o != nil {
			var err error
			if now, err = r.count(ctx, o.name); err != nil {
				return err
			}
		}
		if now < n {
			lost = append(lost, fmt.Sprintf("%s (%d of %d rows)", pre.names[k], n-now, n))
			lostNames = append(lostNames, k)
		} else if len(deleted) == 1 {
			for parent := range deleted {
				fw.held = append(fw.held, heldRef{child: pre.names[k], parent: parent, line: st.Line})
			}
		}
	}
	if len(lost) == 0 {
		return nil
	}
	sort.Strings(lost)
	fw.cascades = append(fw.cascades, cascadeRec{note: len(fw.notes), tables: lostNames})
	var from []string
	for k := range deleted {
		from = append(from, k)
	}
	sort.Strings(from)
	fw.add(RuleCascadeDelete, st.Line,
		fmt.Sprintf("deleting from %s also deletes rows of %s through ON DELETE CASCADE: on D1 foreign keys are always on (PRAGMA foreign_keys cannot be turned off in a migration), DROP TABLE deletes every row first, and PRAGMA defer_foreign_keys does not stop a cascade (%s)",
			strings.Join(from, ", "), strings.Join(lost, ", "), d1.DocForeignKeys),
		"rebuild without dropping a referenced parent: copy the child rows out and back, or rebuild the children in the same file so they reference the new table")
	return nil
}

// uniqueIndexIfNotExists names the index of a CREATE UNIQUE INDEX IF NOT
// EXISTS statement.
func uniqueIndexIfNotExists(stmt string) (string, bool) {
	w := leadingWords(stmt, 6)
	if len(w) < 6 || w[0] != "CREATE" || w[1] != "UNIQUE" || w[2] != "INDEX" || w[3] != "IF" || w[4] != "NOT" || w[5] != "EXISTS" {
		return "", false
	}
	name, _, ok := objectName(stmt, significantTokens(stmt, 9), 6)
	return name, ok
}

// keepValues records the values of every column of table before the DROP
// TABLE on line drops it.
func (fw *fileWatch) keepValues(ctx context.Context, r *replayer, line int, table string) error {
	vals, err := r.columnValues(ctx, table, "")
	if err != nil || len(vals) == 0 {
		return err
	}
	if fw.dropped == nil {
		fw.dropped = map[int]map[string][]string{}
	}
	fw.dropped[line] = vals
	return nil
}

// columnValues reads the non-NULL values of table's columns (all, or only
// col), by lower column name, as text: a copy through CAST still matches.
func (r *replayer) columnValues(ctx context.Context, table, col string) (map[string][]string, error) {
	what := "*"
	if col != "" {
		what = quoteIdent(col)
	}
	rows, err := r.conn.QueryContext(ctx, "SELECT "+what+" FROM main."+quoteIdent(table))
	if err != nil {
		return nil, nil // a table that cannot be read (virtual, say) tells nothing
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	cells := make([]any, len(names))
	ptrs := make([]any, len(names))
	for i := range cells {
		ptrs[i] = &cells[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range cells {
			if v == nil {
				continue
			}
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			k := lowerASCII(names[i])
			out[k] = append(out[k], fmt.Sprint(v))
		}
	}
	return out, rows.Err()
}

// copiedAs names the column of the rebuilt table rebuilt that holds every
// value column col of the table dropped on line dropLine held, when
// exactly one column does and its name is not one the original table
// origin had: the rebuild renamed col rather than lost it. "" otherwise.
// The synthetic rows differ in every column, so a match means a copy.
func (fw *fileWatch) copiedAs(dropLine int, col string, origin, rebuilt *object) string {
	vals := fw.dropped[dropLine][lowerASCII(col)]
	if len(vals) == 0 || rebuilt.table == nil {
		return ""
	}
	found := ""
	for _, c := range rebuilt.table.cols {
		if exact, fold := findCol(origin, c.name); exact != nil || fold != nil || c.hidden != 0 {
			continue
		}
		got, err := fw.r.columnValues(context.Background(), rebuilt.name, c.name)
		if err != nil {
			return ""
		}
		if holdsAll(got[lowerASCII(c.name)], vals) {
			if found != "" {
				return "" // two candidates: cannot tell
			}
			found = c.name
		}
	}
	return found
}

// movedTo names a column (table.column) of a table the file created that
// holds every value the column dropped on line held: the file copied them
// there before the drop. "" when none does.
func (fw *fileWatch) movedTo(line int, table string, end *snapshot) string {
	vals := fw.droppedCols[line]
	if len(vals) == 0 {
		return ""
	}
	var found []string
	end.each(func(_ okey, o *object) {
		// Only a table this file created can have received a copy: a
		// table that existed may hold the same values for another reason
		// (a foreign key's parent holds its children's values).
		if !seedable(o) || equalFoldASCII(o.name, table) || fw.start.table("main", o.name) != nil {
			return
		}
		got, err := fw.r.columnValues(context.Background(), o.name, "")
		if err != nil {
			return
		}
		for col, have := range got {
			if holdsAll(have, vals) {
				found = append(found, o.name+"."+col)
			}
		}
	})
	sort.Strings(found)
	if len(found) == 0 {
		return ""
	}
	return found[0]
}

// filledFrom names the column of the table dropped on dropLine whose values
// column col of the rebuilt table holds, when that is another column than
// col itself (an INSERT ... SELECT * into a table whose columns are in
// another order copies by position): col's own values are then gone. ""
// when col holds its own values, or nothing tells.
func (fw *fileWatch) filledFrom(dropLine int, col string, rebuilt *object) string {
	old := fw.dropped[dropLine]
	own := old[lowerASCII(col)]
	if len(own) == 0 {
		return ""
	}
	got, err := fw.r.columnValues(context.Background(), rebuilt.name, col)
	now := got[lowerASCII(col)]
	if err != nil || len(now) == 0 {
		return ""
	}
	for _, v := range own {
		if slices.Contains(now, v) {
			return "" // its own values are there
		}
	}
	for _, name := range slices.Sorted(maps.Keys(old)) {
		if name != lowerASCII(col) && holdsAll(old[name], now) {
			return name
		}
	}
	return ""
}

// holdsAll reports whether every value of want is among have.
func holdsAll(have, want []string) bool {
	for _, v := range want {
		if !slices.Contains(have, v) {
			return false
		}
	}
	return true
}

// curTable finds a main table by lower name in the current schema.
func (r *replayer) curTable(ctx context.Context, lower string) *object {
	s, err := r.snapshot(ctx)
	if err != nil {
		return nil
	}
	return s.table("main", lower)
}

// dropTarget is the table name of DROP TABLE IF EXISTS [schema.]name, as
// written, read with the tokenizer.
func dropTarget(stmt string) string {
	name, _, ok := objectName(stmt, significantTokens(stmt, 7), 4)
	if !ok {
		return "?"
	}
	return name
}

// deletedTables are the main tables the statement that just ran deleted
// from (DELETE, or the implicit DELETE of DROP TABLE), lower case.
func (fw *fileWatch) deletedTables(rec *recorder) map[string]bool {
	out := map[string]bool{}
	if rec.target.schema == "main" && rec.deletes[rec.target] {
		out[rec.target.name] = true
	}
	return out
}

// noteD1 records what D1 ignores or refuses in a statement that SQLite ran.
func (fw *fileWatch) noteD1(rec *recorder, st Statement) {
	// Only a PRAGMA statement runs a pragma; the driver's own bookkeeping
	// on the connection is not the migration's.
	if w := leadingWords(st.Text, 1); len(w) == 0 || w[0] != "PRAGMA" {
		rec.pragmas = nil
	}
	for _, p := range rec.pragmas {
		if lowerASCII(p.name) == "defer_foreign_keys" && fw.deferLine == 0 {
			fw.deferLine = st.Line
		}
		if ref := pragmaRefusal(p.name, p.value); ref != nil {
			fw.add(ref.rule, st.Line, ref.msg, ref.fix)
		}
	}
	if rec.temp != "" {
		ref := tempRefusal(rec.temp)
		fw.add(ref.rule, st.Line, ref.msg, ref.fix)
	}
	if vacuumStatement(st.Text) {
		fw.add(RuleD1Unsupported, st.Line, "VACUUM cannot run inside a migration: D1 applies each file as one transaction ("+d1.DocMigrations+")", "remove VACUUM from the migration")
	}
}

// findings are the file's row-level and D1 findings at its end: what was
// noted per statement, foreign keys left pointing at tables that are gone,
// and tables the file used that hold no synthetic rows.
func (fw *fileWatch) findings(ctx context.Context, r *replayer, tr *tracker, end *snapshot) []report.Finding {
	// A cascade into tables the file then drops anyway only restates the
	// drop-table findings of those tables: it is folded into them.
	fold := map[int]bool{}
	for _, c := range fw.cascades {
		gone := true
		for _, t := range c.tables {
			if end.table("main", t) != nil || fw.start.table("main", t) == nil {
				gone = false
			}
		}
		fold[c.note] = gone
	}
	var out []report.Finding
	for i, n := range fw.notes {
		if !fold[i] {
			out = append(out, n)
		}
	}
	// A reference can only start dangling in this file if the child was
	// created or changed here, or if the table it references went away
	// here: only those tables are looked at (the replay stays linear).
	cands := map[string]*object{}
	var vanished bool
	for _, l := range tr.all {
		if l.schema != "main" {
			continue
		}
		if o := end.table("main", l.name); l.alive && o != nil {
			cands[lowerASCII(o.name)] = o
		}
		if l.origin != nil && (!l.alive || !equalFoldASCII(l.name, l.origin.name)) {
			vanished = true
		}
	}
	if vanished {
		for _, l := range tr.all {
			if l.origin == nil || (l.alive && equalFoldASCII(l.name, l.origin.name)) {
				continue
			}
			for _, c := range fw.start.childrenOf()[lowerASCII(l.origin.name)] {
				if o := end.table("main", c.name); o != nil {
					cands[lowerASCII(o.name)] = o
				}
			}
		}
	}
	var dangling []report.Finding
	for _, o := range cands {
		if o.typ != "table" || o.table == nil || internalName(o.name) {
			continue
		}
		for _, ref := range o.table.refs {
			if end.table("main", ref) != nil {
				continue
			}
			start := fw.start.table("main", o.name)
			if start != nil && start.sql == o.sql && fw.start.table("main", ref) == nil {
				continue // already dangling before this file
			}
			line := fw.lines[lowerASCII(ref)]
			if line == 0 {
				line = tr.createdLine(o)
			}
			msg := fmt.Sprintf("table %s keeps a foreign key to %s, which no longer exists at the end of this file; every insert or update of %s fails with \"no such table\" on D1, where foreign keys are always enforced", o.name, ref, o.name)
			if fw.start.table("main", ref) != nil {
				msg += fmt.Sprintf(" (renaming a parent table rewrites its children's REFERENCES to the new name, so ALTER TABLE ... RENAME TO %s moved this reference before the table was dropped)", ref)
			}
			dangling = append(dangling, report.Finding{Rule: RuleFKDangling, Line: line, Message: msg,
				Fix: "rebuild the parent with create-new/copy/drop-old/rename-new (which keeps children pointing at the name), or rebuild the child so it references the new table"})
		}
	}
	sort.Slice(dangling, func(i, j int) bool { return dangling[i].Message < dangling[j].Message })
	out = append(out, dangling...)
	if r.rows != nil {
		var skipped []string
		for k := range fw.touched {
			if why, ok := r.rows.skipped[k]; ok {
				skipped = append(skipped, fmt.Sprintf("%s (%s)", k, why))
			}
		}
		sort.Strings(skipped)
		if len(skipped) > 0 {
			out = append(out, report.Finding{Rule: RuleRowsSkipped, Severity: report.SeverityNotice, Line: 0,
				Message: "no synthetic rows could be given to " + strings.Join(skipped, ", ") + ", so row-level checks (cascades, NOT NULL, foreign keys) do not cover what this file does to them"})
		}
	}
	return out
}

// filled reports whether a rebuilt table received rows for every row the
// original held at the start of the file (the copy ran on synthetic rows
// and SQLite enforced the new table's NOT NULL columns on each).
func (fw *fileWatch) filled(origin, rebuilt *object) bool {
	r := fw.r
	if r.rows == nil {
		return false
	}
	k := lowerASCII(origin.name)
	if _, skipped := r.rows.skipped[k]; skipped || !r.rows.seeded[k] {
		return false
	}
	n, err := r.count(context.Background(), rebuilt.name)
	return err == nil && n > 0
}
