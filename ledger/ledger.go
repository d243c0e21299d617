// Package ledger is guard's record of what went to production.
//
// Contract:
//   - The ledger is a JSON Lines file under the repository's common git
//     directory (DefaultPath), never a tracked file, so deploying never dirties
//     the tree, and linked worktrees share one history.
//   - It is append-only and tamper-evident: every line carries the SHA-256 of
//     the previous line's exact bytes (Prev), and a strictly increasing Seq.
//     Editing, removing or reordering a line breaks the chain at a place that
//     Verify names. (The last line has no successor, so an edit of it alone
//     is only caught by comparing with its copy in the shared git notes.)
//   - Append is safe across processes: it serialises on an exclusive flock of
//     a sibling lock file, writes one line with O_APPEND and fsyncs. A crash
//     mid-write leaves a truncated line that is kept — never repaired or
//     dropped — and reported by Verify; the next Append starts a fresh line
//     after it and chains to its bytes.
//   - A deploy writes a "pending" record before wrangler runs and an outcome
//     record (Outcome: Ref = the pending Seq) afterwards; Latest pairs them,
//     and a pending record without an outcome is a crash to reconcile.
//   - Final records are shared with the team as git notes on the deployed
//     commit (NotesRef; Share adds and pushes one), pushed and fetched with
//     bounded time; the Cloudflare API and the remote are the shared state,
//     there is no extra server.
//   - Deploys of one worker are serialised by AcquireLock, a flock the kernel
//     releases when its holder dies.
package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/rollout"
)

// Record kinds, statuses and verification results.
const (
	KindDeploy   = "deploy"
	KindRollback = "rollback"

	StatusPending   = "pending"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"

	VerifiedGood       = "good"
	VerifiedBad        = "bad"
	VerifiedUnverified = "unverified"
)

// Record is one ledger line. Field order is the order on disk.
type Record struct {
	Seq    int       `json:"seq"`
	Time   time.Time `json:"time"` // UTC, RFC 3339 with nanoseconds
	Kind   string    `json:"kind"`
	Status string    `json:"status"`
	// Ref is the Seq of the pending record this outcome completes.
	Ref             int      `json:"ref,omitempty"`
	Worker          string   `json:"worker"`
	Env             string   `json:"env"`
	Account         string   `json:"account"`
	Commit          string   `json:"commit"`
	Tree            string   `json:"tree"`
	Categories      []string `json:"categories"`
	VersionID       string   `json:"version_id"`
	DeploymentID    string   `json:"deployment_id"`
	WranglerVersion string   `json:"wrangler_version"`
	Operator        string   `json:"operator"`
	// Isolation is where wrangler built from: "pristine" (a checkout of
	// Commit alone) or "checkout" (the working directory).
	Isolation string `json:"isolation,omitempty"`
	// TeamLock is "held" (the team-wide lease on the remote), "off", or
	// "unavailable: <why>" (best-effort, offline); BrokeLock describes an
	// expired lease this deploy broke (guard deploy --break-lock).
	TeamLock  string `json:"team_lock,omitempty"`
	BrokeLock string `json:"broke_lock,omitempty"`
	// Untracked lists the untracked files present under --allow-untracked:
	// not deployed with isolation "pristine", shipped with "checkout".
	Untracked []string `json:"untracked,omitempty"`
	// BundleSHA256 and Bundle are the SHA-256 of what wrangler uploaded
	// (its --outdir: the manifest's and each file's; see pristine.Bundle).
	BundleSHA256 string            `json:"bundle_sha256,omitempty"`
	Bundle       map[string]string `json:"bundle,omitempty"`
	Verified     string            `json:"verified,omitempty"`
	FromVersion  string            `json:"from_version,omitempty"`
	FromCommit   string            `json:"from_commit,omitempty"`
	Reason       string            `json:"reason,omitempty"`
	Error        string            `json:"error,omitempty"`
	// Warning is what went wrong without changing the outcome (wrangler
	// failed after the deployment it made was already serving).
	Warning     string            `json:"warning,omitempty"`
	D1Bookmarks map[string]string `json:"d1_bookmarks,omitempty"`
	RecordFile  string            `json:"record_file,omitempty"`
	// Reconciled marks an outcome that guard did not see happen: written
	// later (guard history) from what the Cloudflare API showed, after the
	// process that wrote the pending record died before its outcome.
	Reconciled bool `json:"reconciled,omitempty"`
	// Ledger is the ID of the ledger that wrote the record (IDKey): which
	// clone's ledger a shared copy belongs to.
	Ledger string `json:"ledger,omitempty"`
	// Signature is the deployer's SSH signature of the shared copy
	// ([ledger] signing = "ssh"; see sign.go); the ledger's own line has
	// none.
	Signature string `json:"signature,omitempty"`
	// Rollout is a gradual deploy's state (guard deploy --gradual): the
	// steps, the deployment each made, the step reached or failed at. A
	// pending record with a rollout is finished by guard deploy --resume
	// or --abort, never reconciled by guard history.
	Rollout *rollout.State `json:"rollout,omitempty"`
	// Prev is the hex SHA-256 of the previous line's bytes (without its
	// newline); "" for the first line.
	Prev string `json:"prev"`
}

// DefaultPath is where a repository keeps its ledger: under the common git
// directory, so it is never tracked and all linked worktrees share it.
func DefaultPath(repo *gitx.Repo) string {
	return filepath.Join(repo.CommonDir, "guard", "ledger.jsonl")
}

// Ledger is one ledger file. It holds no open files, so a zero-cost value
// per command is fine.
type Ledger struct {
	path string
}

// Open names the ledger at path; the file is created by the first Append.
func Open(path string) *Ledger { return &Ledger{path: path} }

// Path is the ledger file's path.
func (l *Ledger) Path() string { return l.path }

func (l *Ledger) lockPath() string { return l.path + ".lock" }

// Problem is one defect Verify found. Line is 1-based.
type Problem struct {
	Line int
	// Kind is "truncated", "bad-json", "broken-chain" or "seq-gap".
	Kind    string
	Message string
}

func (p Problem) String() string { return fmt.Sprintf("line %d: %s: %s", p.Line, p.Kind, p.Message) }

// Problem kinds.
const (
	ProblemTruncated   = "truncated"
	ProblemBadJSON     = "bad-json"
	ProblemBrokenChain = "broken-chain"
	ProblemSeqGap      = "seq-gap"
)

func validate(rec Record) error {
	switch rec.Kind {
	case KindDeploy, KindRollback:
	default:
		return fmt.Errorf("ledger record: kind %q is not %q or %q", rec.Kind, KindDeploy, KindRollback)
	}
	switch rec.Status {
	case StatusPending, StatusSucceeded, StatusFailed:
	default:
		return fmt.Errorf("ledger record: status %q is not %q, %q or %q", rec.Status, StatusPending, StatusSucceeded, StatusFailed)
	}
	switch rec.Verified {
	case "", VerifiedGood, VerifiedBad, VerifiedUnverified:
	default:
		return fmt.Errorf("ledger record: verified %q is not %q, %q or %q", rec.Verified, VerifiedGood, VerifiedBad, VerifiedUnverified)
	}
	if rec.Ref < 0 {
		return fmt.Errorf("ledger record: negative ref %d", rec.Ref)
	}
	return nil
}

// marshal encodes rec as one line without its newline. Struct field order
// and encoding/json's sorted map keys make it deterministic.
func marshal(rec Record) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rec); err != nil {
		return nil, fmt.Errorf("ledger record: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func hashLine(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:])
}

// parseLine decodes one line. On failure it returns the problem kind
// (truncated or bad-json) and a message.
func parseLine(line []byte) (Record, string, string) {
	var rec Record
	err := json.Unmarshal(line, &rec)
	if err == nil {
		if rec.Seq < 1 {
			return Record{}, ProblemBadJSON, "record without a positive seq"
		}
		return rec, "", ""
	}
	// A proper prefix of a JSON value is what an interrupted write leaves.
	dec := json.NewDecoder(bytes.NewReader(line))
	var raw json.RawMessage
	switch derr := dec.Decode(&raw); {
	case errors.Is(derr, io.ErrUnexpectedEOF):
		return Record{}, ProblemTruncated, "incomplete record (a write was interrupted)"
	case errors.Is(derr, io.EOF):
		return Record{}, ProblemBadJSON, "empty line"
	}
	return Record{}, ProblemBadJSON, "not a ledger record: " + err.Error()
}

// splitLines splits the file into lines without their newlines; a final
// newline does not start another line, so a file that ends without one has
// an unterminated last line.
func splitLines(data []byte) [][]byte {
	if len(data) == 0 {
		return nil
	}
	lines := bytes.Split(data, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// Append adds rec as the next line and returns it as written (with Seq, Prev
// and Time set). Seq and Prev given by the caller are ignored.
func (l *Ledger) Append(rec Record) (Record, error) {
	if err := validate(rec); err != nil {
		return Record{}, err
	}
	dir := filepath.Dir(l.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Record{}, fmt.Errorf("ledger: %w", err)
	}
	lf, err := os.OpenFile(l.lockPath(), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return Record{}, fmt.Errorf("ledger: %w", err)
	}
	defer lf.Close() // closing releases the flock
	if err := flockWait(lf); err != nil {
		return Record{}, fmt.Errorf("ledger: lock %s: %w", l.lockPath(), err)
	}

	created := false
	if _, err := os.Stat(l.path); errors.Is(err, os.ErrNotExist) {
		created = true
	}
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return Record{}, fmt.Errorf("ledger: %w", err)
	}
	defer f.Close()

	t, err := readTail(f)
	if err != nil {
		return Record{}, fmt.Errorf("ledger %s: %w", l.path, err)
	}
	if t.lastSeq == math.MaxInt {
		return Record{}, fmt.Errorf("ledger %s: seq overflow", l.path)
	}
	id, err := l.ensureID(t.lastID)
	if err != nil {
		return Record{}, err
	}
	rec.Ledger = id
	rec.Seq = t.lastSeq + 1
	if rec.Ref >= rec.Seq {
		return Record{}, fmt.Errorf("ledger record: ref %d does not name an earlier record (next seq is %d)", rec.Ref, rec.Seq)
	}
	rec.Prev = ""
	if t.hasLine {
		rec.Prev = hashLine(t.lastLine)
	}
	if rec.Time.IsZero() {
		rec.Time = time.Now()
	}
	rec.Time = rec.Time.UTC()
	if rec.Categories == nil {
		rec.Categories = []string{}
	}
	line, err := marshal(rec)
	if err != nil {
		return Record{}, err
	}
	out := make([]byte, 0, len(line)+2)
	if t.hasLine && !t.terminated {
		// A crash left a partial line: keep it as evidence and start anew.
		out = append(out, '\n')
	}
	out = append(out, line...)
	out = append(out, '\n')
	if _, err := f.Write(out); err != nil {
		return Record{}, fmt.Errorf("ledger %s: %w", l.path, err)
	}
	if err := f.Sync(); err != nil {
		return Record{}, fmt.Errorf("ledger %s: fsync: %w", l.path, err)
	}
	if created {
		if err := syncDir(dir); err != nil {
			return Record{}, fmt.Errorf("ledger %s: fsync directory: %w", l.path, err)
		}
	}
	return rec, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

type tail struct {
	hasLine    bool
	lastLine   []byte // the file's last line, without newline
	terminated bool   // the file ends with a newline
	lastSeq    int    // Seq of the last valid record, 0 when none
	lastID     string // Ledger of the last valid record
}

const tailChunk = 8 << 10

// readTail reads only the end of the file in the common case (the last line
// is a valid record), so Append stays O(1) in the ledger's size.
func readTail(f *os.File) (tail, error) {
	st, err := f.Stat()
	if err != nil {
		return tail{}, err
	}
	size := st.Size()
	if size == 0 {
		return tail{}, nil
	}
	var buf []byte
	off := size
	for {
		n := int64(tailChunk)
		if n > off {
			n = off
		}
		off -= n
		chunk := make([]byte, n, int64(len(buf))+n)
		if _, err := f.ReadAt(chunk, off); err != nil {
			return tail{}, err
		}
		buf = append(chunk, buf...)
		body := buf
		if body[len(body)-1] == '\n' {
			body = body[:len(body)-1]
		}
		if i := bytes.LastIndexByte(body, '\n'); i >= 0 || off == 0 {
			t := tail{hasLine: true, lastLine: body[i+1:], terminated: buf[len(buf)-1] == '\n'}
			if rec, kind, _ := parseLine(t.lastLine); kind == "" {
				t.lastSeq, t.lastID = rec.Seq, rec.Ledger
				return t, nil
			}
			// The last line is damaged: find the last valid record the
			// slow way, exactly as Verify sees the file.
			all := make([]byte, size)
			if _, err := f.ReadAt(all, 0); err != nil {
				return tail{}, err
			}
			lines := splitLines(all)
			for j := len(lines) - 1; j >= 0; j-- {
				if rec, kind, _ := parseLine(lines[j]); kind == "" {
					t.lastSeq, t.lastID = rec.Seq, rec.Ledger
					break
				}
			}
			return t, nil
		}
	}
}

func (l *Ledger) read() ([]byte, error) {
	data, err := os.ReadFile(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return data, nil
}

// Records returns every valid record in file order. Damaged lines (a
// truncated last line after a crash, an edited line that no longer parses)
// are skipped here; Verify reports them. A missing file is an empty ledger.
func (l *Ledger) Records() ([]Record, error) {
	data, err := l.read()
	if err != nil {
		return nil, err
	}
	var res []Record
	for _, line := range splitLines(data) {
		if rec, kind, _ := parseLine(line); kind == "" {
			res = append(res, rec)
		}
	}
	return res, nil
}

// Verify checks every line: that it parses, that its Prev is the hash of the
// line before it, and that Seq counts up by one. A line whose successor's
// Prev does not match is reported as edited (broken-chain on that line).
// Problems come in line order; a missing file has none.
func (l *Ledger) Verify() ([]Problem, error) {
	data, err := l.read()
	if err != nil {
		return nil, err
	}
	return verifyLines(splitLines(data)), nil
}

func verifyLines(lines [][]byte) []Problem {
	var probs []Problem
	lastSeq, lastSeqLine := 0, 0
	for i, line := range lines {
		n := i + 1
		rec, kind, msg := parseLine(line)
		if kind != "" {
			if kind == ProblemTruncated && i == len(lines)-1 {
				msg = "last line is incomplete (a write was interrupted); the records before it are intact"
			}
			probs = append(probs, Problem{Line: n, Kind: kind, Message: msg})
			continue
		}
		switch {
		case i == 0 && rec.Prev != "":
			probs = append(probs, Problem{Line: n, Kind: ProblemBrokenChain,
				Message: "the first line has a prev hash: the lines before it were removed"})
		case i > 0 && rec.Prev != hashLine(lines[i-1]):
			probs = append(probs, Problem{Line: n - 1, Kind: ProblemBrokenChain,
				Message: fmt.Sprintf("line %d was edited, or lines after it were removed or inserted: line %d's prev hash does not match it", n-1, n)})
		}
		if rec.Seq != lastSeq+1 {
			where := "the start"
			if lastSeqLine > 0 {
				where = fmt.Sprintf("seq %d on line %d", lastSeq, lastSeqLine)
			}
			probs = append(probs, Problem{Line: n, Kind: ProblemSeqGap,
				Message: fmt.Sprintf("seq %d follows %s: records were removed or reordered", rec.Seq, where)})
		}
		lastSeq, lastSeqLine = rec.Seq, n
	}
	sort.SliceStable(probs, func(a, b int) bool { return probs[a].Line < probs[b].Line })
	return probs
}

// Outcome starts the record that completes pending: a copy whose Ref is
// pending's Seq, with Seq, Prev and Time cleared for Append to fill. The
// caller sets the status and what the operation learnt.
func Outcome(pending Record) Record {
	rec := pending
	rec.Seq, rec.Prev, rec.Time = 0, "", time.Time{}
	rec.Ref = pending.Seq
	return rec
}

// Latest resolves each deploy or rollback to its final state: for every
// pending record, the last record whose Ref names it (or the pending record
// itself when no outcome was written — a crash to reconcile). A final record
// written without a pending one (Ref 0) stands for itself. Keys are the Seq
// of the pending record (or of the standalone record).
func Latest(records []Record) map[int]Record {
	res := make(map[int]Record)
	for _, r := range records {
		if r.Ref == 0 {
			if _, done := res[r.Seq]; !done {
				res[r.Seq] = r
			}
			continue
		}
		if prev, ok := res[r.Ref]; ok && prev.Ref != 0 && prev.Seq > r.Seq {
			continue
		}
		res[r.Ref] = r
	}
	return res
}
