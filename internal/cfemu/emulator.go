// Package cfemu is guard's emulator of the Cloudflare v4 API: enough of the
// Workers, D1 and R2 endpoints for the real wrangler (4.86) and
// cloudflare-go (v6.10) to deploy, list, roll back, apply D1 migrations,
// manage R2 bucket lock rules and put and get R2 objects against it (R2 in
// r2.go: a locked key cannot be overwritten or deleted, as in R2).
//
// Contract:
//   - An *Emulator is an http.Handler; mount it anywhere (httptest) or call
//     Start for a loopback server, or Serve for the standalone process behind
//     the hidden `guard emulator` command. API paths live under APIPrefix
//     (/client/v4), so the base URL handed to wrangler
//     (CLOUDFLARE_API_BASE_URL) and cloudflare-go (CLOUDFLARE_BASE_URL) is
//     "http://127.0.0.1:PORT/client/v4".
//   - Every answer uses Cloudflare's envelope
//     {"success","errors","messages","result"}; errors carry Cloudflare's codes
//     (10000 authentication, 10007 worker not found, 7003 unknown route,
//     7500 D1 SQL error) so clients take the same branches as against the real
//     API.
//   - State is kept per account: workers (versions with metadata and
//     annotations, deployments, subdomain, script settings), R2 buckets
//     (lock rules, objects) and D1 databases,
//     each a real in-memory SQLite database (modernc.org/sqlite) so that
//     wrangler's d1_migrations bookkeeping and SQL errors are real.
//   - Timestamps are RFC 3339 UTC with exactly six fractional digits, strictly
//     increasing, because wrangler orders versions and deployments by
//     comparing created_on as strings; the clock is injectable (WithClock).
//   - Faults (status, delay, dropped connection), the request log and the
//     whole state are reachable from Go and over admin endpoints under
//     AdminPrefix (/__emu/), which need no token and are never logged or
//     faulted. See admin.go for the endpoints.
//   - The request log records method, path, query and status only: never a
//     header, so the token cannot leak through it.
//   - Under EdgePrefix (/__edge/<worker>/...) the emulator is the workers'
//     edge: it serves each worker's current deployment by percentage, or
//     the version a Cloudflare-Workers-Version-Overrides header pins, and
//     tests can make a version unhealthy. See edge.go.
package cfemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

const (
	// APIPrefix is the path under which the v4 API is served.
	APIPrefix = "/client/v4"
	// AdminPrefix is the path of the emulator's own control endpoints.
	AdminPrefix = "/__emu/"
	// DefaultAccountID is the account listed by GET /memberships when no
	// account was configured with WithAccount.
	DefaultAccountID = "0e1a2b3c4d5e6f708192a3b4c5d6e7f8"
	// DefaultSubdomain is the account's workers.dev subdomain.
	DefaultSubdomain = "guard-emulator"
	// DefaultAuthorEmail is recorded as author of versions and deployments.
	DefaultAuthorEmail = "operator@example.com"
	// TimeFormat is the one timestamp layout the emulator emits.
	TimeFormat = "2006-01-02T15:04:05.000000Z"
)

// Emulator is the in-memory Cloudflare API. The zero value is not usable;
// call New.
type Emulator struct {
	mu       sync.Mutex
	token    string // "" = any non-empty bearer token
	author   string
	clock    func() time.Time
	lastTime time.Time
	accounts []string // for /memberships
	st       *state
	faults   []*Fault
	requests []Request
	reqSeq   int
	onChange func() // called (without mu) after a mutating request
	initErr  error  // an option that failed; every API request reports it
	edgeSt   *edgeState

	api   *http.ServeMux
	admin *http.ServeMux
}

// Option configures an Emulator.
type Option func(*Emulator)

// WithToken makes the emulator accept only this bearer token (any other gets
// 401, code 10000). Without it any non-empty token is accepted.
func WithToken(token string) Option { return func(e *Emulator) { e.token = token } }

// WithClock replaces time.Now; the emulator still makes consecutive
// timestamps strictly increasing (by a microsecond) so ordering stays total.
func WithClock(now func() time.Time) Option { return func(e *Emulator) { e.clock = now } }

// WithAuthorEmail sets the author recorded on versions and deployments.
func WithAuthorEmail(email string) Option { return func(e *Emulator) { e.author = email } }

// WithAccount adds an account to the memberships list (the first one added
// replaces DefaultAccountID).
func WithAccount(id string) Option {
	return func(e *Emulator) { e.accounts = append(e.accounts, id) }
}

// WithD1Database creates a D1 database up front, as `wrangler d1 create`
// would have.
func WithD1Database(accountID, uuid, name string) Option {
	return func(e *Emulator) {
		e.mu.Lock()
		defer e.mu.Unlock()
		if _, err := e.createD1Locked(accountID, uuid, name); err != nil && e.initErr == nil {
			// Options cannot return errors; every request reports it instead.
			e.initErr = fmt.Errorf("cfemu: WithD1Database: %w", err)
		}
	}
}

// New returns an emulator with empty state.
func New(opts ...Option) *Emulator {
	e := &Emulator{
		author: DefaultAuthorEmail,
		clock:  time.Now,
		st:     newState(),
	}
	e.routes()
	for _, o := range opts {
		o(e)
	}
	if len(e.accounts) == 0 {
		e.accounts = []string{DefaultAccountID}
	}
	return e
}

// now returns the next timestamp: the clock's time in UTC truncated to the
// microsecond, bumped past the previous one. Callers hold e.mu.
func (e *Emulator) now() time.Time {
	t := e.clock().UTC().Truncate(time.Microsecond)
	if !t.After(e.lastTime) {
		t = e.lastTime.Add(time.Microsecond)
	}
	e.lastTime = t
	return t
}

func stamp(t time.Time) string { return t.UTC().Format(TimeFormat) }

// ServeHTTP dispatches admin requests, then applies faults, authentication
// and the API routes.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, AdminPrefix) {
		e.admin.ServeHTTP(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, EdgePrefix) {
		e.serveEdge(w, r)
		return
	}
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	seq := e.logRequest(r)
	defer func() { e.setLoggedStatus(seq, rec.status) }()

	if f := e.matchFault(r); f != nil {
		if done := e.applyFault(rec, r, f); done {
			return
		}
	}
	if !strings.HasPrefix(r.URL.Path, APIPrefix+"/") {
		writeError(rec, http.StatusNotFound, 7003, fmt.Sprintf("Could not route to %s, perhaps your object identifier is invalid?", r.URL.Path))
		return
	}
	if e.initErr != nil {
		writeError(rec, http.StatusInternalServerError, 10013, e.initErr.Error())
		return
	}
	if !e.authorized(r) {
		writeError(rec, http.StatusUnauthorized, 10000, "Authentication error")
		return
	}
	// Handler only finds the route; ServeHTTP is what fills r.PathValue.
	if _, pattern := e.api.Handler(r); pattern == "" {
		writeError(rec, http.StatusNotFound, 7003, fmt.Sprintf("Could not route to %s, perhaps your object identifier is invalid?", r.URL.Path))
		return
	}
	e.api.ServeHTTP(rec, r)
	if r.Method != http.MethodGet && rec.status < 400 {
		e.changed()
	}
}

func (e *Emulator) authorized(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	tok = strings.TrimSpace(tok)
	if !ok || tok == "" {
		return false
	}
	return e.token == "" || tok == e.token
}

func (e *Emulator) changed() {
	e.mu.Lock()
	f := e.onChange
	e.mu.Unlock()
	if f != nil {
		f()
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wroteHeader {
		s.status = code
		s.wroteHeader = true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wroteHeader = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection for hijacking.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// APIError is one entry of an error envelope.
type APIError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type envelope struct {
	Success    bool        `json:"success"`
	Errors     []APIError  `json:"errors"`
	Messages   []APIError  `json:"messages"`
	Result     any         `json:"result"`
	ResultInfo *resultInfo `json:"result_info,omitempty"`
}

type resultInfo struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Count      int `json:"count"`
	TotalCount int `json:"total_count"`
	TotalPages int `json:"total_pages"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

func writeResult(w http.ResponseWriter, result any) {
	writeJSON(w, http.StatusOK, envelope{Success: true, Errors: []APIError{}, Messages: []APIError{}, Result: result})
}

func writePaged(w http.ResponseWriter, result any, info resultInfo) {
	writeJSON(w, http.StatusOK, envelope{Success: true, Errors: []APIError{}, Messages: []APIError{}, Result: result, ResultInfo: &info})
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, envelope{Success: false, Errors: []APIError{{Code: code, Message: msg}}, Messages: []APIError{}, Result: nil})
}

// Start serves the emulator on addr, which must be a loopback address
// ("127.0.0.1:0" picks a free port). It returns the API base URL and a
// function that stops the server.
func (e *Emulator) Start(addr string) (baseURL string, stop func() error, err error) {
	ln, err := listenLoopback(addr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			return srv.Close()
		}
		return nil
	}
	return "http://" + ln.Addr().String() + APIPrefix, stop, nil
}

func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("emulator address %q: %w", addr, err)
	}
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("emulator address %q: only loopback addresses are served", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	return ln, nil
}

// Serve runs a standalone emulator on the loopback addr until ctx ends. When
// stateFile is not empty the state is loaded from it if it exists and written
// to it (atomically, by rename) after every change, so another process can
// read it; the admin endpoints serve the same state. ready, when not nil, is
// called with the API base URL once the port is listening.
func Serve(ctx context.Context, addr, stateFile string, ready func(baseURL string), opts ...Option) error {
	e := New(opts...)
	if stateFile != "" {
		if err := e.LoadStateFile(stateFile); err != nil {
			return err
		}
		var saveMu sync.Mutex
		save := func() {
			saveMu.Lock()
			defer saveMu.Unlock()
			_ = e.SaveStateFile(stateFile) // best effort: the admin endpoint still has the state
		}
		e.mu.Lock()
		e.onChange = save
		e.mu.Unlock()
		if err := e.SaveStateFile(stateFile); err != nil {
			return err
		}
	}
	ln, err := listenLoopback(addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready("http://" + ln.Addr().String() + APIPrefix)
	}
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("emulator: %w", err)
	}
}
