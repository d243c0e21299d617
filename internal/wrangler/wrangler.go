// Package wrangler is the one place guard runs Cloudflare's wrangler CLI.
//
// Contract:
//   - wrangler always runs non-interactively: stdin is the null device (no
//     TTY, so no prompt can wait for an answer), and the environment gets
//     CI=true, WRANGLER_SEND_METRICS=false, WRANGLER_HIDE_BANNER=true,
//     WRANGLER_SEND_ERROR_REPORTS=false and GUARD=1, plus a WRANGLER_LOG_PATH
//     in a private temporary directory so debug logs do not pile up in $HOME
//     (Runner.Env may set its own). Runner.Env comes after the inherited
//     environment and the defaults, so the caller can override any of them.
//   - Output is streamed live to Runner.Stdout/Stderr while the last 64 KiB
//     of each stream is kept (ANSI colours stripped) for parsing and errors.
//   - The value of CLOUDFLARE_API_TOKEN (from Runner.Env or the inherited
//     environment) is replaced by "[REDACTED]" in everything this package
//     streams, keeps or returns.
//   - Results come from wrangler's structured output (WRANGLER_OUTPUT_FILE_PATH,
//     one JSON object per line: "deploy", "command-failed"); the printed
//     "Current Version ID:" line is the fallback.
//   - Failures are *Error values naming the command, its exit status,
//     wrangler's own message and the tail of stderr.
//   - wrangler runs tethered (proc.Tether): in its own process group, which
//     cancelling ctx kills at once (node and its esbuild helper), and which
//     dies with guard however guard dies (kill -9 included, on Linux), so no
//     orphan keeps deploying. A terminal's Ctrl-C therefore reaches wrangler
//     only through the caller's context.
//
// Arguments are always passed as separate argv entries and flags in their
// "--flag=value" form, so a message beginning with "-" stays a value; no shell
// is ever involved.
package wrangler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-version"

	"github.com/guardcm/guard/internal/proc"
)

// MinVersion is the oldest wrangler guard drives. Guard depends on the
// versions-based deploy and rollback flows (deploy --message/--tag written to
// the version's annotations, `rollback <version-id> --message`, the "deploy"
// record with version_id in WRANGLER_OUTPUT_FILE_PATH, `deployments list
// --json`); wrangler 3 still printed the legacy "Current Deployment ID" and
// routed some commands through the older deployments API, while every 4.x
// release has these flows. The end-to-end tests pin 4.86.0.
const MinVersion = "4.0.0"

// tailSize is how much of each output stream is kept.
const tailSize = 64 << 10

// Runner runs wrangler. The zero value is not usable: Command must be set
// (see Locate).
type Runner struct {
	// Command is the program and leading arguments, e.g.
	// {"/repo/node_modules/.bin/wrangler"} or {"npx", "wrangler"}.
	Command []string
	// Dir is the working directory (the worker's project).
	Dir string
	// Env holds extra KEY=VALUE entries; they override the inherited
	// environment and the non-interactive defaults.
	Env []string
	// Stdout and Stderr receive wrangler's output live; nil discards it. If
	// both are the same writer it is only written by one goroutine at a time.
	Stdout, Stderr io.Writer
}

// ForAccount is a Runner that acts on a Cloudflare account: the token and
// account reach wrangler through its environment only (never arguments,
// which other users can read), and the token is scrubbed from everything
// wrangler prints.
func ForAccount(command []string, dir, token, account string, stdout, stderr io.Writer) *Runner {
	return &Runner{
		Command: command,
		Dir:     dir,
		Env:     []string{"CLOUDFLARE_API_TOKEN=" + token, "CLOUDFLARE_ACCOUNT_ID=" + account},
		Stdout:  stdout,
		Stderr:  stderr,
	}
}

// Error is a failed wrangler run.
type Error struct {
	// Command is the wrangler subcommand, e.g. "wrangler deploy".
	Command string
	// ExitCode is the exit status, or -1 when wrangler did not run to
	// completion (not found, killed, context ended).
	ExitCode int
	// Message is wrangler's own account of the failure (its command-failed
	// record or ✘ [ERROR] lines), token removed.
	Message string
	// Stderr is the last 64 KiB of stderr, ANSI colours stripped, token
	// removed.
	Stderr string
	// LogDir holds wrangler's debug log of a failed run (kept for the
	// post-mortem; removed on success). Empty when Runner.Env chose the
	// log path.
	LogDir string
	// Err is the underlying cause (exit status, exec or context error).
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Command)
	if e.ExitCode >= 0 {
		fmt.Fprintf(&b, " failed with exit status %d", e.ExitCode)
	} else {
		b.WriteString(" failed")
		if e.Err != nil {
			b.WriteString(": ")
			b.WriteString(e.Err.Error())
		}
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if tail := lastBytes(strings.TrimSpace(e.Stderr), 4<<10); tail != "" {
		b.WriteString("\nwrangler stderr:\n")
		b.WriteString(tail)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "…\n" + s
}

// result is the outcome of one successful-or-not run.
type result struct {
	stdout  string // last 64 KiB, ANSI stripped, scrubbed
	stderr  string
	records []map[string]any // WRANGLER_OUTPUT_FILE_PATH records
	logDir  string
}

// run executes wrangler with args. It returns *Error when wrangler cannot
// start or exits non-zero; a command-failed record fills Error.Message.
func (r *Runner) run(ctx context.Context, name string, args ...string) (*result, error) {
	if len(r.Command) == 0 || r.Command[0] == "" {
		return nil, &Error{Command: name, ExitCode: -1, Err: errors.New("no wrangler command configured")}
	}
	tmp, err := os.MkdirTemp("", "guard-wrangler-*")
	if err != nil {
		return nil, &Error{Command: name, ExitCode: -1, Err: err}
	}
	logDir := filepath.Join(tmp, "logs")
	outFile := filepath.Join(tmp, "output.ndjson")
	keepLogs := false
	defer func() {
		if keepLogs {
			_ = os.Remove(outFile)
			return
		}
		_ = os.RemoveAll(tmp)
	}()

	env := append(os.Environ(),
		"CI=true",
		"WRANGLER_SEND_METRICS=false",
		"WRANGLER_HIDE_BANNER=true",
		"WRANGLER_SEND_ERROR_REPORTS=false",
		"WRANGLER_LOG_PATH="+logDir,
	)
	env = append(env, r.Env...)
	env = append(env, "GUARD=1", "WRANGLER_OUTPUT_FILE_PATH="+outFile)
	token := lookupEnv(env, "CLOUDFLARE_API_TOKEN")
	if lookupEnv(env, "WRANGLER_LOG_PATH") != logDir {
		logDir = ""
	}

	cmd := exec.CommandContext(ctx, r.Command[0], append(append([]string(nil), r.Command[1:]...), args...)...)
	cmd.Dir = r.Dir
	cmd.Env = env
	cmd.Stdin = nil // the null device: wrangler sees no TTY and never prompts
	cmd.WaitDelay = 5 * time.Second
	proc.Tether(cmd)

	stdoutW, stderrW := r.Stdout, r.Stderr
	if stdoutW != nil && stdoutW == stderrW {
		lw := &lockedWriter{w: stdoutW}
		stdoutW, stderrW = lw, lw
	}
	outTail, errTail := &tail{max: tailSize}, &tail{max: tailSize}
	outScrub := newScrubWriter(multi(stdoutW, outTail), token)
	errScrub := newScrubWriter(multi(stderrW, errTail), token)
	cmd.Stdout, cmd.Stderr = outScrub, errScrub

	runErr := cmd.Run()
	_ = outScrub.Flush()
	_ = errScrub.Flush()

	res := &result{
		stdout: stripANSI(outTail.String()),
		stderr: stripANSI(errTail.String()),
		logDir: logDir,
	}
	if data, err := os.ReadFile(outFile); err == nil {
		res.records = parseRecords(scrub(string(data), token))
	}
	if runErr == nil {
		return res, nil
	}
	keepLogs = logDir != ""
	if !keepLogs {
		res.logDir = ""
	}
	werr := &Error{Command: name, ExitCode: -1, Stderr: res.stderr, LogDir: res.logDir, Err: scrubErr(runErr, token)}
	var exitErr *exec.ExitError
	if errors.As(runErr, &exitErr) && ctx.Err() == nil {
		werr.ExitCode = exitErr.ExitCode()
	}
	if ctx.Err() != nil {
		werr.Err = ctx.Err()
	}
	werr.Message = failureMessage(res)
	return res, werr
}

// scrubErr returns err with the token removed from its text, keeping the
// error chain when the text is clean.
func scrubErr(err error, token string) error {
	if token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	return errors.New(scrub(err.Error(), token))
}

func lookupEnv(env []string, key string) string {
	val := ""
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			val = v // the last one wins, as in os/exec
		}
	}
	return val
}

var semverRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\b(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)\b`) })

// Version runs `wrangler --version` and parses the first version number it
// prints.
func (r *Runner) Version(ctx context.Context) (*version.Version, error) {
	// Starting node to ask costs ~0.8 s, a lot on an incident's clock; an
	// npm-installed wrangler states its version in its package.json.
	if v := installedVersion(r.Command); v != nil {
		return v, nil
	}
	res, err := r.run(ctx, "wrangler --version", "--version")
	if err != nil {
		return nil, err
	}
	m := semverRE().FindStringSubmatch(res.stdout)
	if m == nil {
		return nil, &Error{Command: "wrangler --version", ExitCode: 0, Message: fmt.Sprintf("no version number in its output %q", strings.TrimSpace(lastBytes(res.stdout, 200)))}
	}
	v, err := version.NewVersion(m[1])
	if err != nil {
		return nil, &Error{Command: "wrangler --version", ExitCode: 0, Message: fmt.Sprintf("version %q: %v", m[1], err)}
	}
	return v, nil
}

// installedVersion reads the version of an npm-installed wrangler from its
// package.json when the command is node_modules/.bin/wrangler (a link to
// node_modules/wrangler/bin/wrangler.js); nil when that is not the case.
func installedVersion(command []string) *version.Version {
	if len(command) != 1 {
		return nil
	}
	target, err := filepath.EvalSymlinks(command[0])
	if err != nil || filepath.Base(target) != "wrangler.js" || filepath.Base(filepath.Dir(target)) != "bin" {
		return nil
	}
	pkgDir := filepath.Dir(filepath.Dir(target))
	data, err := os.ReadFile(filepath.Join(pkgDir, "package.json"))
	if err != nil {
		return nil
	}
	var pkg struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	if json.Unmarshal(data, &pkg) != nil || pkg.Name != "wrangler" {
		return nil
	}
	v, err := version.NewVersion(pkg.Version)
	if err != nil {
		return nil
	}
	return v
}

// CheckVersion returns wrangler's version, or an error when it is older than
// MinVersion.
func (r *Runner) CheckVersion(ctx context.Context) (*version.Version, error) {
	v, err := r.Version(ctx)
	if err != nil {
		return nil, err
	}
	if v.LessThan(version.Must(version.NewVersion(MinVersion))) {
		return v, fmt.Errorf("wrangler %s is older than %s, the oldest version guard supports", v, MinVersion)
	}
	return v, nil
}

// lockedWriter serialises writes from the stdout and stderr copiers when
// both go to the same writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func multi(user io.Writer, t *tail) io.Writer {
	if user == nil {
		return t
	}
	return &teeWriter{user: user, tail: t}
}

// teeWriter writes to the tail always and to the user's writer until that
// fails: a closed terminal must not kill a deploy half-way.
type teeWriter struct {
	user   io.Writer
	tail   *tail
	broken bool
}

func (t *teeWriter) Write(p []byte) (int, error) {
	t.tail.Write(p)
	if !t.broken {
		if _, err := t.user.Write(p); err != nil {
			t.broken = true
		}
	}
	return len(p), nil
}

// tail keeps the last max bytes written.
type tail struct {
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	if len(t.buf) > t.max {
		return string(t.buf[len(t.buf)-t.max:])
	}
	return string(t.buf)
}

var ansiRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]`)
})

// stripANSI removes terminal escape sequences (wrangler colours stderr even
// with NO_COLOR).
func stripANSI(s string) string { return ansiRE().ReplaceAllString(s, "") }

const redacted = "[REDACTED]"

func scrub(s, token string) string {
	if token == "" {
		return s
	}
	return strings.ReplaceAll(s, token, redacted)
}

// scrubWriter replaces the token in a stream, holding back a trailing piece
// that could be the start of the token split across two writes.
type scrubWriter struct {
	w       io.Writer
	secret  []byte
	pending []byte
}

func newScrubWriter(w io.Writer, token string) *scrubWriter {
	return &scrubWriter{w: w, secret: []byte(token)}
}

func (s *scrubWriter) Write(p []byte) (int, error) {
	if len(s.secret) == 0 {
		if _, err := s.w.Write(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	buf := append(s.pending, p...)
	buf = bytes.ReplaceAll(buf, s.secret, []byte(redacted))
	hold := partialSuffix(buf, s.secret)
	out := buf[:len(buf)-hold]
	s.pending = append([]byte(nil), buf[len(buf)-hold:]...)
	if len(out) > 0 {
		if _, err := s.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes what was held back; at the end of the stream it cannot be the
// token any more.
func (s *scrubWriter) Flush() error {
	if len(s.pending) == 0 {
		return nil
	}
	_, err := s.w.Write(s.pending)
	s.pending = nil
	return err
}

// partialSuffix returns the length of the longest suffix of buf that is a
// proper prefix of secret.
func partialSuffix(buf, secret []byte) int {
	for n := min(len(secret)-1, len(buf)); n > 0; n-- {
		if bytes.Equal(buf[len(buf)-n:], secret[:n]) {
			return n
		}
	}
	return 0
}
