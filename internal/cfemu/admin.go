package cfemu

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Admin endpoints (no token, never logged, never faulted):
//
//	GET    /__emu/health    {"ok": true}
//	GET    /__emu/routes    the API routes implemented (see Routes)
//	GET    /__emu/state     the whole State as JSON
//	PUT    /__emu/state     replace the State (seeding); D1 journals are replayed
//	POST   /__emu/reset     drop state, faults and the request log
//	GET    /__emu/faults    installed faults
//	POST   /__emu/faults    add one Fault object or an array of them
//	DELETE /__emu/faults    remove every fault
//	GET    /__emu/requests  the request log: [{seq,time,method,path,query,status}]
//	DELETE /__emu/requests  clear the request log
//	POST   /__emu/d1        create a D1 database {"account","uuid","name"}
//	GET    /__emu/edge?worker=W   edge requests served per version of W:
//	                        {"<version>": {"percentage": n, "override": m}}
//	POST   /__emu/edge/health     add a HealthRule {"worker", "version_id"|"tag", "status"}
//	DELETE /__emu/edge/health     every version healthy again
//
// Errors are {"error": "..."} with status 400.

// Request is one API request as logged: never a header or a body.
type Request struct {
	Seq    int    `json:"seq"`
	Time   string `json:"time"`
	Method string `json:"method"`
	Path   string `json:"path"`
	Query  string `json:"query,omitempty"`
	// Status is the answer's status; 0 when the connection was dropped.
	Status int `json:"status"`
}

// maxLoggedRequests bounds the request log of a long-running emulator (the
// demo); the oldest entries go first.
const maxLoggedRequests = 10000

func (e *Emulator) logRequest(r *http.Request) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reqSeq++
	e.requests = append(e.requests, Request{
		Seq:    e.reqSeq,
		Time:   time.Now().UTC().Format(TimeFormat),
		Method: r.Method,
		Path:   r.URL.Path,
		Query:  r.URL.RawQuery,
	})
	if len(e.requests) > maxLoggedRequests {
		e.requests = append([]Request(nil), e.requests[len(e.requests)-maxLoggedRequests:]...)
	}
	return e.reqSeq
}

func (e *Emulator) setLoggedStatus(seq, status int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.requests) - 1; i >= 0; i-- {
		if e.requests[i].Seq == seq {
			e.requests[i].Status = status
			return
		}
	}
}

// Requests returns the request log, oldest first.
func (e *Emulator) Requests() []Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Request(nil), e.requests...)
}

// ClearRequests empties the request log.
func (e *Emulator) ClearRequests() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.requests = nil
}

// CreateD1Database creates a D1 database, as `wrangler d1 create` would.
func (e *Emulator) CreateD1Database(accountID, uuid, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err := e.createD1Locked(accountID, uuid, name)
	return err
}

func adminError(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

func adminJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (e *Emulator) adminRoutes() {
	m := http.NewServeMux()
	a := strings.TrimSuffix(AdminPrefix, "/")
	m.HandleFunc("GET "+a+"/health", func(w http.ResponseWriter, r *http.Request) {
		adminJSON(w, map[string]bool{"ok": true})
	})
	m.HandleFunc("GET "+a+"/routes", func(w http.ResponseWriter, r *http.Request) { adminJSON(w, Routes()) })
	m.HandleFunc("GET "+a+"/state", func(w http.ResponseWriter, r *http.Request) { adminJSON(w, e.Snapshot()) })
	m.HandleFunc("PUT "+a+"/state", func(w http.ResponseWriter, r *http.Request) {
		var st State
		if err := decodeBody(r, 64<<20, &st); err != nil {
			adminError(w, fmt.Errorf("state: %w", err))
			return
		}
		if err := e.setState(st); err != nil {
			adminError(w, err)
			return
		}
		e.changed()
		adminJSON(w, map[string]bool{"ok": true})
	})
	m.HandleFunc("POST "+a+"/reset", func(w http.ResponseWriter, r *http.Request) {
		e.Reset()
		e.changed()
		adminJSON(w, map[string]bool{"ok": true})
	})
	m.HandleFunc("GET "+a+"/faults", func(w http.ResponseWriter, r *http.Request) { adminJSON(w, e.Faults()) })
	m.HandleFunc("DELETE "+a+"/faults", func(w http.ResponseWriter, r *http.Request) {
		e.ClearFaults()
		adminJSON(w, map[string]bool{"ok": true})
	})
	m.HandleFunc("POST "+a+"/faults", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			adminError(w, err)
			return
		}
		var list []Fault
		if trimmed := strings.TrimSpace(string(body)); strings.HasPrefix(trimmed, "[") {
			err = json.Unmarshal(body, &list)
		} else {
			var f Fault
			err = json.Unmarshal(body, &f)
			list = []Fault{f}
		}
		if err != nil {
			adminError(w, fmt.Errorf("fault: %w", err))
			return
		}
		for _, f := range list {
			if err := f.validate(); err != nil {
				adminError(w, err)
				return
			}
		}
		for _, f := range list {
			_ = e.AddFault(f) // validated above
		}
		adminJSON(w, e.Faults())
	})
	m.HandleFunc("GET "+a+"/requests", func(w http.ResponseWriter, r *http.Request) { adminJSON(w, e.Requests()) })
	m.HandleFunc("DELETE "+a+"/requests", func(w http.ResponseWriter, r *http.Request) {
		e.ClearRequests()
		adminJSON(w, map[string]bool{"ok": true})
	})
	m.HandleFunc("POST "+a+"/d1", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Account string `json:"account"`
			UUID    string `json:"uuid"`
			Name    string `json:"name"`
		}
		if err := decodeBody(r, 1<<20, &body); err != nil {
			adminError(w, fmt.Errorf("d1: %w", err))
			return
		}
		if err := e.CreateD1Database(body.Account, body.UUID, body.Name); err != nil {
			adminError(w, err)
			return
		}
		e.changed()
		adminJSON(w, map[string]bool{"ok": true})
	})
	m.HandleFunc("GET "+a+"/edge", func(w http.ResponseWriter, r *http.Request) {
		worker := r.URL.Query().Get("worker")
		if worker == "" {
			adminError(w, fmt.Errorf("edge: ?worker= is required"))
			return
		}
		adminJSON(w, e.EdgeServed(worker))
	})
	m.HandleFunc("POST "+a+"/edge/health", func(w http.ResponseWriter, r *http.Request) {
		var h HealthRule
		if err := decodeBody(r, 1<<20, &h); err != nil {
			adminError(w, fmt.Errorf("edge health: %w", err))
			return
		}
		if err := e.SetVersionHealth(h); err != nil {
			adminError(w, err)
			return
		}
		adminJSON(w, map[string]bool{"ok": true})
	})
	m.HandleFunc("DELETE "+a+"/edge/health", func(w http.ResponseWriter, r *http.Request) {
		e.ClearVersionHealth()
		adminJSON(w, map[string]bool{"ok": true})
	})
	e.admin = m
}
