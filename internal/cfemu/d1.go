package cfemu

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/google/uuid"
)

const (
	codeD1NotFound = 7404
	codeD1Query    = 7500
	codeD1BadInput = 7400
	// timeTravelWindow is how far back D1 Time Travel reaches.
	timeTravelWindow = 30 * 24 * time.Hour
)

func (e *Emulator) createD1Locked(accountID, id, name string) (*Database, error) {
	if accountID == "" || id == "" || name == "" {
		return nil, fmt.Errorf("a D1 database needs an account, a uuid and a name")
	}
	a := e.st.account(accountID, true)
	for _, d := range a.D1 {
		if d.UUID == id || d.Name == name {
			return nil, fmt.Errorf("D1 database %s (%s) already exists", d.Name, d.UUID)
		}
	}
	db, err := openSQLite()
	if err != nil {
		return nil, err
	}
	d := &Database{UUID: id, Name: name, CreatedAt: stamp(e.now()), Journal: []JournalEntry{}, db: db}
	a.D1[id] = d
	return d, nil
}

// findD1 finds a database by UUID or name.
func (e *Emulator) findD1Locked(accountID, idOrName string) *Database {
	a := e.st.account(accountID, false)
	if a == nil {
		return nil
	}
	if d := a.D1[idOrName]; d != nil {
		return d
	}
	for _, d := range a.D1 {
		if d.Name == idOrName {
			return d
		}
	}
	return nil
}

// inD1 runs f with the emulator locked and the request's database
// ({account}, {db}: a UUID or a name) found; a database the account does
// not have is answered 404, as Cloudflare does.
func (e *Emulator) inD1(w http.ResponseWriter, r *http.Request, f func(d *Database)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.findD1Locked(r.PathValue("account"), r.PathValue("db"))
	if d == nil {
		writeError(w, http.StatusNotFound, codeD1NotFound, fmt.Sprintf("The database %s could not be found", r.PathValue("db")))
		return
	}
	f(d)
}

func d1Object(d *Database) map[string]any {
	return map[string]any{
		"uuid":              d.UUID,
		"name":              d.Name,
		"created_at":        d.CreatedAt,
		"version":           "production",
		"num_tables":        0,
		"file_size":         0,
		"running_in_region": "WEUR",
	}
}

func (e *Emulator) listD1(w http.ResponseWriter, r *http.Request) {
	page, perPage, ok := pageParams(w, r, 1000, codeD1BadInput)
	if !ok {
		return
	}
	q := r.URL.Query()
	e.mu.Lock()
	defer e.mu.Unlock()
	var all []*Database
	if a := e.st.account(r.PathValue("account"), false); a != nil {
		for _, d := range a.D1 {
			if n := q.Get("name"); n == "" || n == d.Name {
				all = append(all, d)
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].CreatedAt < all[j].CreatedAt })
	out := []map[string]any{}
	for i := (page - 1) * perPage; i >= 0 && i < len(all) && i < page*perPage; i++ {
		out = append(out, d1Object(all[i]))
	}
	pages := (len(all) + perPage - 1) / perPage
	writePaged(w, out, resultInfo{Page: page, PerPage: perPage, Count: len(out), TotalCount: len(all), TotalPages: pages})
}

func (e *Emulator) postD1(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name string `json:"name"`
	}
	if err := decodeBody(r, 1<<20, &body); err != nil || body.Name == "" {
		writeError(w, http.StatusBadRequest, codeD1BadInput, "request body must be {\"name\": \"...\"}")
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	d, err := e.createD1Locked(r.PathValue("account"), uuid.NewString(), body.Name)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeD1BadInput, err.Error())
		return
	}
	writeResult(w, d1Object(d))
}

func (e *Emulator) getD1(w http.ResponseWriter, r *http.Request) {
	e.inD1(w, r, func(d *Database) { writeResult(w, d1Object(d)) })
}

func (e *Emulator) queryD1(w http.ResponseWriter, r *http.Request) { e.execD1(w, r, false) }
func (e *Emulator) rawD1(w http.ResponseWriter, r *http.Request)   { e.execD1(w, r, true) }

// execD1 serves /query (rows as objects) and /raw (columns + row arrays).
func (e *Emulator) execD1(w http.ResponseWriter, r *http.Request, raw bool) {
	var body struct {
		SQL    string `json:"sql"`
		Params []any  `json:"params"`
	}
	if err := decodeBody(r, 100<<20, &body); err != nil || body.SQL == "" {
		writeError(w, http.StatusBadRequest, codeD1BadInput, "request body must be {\"sql\": \"...\", \"params\": [...]}")
		return
	}
	e.inD1(w, r, func(d *Database) { e.execD1Locked(w, d, body.SQL, body.Params, raw) })
}

// execD1Locked runs sql on d, journals a change and answers the results.
func (e *Emulator) execD1Locked(w http.ResponseWriter, d *Database, sql string, params []any, raw bool) {
	res, err := d.db.run(sql, params, true)
	if err != nil {
		status := http.StatusInternalServerError
		if isD1Error(err) {
			status = http.StatusBadRequest
		}
		writeError(w, status, codeD1Query, err.Error())
		return
	}
	if res.Changed {
		d.Journal = append(d.Journal, JournalEntry{Seq: len(d.Journal) + 1, At: stamp(e.now()), SQL: sql, Params: params})
	}
	out := make([]map[string]any, 0, len(res.Stmts))
	for _, st := range res.Stmts {
		meta := map[string]any{
			"served_by":         "cfemu",
			"served_by_region":  "WEUR",
			"served_by_primary": true,
			"duration":          float64(st.Duration.Microseconds()) / 1000,
			"changes":           st.Changes,
			"last_row_id":       st.LastRowID,
			"changed_db":        res.Changed,
			"size_after":        0,
			"rows_read":         st.RowsRead,
			"rows_written":      st.RowsWritten,
		}
		var results any
		if raw {
			results = map[string]any{"columns": st.Columns, "rows": st.Rows}
		} else {
			objs := make([]map[string]any, 0, len(st.Rows))
			for _, row := range st.Rows {
				o := make(map[string]any, len(row))
				for i, c := range st.Columns {
					o[c] = row[i]
				}
				objs = append(objs, o)
			}
			results = objs
		}
		out = append(out, map[string]any{"results": results, "success": true, "meta": meta})
	}
	writeResult(w, out)
}

// bookmark names the database state after journal entry seq. Real bookmarks
// are opaque; this one keeps D1's shape (hex groups) and is stable.
func bookmark(d *Database, seq int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%d", d.UUID, seq))
	return fmt.Sprintf("%08x-%08x-%08x-%s", seq, 0, 0, hex.EncodeToString(sum[:16]))
}

// bookmarkD1 answers the Time Travel bookmark for now or for ?timestamp=
// (RFC 3339): the state after the last write at or before that time.
func (e *Emulator) bookmarkD1(w http.ResponseWriter, r *http.Request) {
	e.inD1(w, r, func(d *Database) { e.bookmarkD1Locked(w, d, r.URL.Query().Get("timestamp")) })
}

func (e *Emulator) bookmarkD1Locked(w http.ResponseWriter, d *Database, ts string) {
	seq := len(d.Journal)
	if ts != "" {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			writeError(w, http.StatusBadRequest, codeD1BadInput, fmt.Sprintf("timestamp %q is not RFC 3339", ts))
			return
		}
		now := e.clock()
		if t.After(now.Add(time.Minute)) {
			writeError(w, http.StatusBadRequest, codeD1BadInput, fmt.Sprintf("timestamp %s is in the future", ts))
			return
		}
		if t.Before(now.Add(-timeTravelWindow)) {
			writeError(w, http.StatusBadRequest, codeD1BadInput, fmt.Sprintf("timestamp %s is older than the 30-day Time Travel window", ts))
			return
		}
		seq = 0
		for _, j := range d.Journal {
			jt, err := time.Parse(TimeFormat, j.At)
			if err == nil && !jt.After(t) {
				seq = j.Seq
			}
		}
	}
	writeResult(w, map[string]string{"bookmark": bookmark(d, seq)})
}
