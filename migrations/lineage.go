package migrations

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/guardcm/guard/internal/report"
)

// lineage follows one table through the statements of a file: SQLite
// renames keep the lineage, a drop ends it, a create starts a new one.
// Tables that existed when the file started are "origin" lineages; only
// they can lose data, so only they produce findings.
type lineage struct {
	schema  string
	origin  *object // the table at file start; nil if created in the file
	name    string  // current exact name
	alive   bool
	created int // lines of the statements that did it
	dropped int
	renamed int
	touched bool           // renamed or its columns changed in this file
	cols    []*colLineage  // origin columns, in their start order
	added   map[string]int // lower name of a column added in this file -> line
	feeds   map[*lineage]bool
}

// colLineage follows one origin column.
type colLineage struct {
	start   colInfo
	name    string // current exact name
	dropped int
	renamed int
}

// objTrack follows an index, view or trigger by key.
type objTrack struct {
	start   *object // at file start, nil if it did not exist
	gone    int     // line of the last statement that removed it
	created int     // line of the last statement that created it
}

type tracker struct {
	start *snapshot
	prev  *snapshot
	// cur maps a table's key to the lineage living under that name.
	// Lineages of tables that existed at file start are made on first use
	// (most tables are never touched by a file); gone marks start keys whose
	// table has since been dropped or renamed away.
	cur  map[okey]*lineage
	gone map[okey]bool
	all  []*lineage
	objs map[okey]*objTrack
}

func newTracker(start *snapshot) *tracker {
	return &tracker{start: start, prev: start, cur: map[okey]*lineage{}, gone: map[okey]bool{}, objs: map[okey]*objTrack{}}
}

// lin returns the lineage living under table key k, if any.
func (t *tracker) lin(k okey) *lineage {
	if l := t.cur[k]; l != nil {
		return l
	}
	if t.gone[k] {
		return nil
	}
	o := t.start.get(k)
	if o == nil {
		return nil
	}
	l := &lineage{schema: o.schema, origin: o, name: o.name, alive: true,
		added: map[string]int{}, feeds: map[*lineage]bool{}}
	if o.table != nil {
		for _, c := range o.table.cols {
			l.cols = append(l.cols, &colLineage{start: c, name: c.name})
		}
	}
	t.cur[k] = l
	t.all = append(t.all, l)
	return l
}

// leave takes the lineage away from key k (drop, or rename to another key).
func (t *tracker) leave(k okey) {
	delete(t.cur, k)
	t.gone[k] = true
}

// resolve maps table keys reported by the authorizer to live lineages.
func (t *tracker) resolve(keys map[okey]bool) []*lineage {
	var out []*lineage
	for k := range keys {
		if l := t.lin(k); l != nil {
			out = append(out, l)
		}
	}
	return out
}

// flow records that rows of the readers may have gone into the writers and
// into the tables the statement created (CREATE TABLE ... AS SELECT).
func (t *tracker) flow(readers, writers, created []*lineage) {
	for _, r := range readers {
		for _, w := range append(writers, created...) {
			if w != r {
				r.feeds[w] = true
			}
		}
	}
}

// userTable reports the tables that take part in the diff. Shadow tables
// (FTS5 storage and the like) come and go with their virtual table and are
// left out so that renaming or dropping a virtual table is one event.
func userTable(o *object) bool { return o.typ == "table" && o.kind != "shadow" }

func colNames(o *object) []string {
	if o.table == nil {
		return nil
	}
	var out []string
	for _, c := range o.table.cols {
		out = append(out, c.name)
	}
	return out
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sortKeys(keys []okey) {
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.schema != b.schema {
			return a.schema < b.schema
		}
		if a.typ != b.typ {
			return a.typ < b.typ
		}
		return a.name < b.name
	})
}

// apply diffs the schema after one statement against the schema before it
// and moves the lineages accordingly. It returns the lineages the statement
// created. Unchanged objects are shared between snapshots, so comparing
// pointers finds the changed ones.
func (t *tracker) apply(after *snapshot, changed []okey, from *snapshot, line int) []*lineage {
	before := t.prev
	t.prev = after
	if from != before {
		// The loader's diff is against another snapshot: compare all.
		seen := map[okey]bool{}
		changed = nil
		before.each(func(k okey, o *object) {
			seen[k] = true
			if after.get(k) != o {
				changed = append(changed, k)
			}
		})
		after.each(func(k okey, _ *object) {
			if !seen[k] {
				changed = append(changed, k)
			}
		})
	}
	var gone, appeared []okey
	for _, k := range changed {
		b, a := before.get(k), after.get(k)
		if b == nil {
			if a == nil {
				continue
			}
			if userTable(a) {
				appeared = append(appeared, k)
			} else if a.typ != "table" {
				t.track(k).created = line
			}
			continue
		}
		if !userTable(b) {
			if a == nil && b.typ != "table" {
				t.track(k).gone = line
			}
			continue
		}
		if a == nil {
			gone = append(gone, k)
			continue
		}
		if a == b {
			continue
		}
		l := t.lin(k)
		if l == nil {
			continue
		}
		if a.name != b.name { // ALTER TABLE x RENAME TO X: same key, new spelling
			l.name, l.renamed, l.touched = a.name, line, true
		}
		if a.sql != b.sql {
			l.touched = true
			t.diffColumns(l, b, a, line)
		}
	}
	sortKeys(gone)
	sortKeys(appeared)
	var created []*lineage
	// One statement that makes exactly one table vanish and one appear with
	// the same columns is ALTER TABLE ... RENAME TO: no other SQLite
	// statement can do that.
	if len(gone) == 1 && len(appeared) == 1 && gone[0].schema == appeared[0].schema &&
		sameStrings(colNames(before.get(gone[0])), colNames(after.get(appeared[0]))) {
		l := t.lin(gone[0])
		t.leave(gone[0])
		if l != nil {
			l.name, l.renamed, l.touched = after.get(appeared[0]).name, line, true
			t.cur[appeared[0]] = l
		}
		return nil
	}
	for _, k := range gone {
		if l := t.lin(k); l != nil {
			l.alive, l.dropped = false, line
		}
		t.leave(k)
	}
	for _, k := range appeared {
		a := after.get(k)
		l := &lineage{schema: a.schema, name: a.name, alive: true, created: line,
			added: map[string]int{}, feeds: map[*lineage]bool{}}
		t.cur[k] = l
		t.all = append(t.all, l)
		created = append(created, l)
	}
	return created
}

func (t *tracker) track(k okey) *objTrack {
	ot := t.objs[k]
	if ot == nil {
		ot = &objTrack{start: t.start.get(k)}
		t.objs[k] = ot
	}
	return ot
}

// diffColumns compares one table's columns across one statement. A single
// SQLite statement changes at most one column of a table (ADD COLUMN,
// DROP COLUMN, RENAME COLUMN), so a column that vanishes while another
// appears at the same position is a rename.
func (t *tracker) diffColumns(l *lineage, b, a *object, line int) {
	old, nw := colNames(b), colNames(a)
	inNew := map[string]bool{}
	for _, n := range nw {
		inNew[n] = true
	}
	inOld := map[string]bool{}
	for _, n := range old {
		inOld[n] = true
	}
	var lost, gained []int
	for i, n := range old {
		if !inNew[n] {
			lost = append(lost, i)
		}
	}
	for i, n := range nw {
		if !inOld[n] {
			gained = append(gained, i)
		}
	}
	if len(old) == len(nw) && len(lost) == len(gained) {
		rename := true
		for i := range lost {
			if lost[i] != gained[i] {
				rename = false
			}
		}
		if rename {
			for i := range lost {
				from, to := old[lost[i]], nw[gained[i]]
				if c := l.column(from); c != nil {
					c.name, c.renamed = to, line
				} else if ln, ok := l.added[lowerASCII(from)]; ok {
					delete(l.added, lowerASCII(from))
					l.added[lowerASCII(to)] = ln
				}
			}
			return
		}
	}
	for _, i := range lost {
		if c := l.column(old[i]); c != nil {
			c.dropped = line
		} else {
			delete(l.added, lowerASCII(old[i]))
		}
	}
	for _, i := range gained {
		l.added[lowerASCII(nw[i])] = line
	}
}

// column finds a live origin column by its current exact name.
func (l *lineage) column(name string) *colLineage {
	for _, c := range l.cols {
		if c.dropped == 0 && c.name == name {
			return c
		}
	}
	return nil
}

// targets are the live tables that received rows of l, directly or through
// tables that are gone by now (a temporary copy).
func (l *lineage) targets() []*lineage {
	seen := map[*lineage]bool{l: true}
	queue := []*lineage{l}
	var out []*lineage
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		for y := range x.feeds {
			if seen[y] {
				continue
			}
			seen[y] = true
			if y.alive {
				out = append(out, y)
			}
			queue = append(queue, y)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// findings turns the file's lineages into rule findings against the schema
// at the end of the file.
func (t *tracker) findings(end *snapshot, fw *fileWatch) []report.Finding {
	var fs []report.Finding
	add := func(rule string, line int, msg, fix string) {
		fs = append(fs, report.Finding{Rule: rule, Line: line, Message: msg, Fix: fix})
	}
	// droppedCol indexes the drop-column findings by lower table and column
	// name, so that a drop-index of an index on that column is folded in.
	droppedCol := map[[2]string]int{}
	dropCol := func(table, col string, line int, msg, fix string) {
		droppedCol[[2]string{lowerASCII(table), lowerASCII(col)}] = len(fs)
		add(RuleDropColumn, line, msg, fix)
	}
	droppedTables := map[string]bool{} // lower origin names reported as drop-table
	indexed := map[okey]bool{}         // tables that got an index in this file
	for k, ot := range t.objs {
		if o := end.get(k); ot.created > 0 && o != nil && o.typ == "index" {
			indexed[objKey(o.schema, "table", o.tbl)] = true
		}
	}
	for _, l := range t.all {
		o := l.origin
		if o == nil || l.schema != "main" || o.kind == "shadow" || internalName(o.name) {
			continue
		}
		if fw != nil && fw.r.born[lowerASCII(o.name)] {
			continue // created by an added file of this push: production has no such table yet
		}
		if l.alive && !l.touched && !indexed[objKey(l.schema, "table", l.name)] {
			continue // untouched by this file
		}
		if l.alive {
			endT := end.table(l.schema, l.name)
			if !equalFoldASCII(l.name, o.name) {
				add(RuleRenameTable, l.renamed,
					fmt.Sprintf("table %s is renamed to %s; the running worker (and any rollback target) still uses %s", o.name, l.name, o.name),
					"keep the old table: add the new one, copy or dual-write, and drop the old one only after no deployed version uses it")
			}
			for _, c := range l.cols {
				moved := ""
				if c.dropped > 0 && fw != nil {
					moved = fw.movedTo(c.dropped, o.name, end)
				}
				switch {
				case moved != "":
					dropCol(o.name, c.start.name, c.dropped,
						fmt.Sprintf("column %s.%s is dropped; its values were copied into %s first, but the running worker (and any rollback target) may still use the column", o.name, c.start.name, moved),
						"keep the column until no deployed version uses it; stop writing it first")
				case c.dropped > 0:
					dropCol(o.name, c.start.name, c.dropped,
						fmt.Sprintf("column %s.%s is dropped; its data is lost and the running worker (and any rollback target) may still use it", o.name, c.start.name),
						"keep the column until no deployed version uses it; stop writing it first")
				case c.name != c.start.name:
					add(RuleRenameColumn, c.renamed,
						fmt.Sprintf("column %s.%s is renamed to %s; the running worker (and any rollback target) still uses %s", o.name, c.start.name, c.name, c.start.name),
						"add the new column and copy the data; drop the old one only after no deployed version uses it")
				}
			}
			if endT != nil {
				t.newColumnFindings(&fs, o, l, endT, nil, false)
				t.uniqueFindings(&fs, o, l, endT, end, 0)
			}
			continue
		}
		// The origin table is gone. If its rows went into a table that now
		// carries its name, the file rebuilt it: what matters is the columns
		// the rebuilt table lacks, not the drop.
		var inPlace *lineage
		targets := l.targets()
		for _, x := range targets {
			if x.schema == l.schema && equalFoldASCII(x.name, o.name) {
				inPlace = x
			}
		}
		if inPlace == nil {
			msg := fmt.Sprintf("table %s is dropped; its data is lost and the running worker (and any rollback target) may still use it", o.name)
			if equalFoldASCII(o.name, "d1_migrations") {
				msg = "table d1_migrations is dropped; it is wrangler's record of applied migrations, so every migration would run again"
			}
			if re := end.table(l.schema, o.name); re != nil {
				msg += fmt.Sprintf("; it is re-created on line %d but no rows are copied into it", t.createdLine(re))
			}
			if len(targets) > 0 {
				var names []string
				for _, x := range targets {
					names = append(names, x.name)
				}
				msg += "; its rows are copied into " + strings.Join(names, ", ")
			}
			if refs := referencedBy(end, o.name); len(refs) > 0 {
				msg += "; foreign keys of " + strings.Join(refs, ", ") + " still reference it"
			}
			add(RuleDropTable, l.dropped, msg,
				"keep the table until no deployed version uses it; to change its shape, rebuild it with a copy of its rows (create new, INSERT ... SELECT, drop old, rename new)")
			droppedTables[lowerASCII(o.name)] = true
			continue
		}
		endT := end.table(inPlace.schema, inPlace.name)
		if endT == nil {
			continue
		}
		for _, c := range l.cols {
			if c.dropped > 0 {
				dropCol(o.name, c.start.name, c.dropped,
					fmt.Sprintf("column %s.%s is dropped; its data is lost and the running worker (and any rollback target) may still use it", o.name, c.start.name),
					"keep the column until no deployed version uses it; stop writing it first")
				continue
			}
			exact, fold := findCol(endT, c.name)
			from, to := "", "" // where a kept column's values came from; where a missing one's went
			if fw != nil && l.dropped > 0 {
				if exact != nil {
					from = fw.filledFrom(l.dropped, c.name, endT)
				} else if fold == nil {
					to = fw.copiedAs(l.dropped, c.name, o, endT)
				}
			}
			switch {
			case from != "":
				dropCol(o.name, c.start.name, l.dropped,
					fmt.Sprintf("column %s.%s is lost: the rebuilt table (line %d) fills it with the values of %s.%s — INSERT ... SELECT * copies by position, and the new table lists its columns in another order", o.name, c.start.name, inPlace.created, o.name, from),
					"name the columns on both sides: INSERT INTO new (a, b) SELECT a, b FROM old")
			case exact != nil && c.name != c.start.name:
				add(RuleRenameColumn, c.renamed,
					fmt.Sprintf("column %s.%s is renamed to %s; the running worker (and any rollback target) still uses %s", o.name, c.start.name, c.name, c.start.name),
					"add the new column and copy the data; drop the old one only after no deployed version uses it")
			case exact == nil && fold != nil:
				add(RuleRenameColumn, inPlace.created,
					fmt.Sprintf("column %s.%s becomes %s in the rebuilt table (line %d); result rows change their keys, so the running worker breaks", o.name, c.start.name, fold.name, inPlace.created),
					"keep the column's exact spelling in the new table")
			case to != "":
				add(RuleRenameColumn, inPlace.created,
					fmt.Sprintf("column %s.%s is renamed to %s by the rebuild (new table on line %d; its values are copied there); the running worker (and any rollback target) still uses %s", o.name, c.start.name, to, inPlace.created, c.start.name),
					"add the new column and copy the data; drop the old one only after no deployed version uses it")
			case exact == nil:
				dropCol(o.name, c.start.name, l.dropped,
					fmt.Sprintf("column %s.%s is lost: the table is rebuilt (new table on line %d, old one dropped here) without it", o.name, c.start.name, inPlace.created),
					"keep the column in the new table and copy it; drop it only after no deployed version uses it")
			}
		}
		t.newColumnFindings(&fs, o, l, endT, inPlace, fw.filled(o, endT))
		t.uniqueFindings(&fs, o, l, endT, end, inPlace.created)
	}
	// Indexes, views and triggers that existed when the file started.
	var keys []okey
	for k := range t.objs {
		keys = append(keys, k)
	}
	sortKeys(keys)
	for _, k := range keys {
		ot := t.objs[k]
		o := ot.start
		if o == nil || o.schema != "main" || internalName(o.name) || !o.sql.Valid {
			continue
		}
		if end.get(k) != nil {
			continue
		}
		if fw != nil && (o.typ == "index" || o.typ == "trigger") && fw.r.born[lowerASCII(o.tbl)] {
			continue // on a table production does not have yet
		}
		switch o.typ {
		case "index":
			if droppedTables[lowerASCII(o.tbl)] {
				continue
			}
			if i, ok := t.foldIndex(o, droppedCol); ok {
				// The index goes with the column it indexes (SQLite refuses
				// DROP COLUMN while an index uses it): one finding, not two.
				fs[i].Message += fmt.Sprintf("; its index %s goes with it (line %d)", o.name, ot.gone)
				continue
			}
			if coveredBy(o, end) {
				continue // the file created an index that serves the same queries
			}
			add(RuleDropIndex, ot.gone,
				fmt.Sprintf("index %s on %s is dropped; queries that relied on it get slower, and a rollback target may expect it", o.name, o.tbl),
				"re-create the index (a rebuilt table loses its indexes), or allow it with -- guard:allow drop-index <reason>")
		case "view":
			add(RuleDropView, ot.gone,
				fmt.Sprintf("view %s is dropped; the running worker (and any rollback target) may still query it", o.name),
				"keep the view (re-create it after changing the tables it reads), or allow it with -- guard:allow drop-view <reason>")
		case "trigger":
			if droppedTables[lowerASCII(o.tbl)] {
				continue
			}
			add(RuleDropTrigger, ot.gone,
				fmt.Sprintf("trigger %s on %s is dropped; what it maintained is no longer maintained", o.name, o.tbl),
				"re-create the trigger (a rebuilt table loses its triggers), or allow it with -- guard:allow drop-trigger <reason>")
		}
	}
	return fs
}

// coveredBy reports whether the end schema has an index on the dropped
// index ix's table that serves every query ix served: its key columns
// begin with ix's (drizzle drops and re-creates indexes under new names,
// often widened). A unique index is covered only by a unique index on the
// same columns, since a wider one no longer enforces the same uniqueness;
// a partial index, or one on an expression, by an identical definition
// only, which SQLite's index info cannot tell: never.
func coveredBy(ix *object, end *snapshot) bool {
	if ix.index == nil || ix.index.partial {
		return false
	}
	for _, c := range ix.index.cols {
		if c == "" {
			return false
		}
	}
	t := end.table(ix.schema, ix.tbl)
	if t == nil {
		return false
	}
	for _, o := range end.indexesOf(t) {
		n := o.index
		if n == nil || n.partial || len(n.cols) < len(ix.index.cols) {
			continue
		}
		if ix.index.unique && (!n.unique || len(n.cols) != len(ix.index.cols)) {
			continue
		}
		if slices.Equal(n.cols[:len(ix.index.cols)], ix.index.cols) {
			return true
		}
	}
	return false
}

// foldIndex finds the drop-column finding of a column the index covers.
func (t *tracker) foldIndex(ix *object, droppedCol map[[2]string]int) (int, bool) {
	if ix.index == nil {
		return 0, false
	}
	for _, c := range ix.index.cols {
		if i, ok := droppedCol[[2]string{lowerASCII(ix.tbl), c}]; ok && c != "" {
			return i, true
		}
	}
	return 0, false
}

// createdLine is the line of the statement that created a table in this
// file (by its final name), 0 when unknown.
func (t *tracker) createdLine(o *object) int {
	for _, l := range t.all {
		if l.alive && l.origin == nil && l.schema == o.schema && equalFoldASCII(l.name, o.name) {
			return l.created
		}
	}
	return 0
}

func findCol(t *object, name string) (exact, fold *colInfo) {
	if t.table == nil {
		return nil, nil
	}
	for i := range t.table.cols {
		c := &t.table.cols[i]
		if c.name == name {
			exact = c
		} else if fold == nil && equalFoldASCII(c.name, name) {
			fold = c
		}
	}
	return exact, fold
}

// referencedBy lists tables whose foreign keys name table.
func referencedBy(s *snapshot, table string) []string {
	var out []string
	s.each(func(_ okey, o *object) {
		if o.typ != "table" || o.table == nil || equalFoldASCII(o.name, table) {
			return
		}
		for _, r := range o.table.refs {
			if equalFoldASCII(r, table) {
				out = append(out, o.name)
				break
			}
		}
	})
	sort.Strings(out)
	return out
}

// needsValue reports a column every existing row must get a value for:
// NOT NULL, no default, not generated, and not the rowid.
func needsValue(c colInfo, cols []colInfo) bool {
	if !c.notnull || c.dflt.Valid || c.hidden != 0 {
		return false
	}
	if rid, ok := rowidAlias(cols); ok && rid == c.name {
		return false
	}
	return true
}

// newColumnFindings reports NOT NULL columns without a default that the
// existing rows of an origin table suddenly need. For a table kept alive
// they come from ADD COLUMN (SQLite accepts it only while the table is
// empty, so the replay succeeds but production fails); for a rebuilt table
// they are new columns, or columns that were nullable before.
// filled says that the copy of a rebuild gave every row a value: the
// rebuilt table holds the rows the table had (SQLite checked NOT NULL on
// each), so a new NOT NULL column is no hazard.
func (t *tracker) newColumnFindings(fs *[]report.Finding, o *object, l *lineage, endT *object, rebuilt *lineage, filled bool) {
	if endT.table == nil {
		return
	}
	cols := endT.table.cols
	for _, c := range cols {
		if !needsValue(c, cols) {
			continue
		}
		var was *colLineage
		for _, oc := range l.cols {
			if oc.dropped == 0 && equalFoldASCII(oc.name, c.name) {
				was = oc
			}
		}
		if rebuilt == nil {
			line, ok := l.added[lowerASCII(c.name)]
			if !ok {
				continue
			}
			*fs = append(*fs, report.Finding{Rule: RuleNotNullNoDefault, Line: line,
				Message: fmt.Sprintf("column %s.%s is added NOT NULL without a default; adding it fails as soon as the table has rows", o.name, c.name),
				Fix:     "give it a DEFAULT, or add it nullable and backfill"})
			continue
		}
		switch {
		case was == nil && filled:
		case was == nil:
			*fs = append(*fs, report.Finding{Rule: RuleNotNullNoDefault, Line: rebuilt.created,
				Message: fmt.Sprintf("column %s.%s is new, NOT NULL and without a default in the rebuilt table; copying existing rows fails unless the copy fills it", o.name, c.name),
				Fix:     "give it a DEFAULT, or make sure the INSERT ... SELECT provides a value"})
		case !was.start.notnull:
			*fs = append(*fs, report.Finding{Rule: RuleNotNullNoDefault, Line: rebuilt.created,
				Message: fmt.Sprintf("column %s.%s becomes NOT NULL without a default in the rebuilt table; copying rows that hold NULL fails", o.name, c.name),
				Fix:     "backfill the NULLs before the rebuild, or give the column a DEFAULT"})
		}
	}
}

// uniqueFindings reports unique indexes (explicit, or from UNIQUE and
// PRIMARY KEY constraints of a rebuilt table) that existing rows may
// violate. An index is safe when an old unique column set is contained in
// it, or when it includes a column added in this file without a default
// (all NULL, and NULLs never collide).
func (t *tracker) uniqueFindings(fs *[]report.Finding, o *object, l *lineage, endT *object, end *snapshot, rebuiltLine int) {
	startT := t.start.table(o.schema, o.name)
	if startT == nil {
		return
	}
	// Old unique sets, in today's column names.
	rename := map[string]string{}
	newCol := map[string]bool{}
	for _, c := range l.cols {
		if c.dropped == 0 {
			rename[lowerASCII(c.start.name)] = lowerASCII(c.name)
		}
	}
	if endT.table != nil {
		for _, c := range endT.table.cols {
			found := false
			for _, oc := range l.cols {
				if oc.dropped == 0 && equalFoldASCII(oc.name, c.name) {
					found = true
				}
			}
			if !found && !c.dflt.Valid {
				newCol[lowerASCII(c.name)] = true
			}
		}
	}
	var old [][]string
	for _, set := range t.start.uniqueSets(startT) {
		var m []string
		ok := true
		for _, c := range set {
			n, live := rename[c]
			if !live {
				ok = false
			}
			m = append(m, n)
		}
		if ok {
			old = append(old, m)
		}
	}
	idx := end.indexesOf(endT)
	sort.Slice(idx, func(i, j int) bool { return idx[i].name < idx[j].name })
	for _, ix := range idx {
		if !ix.index.unique {
			continue
		}
		if covered(old, ix.index.cols) {
			continue
		}
		fresh := false
		for _, c := range ix.index.cols {
			if newCol[c] {
				fresh = true
			}
		}
		if fresh {
			continue
		}
		line := rebuiltLine
		if ot := t.objs[objKey(ix.schema, "index", ix.name)]; ot != nil && ot.created > 0 && ix.sql.Valid {
			line = ot.created
		}
		if line == 0 {
			continue // existed before the file and was not rebuilt
		}
		what := "unique index " + ix.name
		if !ix.sql.Valid {
			what = "UNIQUE/PRIMARY KEY constraint"
		}
		rows := "existing rows hold duplicates"
		if ix.index.partial {
			rows = "existing rows its WHERE clause selects hold duplicates (a partial index)"
		}
		*fs = append(*fs, report.Finding{Rule: RuleUniqueOnExisting, Line: line,
			Message: fmt.Sprintf("%s on existing table %s (%s); it fails if %s", what, o.name, strings.Join(displayCols(ix.index.cols), ", "), rows),
			Fix:     "check the data for duplicates first, then allow it with -- guard:allow unique-on-existing <reason>"})
	}
}

func displayCols(cols []string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		if c == "" {
			c = "<expression>"
		}
		out[i] = c
	}
	return out
}

// covered reports whether some old unique set is contained in cols.
func covered(old [][]string, cols []string) bool {
	have := map[string]bool{}
	for _, c := range cols {
		if c != "" {
			have[c] = true
		}
	}
	for _, set := range old {
		if len(set) == 0 {
			continue
		}
		all := true
		for _, c := range set {
			if !have[c] {
				all = false
			}
		}
		if all {
			return true
		}
	}
	return false
}
