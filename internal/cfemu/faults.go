package cfemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Fault makes matching API requests misbehave. Faults are checked in the
// order they were added; the first match applies. A fault with Times > 0 is
// removed after that many matches; Times == 0 matches until cleared.
type Fault struct {
	// Method matches the HTTP method; empty matches any.
	Method string `json:"method,omitempty"`
	// Path is matched against the request path with APIPrefix removed, one
	// segment at a time: "*" matches one segment, a final "**" matches any
	// rest (also none). E.g. "/accounts/*/workers/scripts/*" or "/**".
	Path string `json:"path"`
	// Delay holds the answer back (a slow API). With neither Status nor
	// Drop, the request is then served normally.
	Delay Duration `json:"delay,omitempty"`
	// Status answers with this HTTP status and a Cloudflare error envelope.
	Status int `json:"status,omitempty"`
	// Code and Message fill the error envelope; defaults depend on Status
	// (10000 "Authentication error" for 401, 10013 otherwise).
	Code    int    `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// Drop closes the connection without an answer.
	Drop bool `json:"drop,omitempty"`
	// Times bounds how many requests the fault applies to; 0 = unlimited.
	Times int `json:"times,omitempty"`
}

// Duration is a time.Duration that reads and writes JSON as "1.5s".
type Duration time.Duration

// MarshalJSON writes the duration in Go syntax.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON accepts "250ms" or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("fault delay: %w", err)
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("fault delay must be a duration string like \"2s\"")
	}
	*d = Duration(n)
	return nil
}

func (f Fault) validate() error {
	if f.Path == "" || !strings.HasPrefix(f.Path, "/") {
		return fmt.Errorf("fault path must start with /, got %q", f.Path)
	}
	if f.Status != 0 && (f.Status < 400 || f.Status > 599) {
		return fmt.Errorf("fault status must be 4xx or 5xx, got %d", f.Status)
	}
	if f.Status == 0 && !f.Drop && f.Delay == 0 {
		return fmt.Errorf("fault for %s does nothing: set status, drop or delay", f.Path)
	}
	if f.Times < 0 {
		return fmt.Errorf("fault times must not be negative")
	}
	return nil
}

// AddFault installs a fault.
func (e *Emulator) AddFault(f Fault) error {
	if err := f.validate(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = append(e.faults, &f)
	return nil
}

// ClearFaults removes every fault.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = nil
}

// Faults returns the installed faults (with their remaining Times).
func (e *Emulator) Faults() []Fault {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Fault, 0, len(e.faults))
	for _, f := range e.faults {
		out = append(out, *f)
	}
	return out
}

// matchFault returns a copy of the first fault matching r and counts it.
func (e *Emulator) matchFault(r *http.Request) *Fault {
	p := strings.TrimPrefix(r.URL.Path, APIPrefix)
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, f := range e.faults {
		if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
			continue
		}
		if !matchPath(f.Path, p) {
			continue
		}
		c := *f
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				e.faults = append(e.faults[:i:i], e.faults[i+1:]...)
			}
		}
		return &c
	}
	return nil
}

// matchPath matches a segment glob ("*" one segment, trailing "**" the rest).
func matchPath(pattern, path string) bool {
	ps := strings.Split(strings.Trim(pattern, "/"), "/")
	xs := strings.Split(strings.Trim(path, "/"), "/")
	for i, seg := range ps {
		if seg == "**" && i == len(ps)-1 {
			return true
		}
		if i >= len(xs) {
			return false
		}
		if seg != "*" && seg != xs[i] {
			return false
		}
	}
	return len(ps) == len(xs)
}

// applyFault acts out f; it reports whether the request has been answered.
func (e *Emulator) applyFault(w *statusRecorder, r *http.Request, f *Fault) bool {
	if f.Delay > 0 {
		t := time.NewTimer(time.Duration(f.Delay))
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			w.status = 499 // client went away; recorded in the log only
			return true
		}
	}
	if f.Drop {
		w.status = 0
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			// Not HTTP/1 (or a test recorder): say so rather than pretend.
			w.status = http.StatusInternalServerError
			writeError(w, http.StatusInternalServerError, 10013, "emulator cannot drop this connection: "+err.Error())
			return true
		}
		conn.Close()
		return true
	}
	if f.Status != 0 {
		code, msg := f.Code, f.Message
		if code == 0 {
			code = 10013
			if f.Status == http.StatusUnauthorized {
				code = 10000
			}
		}
		if msg == "" {
			msg = "Emulated fault: " + http.StatusText(f.Status)
			if f.Status == http.StatusUnauthorized {
				msg = "Authentication error"
			}
		}
		writeError(w, f.Status, code, msg)
		return true
	}
	return false
}
