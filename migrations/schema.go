package migrations

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// colInfo is one row of pragma table_xinfo.
type colInfo struct {
	name    string
	typ     string
	notnull bool
	dflt    sql.NullString
	pk      int
	hidden  int // 0 normal, 1 hidden (virtual table), 2/3 generated
}

// tableInfo is what the pragmas say about a table. It is a pure function of
// the table's CREATE text (SQLite rewrites that text on every ALTER TABLE),
// so it is cached by that text.
type tableInfo struct {
	cols   []colInfo
	refs   []string        // tables this one references with foreign keys
	fkCols map[string]bool // lower names of its foreign key columns
	fks    []fkInfo        // one per column of each foreign key
}

// fkInfo is one row of pragma foreign_key_list.
type fkInfo struct {
	id       int
	parent   string
	from, to string // to is "" when the key references the parent's primary key
	onDelete string
}

// indexInfo is what pragma index_list / index_info say about an index.
type indexInfo struct {
	unique  bool
	partial bool
	cols    []string // key columns, lower case; "" for an expression
}

// object is one row of sqlite_schema (or sqlite_temp_schema) with the
// pragma details that the rules need.
type object struct {
	schema string // "main" or "temp"
	typ    string // table, index, view, trigger
	name   string
	tbl    string
	sql    sql.NullString
	kind   string // tables: "table", "virtual" or "shadow" (pragma table_list)
	table  *tableInfo
	index  *indexInfo
}

// snapshot is the whole schema at one moment, keyed by objKey. It is an
// overlay of three maps that are never written once built: a base, a
// middle layer and a small top layer of the latest changes (a nil entry
// removes the key). A statement that creates one table copies only the top
// layer, which is folded into the middle one when it grows past a few
// dozen entries, and the middle one into a new base when it grows past an
// eighth of the base: each object is copied a bounded number of times on
// average, so the replay stays linear in the schema's size.
type snapshot struct {
	base, mid, top map[okey]*object
	byTable        map[okey][]*object // table key -> its indexes, built on first use
	// children maps a lower table name to the tables referencing it, built
	// on first use.
	children map[string][]*object
}

// topLimit bounds the layer copied by every derived snapshot.
const topLimit = 64

func newSnapshot(objs map[okey]*object) *snapshot { return &snapshot{base: objs} }

func (s *snapshot) get(k okey) *object {
	if o, ok := s.top[k]; ok {
		return o
	}
	if o, ok := s.mid[k]; ok {
		return o
	}
	return s.base[k]
}

// each calls fn for every object, in no particular order.
func (s *snapshot) each(fn func(okey, *object)) {
	for k, o := range s.top {
		if o != nil {
			fn(k, o)
		}
	}
	for k, o := range s.mid {
		if _, over := s.top[k]; !over && o != nil {
			fn(k, o)
		}
	}
	for k, o := range s.base {
		if _, over := s.top[k]; over {
			continue
		}
		if _, over := s.mid[k]; !over {
			fn(k, o)
		}
	}
}

// derive is the snapshot after changes (nil removes a key).
func (s *snapshot) derive(changes map[okey]*object) *snapshot {
	switch {
	case len(s.mid)+len(s.top)+len(changes) > topLimit+len(s.base)/8:
		objs := make(map[okey]*object, len(s.base)+len(changes))
		s.each(func(k okey, o *object) { objs[k] = o })
		for k, o := range changes {
			if o == nil {
				delete(objs, k)
			} else {
				objs[k] = o
			}
		}
		return newSnapshot(objs)
	case len(s.top)+len(changes) > topLimit:
		mid := overlay(s.mid, s.base, nil, s.top, changes)
		return &snapshot{base: s.base, mid: mid}
	default:
		return &snapshot{base: s.base, mid: s.mid, top: overlay(s.top, s.base, s.mid, changes)}
	}
}

// overlay copies layer with the later layers' entries applied on top. A
// removal is kept only where a lower layer (base or mid) still has the key.
func overlay(layer, base, mid map[okey]*object, later ...map[okey]*object) map[okey]*object {
	n := len(layer)
	for _, l := range later {
		n += len(l)
	}
	out := make(map[okey]*object, n)
	for k, o := range layer {
		out[k] = o
	}
	for _, l := range later {
		for k, o := range l {
			if o == nil {
				_, inBase := base[k]
				_, inMid := mid[k]
				if !inBase && !inMid {
					delete(out, k)
					continue
				}
			}
			out[k] = o
		}
	}
	return out
}

// lowerASCII folds like SQLite does for identifiers: ASCII only.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func equalFoldASCII(a, b string) bool { return lowerASCII(a) == lowerASCII(b) }

// okey identifies an object the way SQLite resolves names: per schema,
// case-insensitively. Tables, views and indexes share one name space in
// SQLite; keeping the type in the key still gives each object one key.
type okey struct{ schema, typ, name string }

func objKey(schema, typ, name string) okey {
	return okey{schema, typ, lowerASCII(name)}
}

func (s *snapshot) table(schema, name string) *object {
	return s.get(objKey(schema, "table", name))
}

// internalName reports names SQLite and D1 own: sqlite_sequence,
// sqlite_stat1, autoindexes, and D1's _cf_ tables. They are never findings.
func internalName(name string) bool {
	n := lowerASCII(name)
	return strings.HasPrefix(n, "sqlite_") || strings.HasPrefix(n, "_cf_")
}

// loader reads snapshots from the replay connection. Pragma results are
// cached by the SQL text they derive from. After a statement that only
// created objects in main, only the rows of sqlite_schema for those tables
// are read (targeted); after anything else, all of it (full).
type loader struct {
	conn   *sql.Conn
	prev   *snapshot             // the last snapshot read: unchanged objects are reused
	tables map[string]*tableInfo // schema \x00 sql
	index  map[string]*indexInfo // schema \x00 table sql \x00 index name \x00 index sql
	kinds  map[string]string     // schema \x00 name \x00 sql
	// seen holds the lower name of every table a snapshot ever showed, so
	// that DROP TABLE IF EXISTS of a name the replay never had is told apart.
	seen map[string]bool
	// fresh lists tables that appeared since the rows were last seeded.
	fresh []okey
	// changed lists the keys the last snapshot changed against from, the
	// snapshot before it (the tracker's diff).
	changed []okey
	from    *snapshot
	// hint says what changed since the last snapshot: only creations in
	// main of objects on these tables, unless full is set.
	hint struct {
		full   bool
		tables []string
	}
	// virtual is set once the schema had a virtual table.
	virtual bool
	// maxRowid is the largest rowid of main.sqlite_schema at the last
	// read. SQLite gives a new schema row the largest rowid plus one, so
	// after statements that only created objects, the rows above it are
	// exactly the new ones: reading them costs a b-tree seek, not a scan.
	maxRowid int64
	// aside holds the rows of main.sqlite_schema moved out of the table
	// (setaside.go); inTx tells whether the replay's transaction is open.
	aside setAside
	inTx  *bool
}

func newLoader(conn *sql.Conn) *loader {
	l := &loader{conn: conn, tables: map[string]*tableInfo{}, index: map[string]*indexInfo{}, kinds: map[string]string{}, seen: map[string]bool{}}
	l.hint.full = true
	return l
}

// note records what one statement changed, for the next snapshot.
func (l *loader) note(rec *recorder) {
	if rec.other || len(rec.created) == 0 {
		l.hint.full = true
		return
	}
	l.hint.tables = append(l.hint.tables, rec.created...)
}

// invalidate makes the next snapshot a full read (a rollback, anything
// the recorder did not see).
func (l *loader) invalidate() { l.hint.full = true }

const schemaQuery = `SELECT 'main', type, name, tbl_name, sql, rowid, rootpage FROM main.sqlite_schema
UNION ALL SELECT 'temp', type, name, tbl_name, sql, 0, 0 FROM temp.sqlite_schema`

func (l *loader) snapshot(ctx context.Context) (*snapshot, error) {
	// SQLite allows 32766 host parameters; a long list is a full read.
	full := l.hint.full || l.prev == nil || len(l.hint.tables) > 1000
	tables := l.hint.tables
	l.hint.full, l.hint.tables = false, nil
	var rows *sql.Rows
	var err error
	if full {
		// A full read sees the whole table: the rows set aside go back first.
		if err := l.putRowsBack(ctx, *l.inTx, false); err != nil {
			return nil, err
		}
		rows, err = l.conn.QueryContext(ctx, schemaQuery)
	} else {
		if len(tables) == 0 {
			l.changed, l.from = l.changed[:0], l.prev
			return l.prev, nil
		}
		rows, err = l.conn.QueryContext(ctx, `SELECT 'main', type, name, tbl_name, sql, rowid, rootpage FROM main.sqlite_schema WHERE rowid > ?1`, l.maxRowid)
	}
	if err != nil {
		return nil, fmt.Errorf("read sqlite_schema: %w", err)
	}
	read := map[okey]*object{}
	var list []*object
	var mainRows []schemaRow
	if full {
		l.maxRowid = 0
	}
	for rows.Next() {
		o := &object{}
		var rowid, rootpage int64
		if err := rows.Scan(&o.schema, &o.typ, &o.name, &o.tbl, &o.sql, &rowid, &rootpage); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read sqlite_schema: %w", err)
		}
		if o.schema == "main" {
			l.maxRowid = max(l.maxRowid, rowid)
			mainRows = append(mainRows, schemaRow{rowid: rowid, typ: o.typ, name: o.name, tbl: o.tbl, rootpage: rootpage, sql: o.sql})
		}
		read[objKey(o.schema, o.typ, o.name)] = o
		list = append(list, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read sqlite_schema: %w", err)
	}
	l.aside.noteRead(mainRows, full)
	// prev returns the previous snapshot's object when o is unchanged.
	prev := func(o *object) *object {
		if l.prev == nil {
			return nil
		}
		p := l.prev.get(objKey(o.schema, o.typ, o.name))
		if p == nil || p.sql != o.sql || p.tbl != o.tbl || p.name != o.name {
			return nil
		}
		return p
	}
	lookupTable := func(schema, name string) *object {
		if o := read[objKey(schema, "table", name)]; o != nil {
			return o
		}
		if full || l.prev == nil {
			return nil
		}
		return l.prev.table(schema, name)
	}
	for _, o := range list {
		k := objKey(o.schema, o.typ, o.name)
		if o.typ == "view" || o.typ == "trigger" {
			if p := prev(o); p != nil {
				read[k] = p
			}
			continue
		}
		if o.typ != "table" {
			continue
		}
		if p := prev(o); p != nil {
			read[k] = p
			continue
		}
		if err := l.describeTable(ctx, o); err != nil {
			return nil, err
		}
	}
	for _, o := range list {
		if o.typ != "index" {
			continue
		}
		k := objKey(o.schema, o.typ, o.name)
		var tsql string
		t := lookupTable(o.schema, o.tbl)
		if t != nil {
			tsql = t.sql.String
		}
		if p := prev(o); p != nil {
			// An autoindex is described by its table's definition.
			if pt := l.prev.table(o.schema, o.tbl); o.sql.Valid || (pt != nil && t != nil && pt.sql == t.sql) {
				read[k] = p
				continue
			}
		}
		ik := o.schema + "\x00" + tsql + "\x00" + o.name + "\x00" + o.sql.String
		if ii, ok := l.index[ik]; ok {
			o.index = ii
			continue
		}
		ii, err := l.indexInfo(ctx, o)
		if err != nil {
			return nil, err
		}
		l.index[ik] = ii
		o.index = ii
	}
	// The changes against the previous snapshot.
	changes := map[okey]*object{}
	for k, o := range read {
		if l.prev == nil || l.prev.get(k) != o {
			changes[k] = o
		}
	}
	var s *snapshot
	if full {
		if l.prev != nil {
			l.prev.each(func(k okey, _ *object) {
				if read[k] == nil {
					changes[k] = nil
				}
			})
		}
		s = newSnapshot(read)
	} else {
		s = l.prev.derive(changes)
	}
	l.changed = l.changed[:0]
	for k, o := range changes {
		l.changed = append(l.changed, k)
		if o != nil && o.typ == "table" {
			l.seen[lowerASCII(o.name)] = true
			if l.prev == nil || l.prev.get(k) == nil {
				l.fresh = append(l.fresh, k)
			}
		}
	}
	l.from, l.prev = l.prev, s
	return s, nil
}

// describeTable fills a table's kind and pragma details, from the caches
// when its SQL was seen before.
func (l *loader) describeTable(ctx context.Context, o *object) error {
	kk := o.schema + "\x00" + o.name + "\x00" + o.sql.String
	kind, ok := l.kinds[kk]
	if !ok {
		var err error
		if kind, err = l.kind(ctx, o); err != nil {
			return err
		}
		l.kinds[kk] = kind
	}
	o.kind = kind
	tk := o.schema + "\x00" + o.sql.String
	if ti, ok := l.tables[tk]; ok {
		o.table = ti
		return nil
	}
	ti, err := l.tableInfo(ctx, o)
	if err != nil {
		return err
	}
	l.tables[tk] = ti
	o.table = ti
	return nil
}

// kind asks pragma table_list whether a table is an ordinary, virtual or
// shadow table (the storage of a virtual table such as FTS5, which SQLite
// creates and drops together with it).
func (l *loader) kind(ctx context.Context, o *object) (string, error) {
	// pragma table_list walks every table; only a schema that has virtual
	// tables can have shadow tables, so an ordinary schema never asks it
	// (the replay stays linear in the schema's size).
	if w := leadingWords(o.sql.String, 2); len(w) == 2 && w[0] == "CREATE" && w[1] == "VIRTUAL" {
		l.virtual = true
		return "virtual", nil
	}
	if !l.virtual {
		return "table", nil
	}
	rows, err := l.conn.QueryContext(ctx, `SELECT schema, type FROM pragma_table_list(?1)`, o.name)
	if err != nil {
		return "", fmt.Errorf("read pragma table_list(%s): %w", o.name, err)
	}
	defer rows.Close()
	kind := "table"
	for rows.Next() {
		var schema, typ string
		if err := rows.Scan(&schema, &typ); err != nil {
			return "", fmt.Errorf("read pragma table_list(%s): %w", o.name, err)
		}
		if schema == o.schema {
			kind = typ
		}
	}
	return kind, rows.Err()
}

func (l *loader) tableInfo(ctx context.Context, o *object) (*tableInfo, error) {
	ti := &tableInfo{}
	rows, err := l.conn.QueryContext(ctx,
		`SELECT name, type, "notnull", dflt_value, pk, hidden FROM pragma_table_xinfo(?1, ?2)`, o.name, o.schema)
	if err != nil {
		return nil, fmt.Errorf("read pragma table_xinfo(%s): %w", o.name, err)
	}
	for rows.Next() {
		var c colInfo
		if err := rows.Scan(&c.name, &c.typ, &c.notnull, &c.dflt, &c.pk, &c.hidden); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read pragma table_xinfo(%s): %w", o.name, err)
		}
		if c.hidden == 1 { // virtual table plumbing such as FTS5's rank
			continue
		}
		ti.cols = append(ti.cols, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read pragma table_xinfo(%s): %w", o.name, err)
	}
	rows, err = l.conn.QueryContext(ctx, `SELECT id, "table", "from", coalesce("to", ''), on_delete FROM pragma_foreign_key_list(?1, ?2)`, o.name, o.schema)
	if err != nil {
		return nil, fmt.Errorf("read pragma foreign_key_list(%s): %w", o.name, err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var fk fkInfo
		if err := rows.Scan(&fk.id, &fk.parent, &fk.from, &fk.to, &fk.onDelete); err != nil {
			return nil, fmt.Errorf("read pragma foreign_key_list(%s): %w", o.name, err)
		}
		ti.fks = append(ti.fks, fk)
		ref, from := fk.parent, fk.from
		if !seen[ref] {
			seen[ref] = true
			ti.refs = append(ti.refs, ref)
		}
		if ti.fkCols == nil {
			ti.fkCols = map[string]bool{}
		}
		ti.fkCols[lowerASCII(from)] = true
	}
	return ti, rows.Err()
}

func (l *loader) indexInfo(ctx context.Context, o *object) (*indexInfo, error) {
	ii := &indexInfo{}
	err := l.conn.QueryRowContext(ctx,
		`SELECT "unique", partial FROM pragma_index_list(?1, ?2) WHERE name = ?3`, o.tbl, o.schema, o.name).
		Scan(&ii.unique, &ii.partial)
	if err != nil && err != sql.ErrNoRows {
		return nil, fmt.Errorf("read pragma index_list(%s): %w", o.tbl, err)
	}
	rows, err := l.conn.QueryContext(ctx, `SELECT name FROM pragma_index_info(?1, ?2) ORDER BY seqno`, o.name, o.schema)
	if err != nil {
		return nil, fmt.Errorf("read pragma index_info(%s): %w", o.name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name sql.NullString
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("read pragma index_info(%s): %w", o.name, err)
		}
		ii.cols = append(ii.cols, lowerASCII(name.String))
	}
	return ii, rows.Err()
}

// uniqueSets lists the column sets a table already guarantees unique:
// unique non-partial indexes (explicit, or the autoindexes of UNIQUE and
// PRIMARY KEY constraints) and an INTEGER PRIMARY KEY (the rowid).
func (s *snapshot) uniqueSets(t *object) [][]string {
	var out [][]string
	if t.table != nil {
		if c, ok := rowidAlias(t.table.cols); ok {
			out = append(out, []string{lowerASCII(c)})
		}
	}
	for _, ix := range s.indexesOf(t) {
		if !ix.index.unique || ix.index.partial {
			continue
		}
		expr := false
		for _, c := range ix.index.cols {
			if c == "" {
				expr = true
			}
		}
		if !expr {
			out = append(out, ix.index.cols)
		}
	}
	return out
}

// indexesOf returns the indexes of table t in the same schema.
func (s *snapshot) indexesOf(t *object) []*object {
	if s.byTable == nil {
		s.byTable = map[okey][]*object{}
		s.each(func(_ okey, o *object) {
			if o.typ == "index" && o.index != nil {
				k := objKey(o.schema, "table", o.tbl)
				s.byTable[k] = append(s.byTable[k], o)
			}
		})
	}
	return s.byTable[objKey(t.schema, "table", t.name)]
}

// rowidAlias returns the INTEGER PRIMARY KEY column of a table, if any:
// SQLite fills it automatically, so it never needs a default.
func rowidAlias(cols []colInfo) (string, bool) {
	var pk []colInfo
	for _, c := range cols {
		if c.pk > 0 {
			pk = append(pk, c)
		}
	}
	if len(pk) == 1 && strings.EqualFold(pk[0].typ, "INTEGER") {
		return pk[0].name, true
	}
	return "", false
}
