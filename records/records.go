// Package records writes, reads and judges the emergency-change records
// that the change-management policy requires within 24 hours of an
// emergency change (control A.8.32): one Markdown file per change, in the
// folder set by [rollback] records_dir (default docs/changes/emergency).
//
// Contract:
//   - A record is Markdown with a front matter block between "---" lines:
//     one "key: value" per line, values plain or double-quoted (JSON/YAML
//     escapes) or single-quoted. Write produces exactly the keys the policy
//     asks for, in a fixed order; Parse accepts what a person may do to the
//     file by hand (comments, extra keys, quoting styles, CRLF, a BOM) and
//     rejects anything else with a *ParseError located as file:line.
//   - The body has the sections Summary, Impact, Timeline, Root cause,
//     Follow-up and Approval; each one guard cannot fill holds the marker
//     TODO. A record is documented when no TODO is left in its body; until
//     then it is open, and overdue once its due time (opened + 24 h) has
//     passed. Time is always passed in (State(now)): nothing here reads the
//     clock, so callers (and tests) decide what "now" is.
//   - Create never overwrites: it opens the file with O_EXCL and, when the
//     name is taken (a second rollback in the same minute), tries -2, -3 …
//   - The range checks (FutureDateCheck, OverdueCheck, CommitRecordCheck) plug into the
//     pre-push hook and `guard check` through hooks.RangeCheck.
package records

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/guardcm/guard/internal/gitx"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// Fixed front-matter values and the policy's deadline.
const (
	Category = "emergency"
	Control  = "A.8.32"
	// DueAfter is how long after an emergency change its record may stay
	// incomplete: the policy's "document within 24h".
	DueAfter = 24 * time.Hour
	// Marker is what every unfilled part of a record holds.
	Marker = "TODO"
)

// Kinds of record, by what opened them.
const (
	KindRollback = "rollback"  // guard rollback
	KindCommit   = "emergency" // an emergency-category commit was pushed
)

// State is where a record stands.
type State string

// States of a record.
const (
	StateOpen       State = "open"       // TODO left, before the due time
	StateOverdue    State = "overdue"    // TODO left, past the due time
	StateDocumented State = "documented" // no TODO left
)

// Record is one emergency-change record.
type Record struct {
	// Path is the file, relative to the repository root with forward
	// slashes when it lies inside it (set by Create, Parse and List).
	Path     string `json:"file"`
	Category string `json:"category"`
	Control  string `json:"control"`
	// Opened and Due are UTC, whole seconds.
	Opened time.Time `json:"opened"`
	Due    time.Time `json:"due"`

	Change

	// Extra holds front-matter keys guard does not know (added by hand),
	// in file order.
	Extra []Field `json:"-"`
	// TODO lists the body lines (1-based, in the file) that still hold the
	// marker.
	TODO []int `json:"todo_lines"`

	// rollback is set by NewRollback, or by Parse when any rollback key is
	// present, so that an empty env still renders.
	rollback bool
	// opened and due hold the raw values while Parse reads the file.
	opened, due string
}

// Change is what a record says the change was: the front-matter fields
// after opened and due. Its JSON is the record's part of `guard changes
// --format json`.
type Change struct {
	// Rollback fields.
	Worker       string `json:"worker,omitempty"`
	Env          string `json:"env,omitempty"`
	FromVersion  string `json:"from_version,omitempty"`
	ToVersion    string `json:"to_version,omitempty"`
	FromCommit   string `json:"from_commit,omitempty"`
	ToCommit     string `json:"to_commit,omitempty"`
	DeploymentID string `json:"deployment_id,omitempty"`

	// Emergency-commit fields.
	Commit  string `json:"commit,omitempty"`
	Subject string `json:"subject,omitempty"`

	Operator string `json:"operator,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// Field is one front-matter line.
type Field struct {
	Key, Value string
	Line       int
}

// Kind is KindRollback or KindCommit.
func (r *Record) Kind() string {
	if r.rollback {
		return KindRollback
	}
	return KindCommit
}

// State is the record's state at now.
func (r *Record) State(now time.Time) State {
	switch {
	case len(r.TODO) == 0:
		return StateDocumented
	case now.After(r.Due):
		return StateOverdue
	}
	return StateOpen
}

func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// NewRollback starts the record of a rollback opened at opened.
func NewRollback(opened time.Time) *Record {
	o := stamp(opened)
	return &Record{Category: Category, Control: Control, Opened: o, Due: o.Add(DueAfter), rollback: true}
}

// NewCommit starts the record of an emergency commit opened at opened.
func NewCommit(opened time.Time) *Record {
	o := stamp(opened)
	return &Record{Category: Category, Control: Control, Opened: o, Due: o.Add(DueAfter)}
}

var unsafeName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^A-Za-z0-9._-]+`) })

func namepart(s string, n int) string {
	s = strings.Trim(unsafeName().ReplaceAllString(s, "-"), "-.")
	if len(s) > n {
		s = s[:n]
	}
	if s == "" {
		s = "unknown"
	}
	return s
}

// ShortVersion is how a version ID appears in file names and messages.
func ShortVersion(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// ShortCommit is how a commit appears in file names and messages.
func ShortCommit(h string) string { return gitx.ShortHash(h) }

// FileName is the record's file name before any collision suffix:
// YYYY-MM-DD-HHMM-rollback-<worker>-<short version>.md or
// YYYY-MM-DD-HHMM-emergency-<short sha>.md.
func (r *Record) FileName() string {
	ts := r.Opened.UTC().Format("2006-01-02-1504")
	if r.rollback {
		return fmt.Sprintf("%s-rollback-%s-%s.md", ts, namepart(r.Worker, 64), namepart(ShortVersion(r.ToVersion), 8))
	}
	return fmt.Sprintf("%s-emergency-%s.md", ts, namePart12(r.Commit))
}

func namePart12(h string) string { return namepart(ShortCommit(h), 12) }

// Event is one line of a record's timeline.
type Event struct {
	Time time.Time
	Text string
}

// frontMatter is the record's keys in the order they are written.
func (r *Record) frontMatter() []Field {
	f := []Field{
		{Key: "category", Value: r.Category},
		{Key: "control", Value: r.Control},
		{Key: "opened", Value: r.Opened.UTC().Format(time.RFC3339)},
		{Key: "due", Value: r.Due.UTC().Format(time.RFC3339)},
	}
	if r.rollback {
		f = append(f,
			Field{Key: "worker", Value: r.Worker},
			Field{Key: "env", Value: r.Env},
			Field{Key: "from_version", Value: r.FromVersion},
			Field{Key: "to_version", Value: r.ToVersion},
			Field{Key: "from_commit", Value: r.FromCommit},
			Field{Key: "to_commit", Value: r.ToCommit},
			Field{Key: "deployment_id", Value: r.DeploymentID},
		)
	}
	// A rollback record has no commit of its own, but one edited by hand
	// may name one: keep what is there.
	if !r.rollback || r.Commit != "" || r.Subject != "" {
		f = append(f, Field{Key: "commit", Value: r.Commit}, Field{Key: "subject", Value: r.Subject})
	}
	f = append(f, Field{Key: "operator", Value: r.Operator}, Field{Key: "reason", Value: r.Reason})
	return append(f, r.Extra...)
}

// Render returns the record's Markdown: the front matter, then the
// sections, the timeline pre-filled with events, every other section TODO.
func (r *Record) Render(timeline []Event) []byte {
	var b bytes.Buffer
	b.WriteString("---\n")
	for _, f := range r.frontMatter() {
		fmt.Fprintf(&b, "%s: %s\n", f.Key, quote(f.Key, f.Value))
	}
	b.WriteString("---\n\n")
	if r.rollback {
		env := r.Env
		if env == "" {
			env = "top level"
		}
		fmt.Fprintf(&b, "# Emergency change: rollback of %s (%s) to version %s\n\n", oneLine(r.Worker), oneLine(env), ShortVersion(r.ToVersion))
		b.WriteString("The worker was rolled back with `guard rollback`. The policy classes this as an\n")
		b.WriteString("emergency change: deployed first, documented within 24 hours (control A.8.32).\n")
		b.WriteString("Fill in the placeholders below, then commit this file.\n\n")
	} else {
		fmt.Fprintf(&b, "# Emergency change: %s\n\n", oneLine(r.Subject))
		fmt.Fprintf(&b, "Commit %s was pushed as an emergency change. The policy requires it to be\n", ShortCommit(r.Commit))
		b.WriteString("documented within 24 hours (control A.8.32). Fill in the placeholders below,\nthen commit this file.\n\n")
	}
	b.WriteString("## Summary\n\nTODO: what broke, what was done about it, and the state now.\n\n")
	b.WriteString("## Impact\n\nTODO: who and what was affected, and for how long.\n\n")
	b.WriteString("## Timeline\n\nAll times UTC.\n\n")
	for _, e := range timeline {
		fmt.Fprintf(&b, "- %s — %s\n", e.Time.UTC().Format(time.RFC3339), oneLine(e.Text))
	}
	b.WriteString("- TODO: when the problem started, when it was detected, and by whom.\n\n")
	b.WriteString("## Root cause\n\nTODO\n\n")
	b.WriteString("## Follow-up\n\nTODO: the fix (pull request), and any data or schema repair.\n\n")
	b.WriteString("## Approval\n\nTODO: approved after the fact by (name), on (date).\n")
	return b.Bytes()
}

// oneLine keeps generated Markdown lines single lines whatever the input.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// plain matches values written without quotes: words that no YAML reader
// takes for anything but a string.
var plain = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+/-]*$`) })

var yamlWords = map[string]bool{
	"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true,
	"y": true, "n": true, "null": true, ".nan": true, ".inf": true,
}

func quote(key, v string) string {
	if key == "opened" || key == "due" {
		return v // RFC 3339: a YAML timestamp, which is what it is
	}
	if plain().MatchString(v) && !yamlWords[strings.ToLower(v)] && strings.Trim(v, "0123456789.eE+-_") != "" {
		return v
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// Create writes r into dir (created if missing) under r.FileName(), never
// replacing a file: when the name is taken it tries name-2.md, name-3.md …
// It returns the path written, also set as r.Path relative to root when dir
// lies inside root.
func Create(root, dir string, r *Record, timeline []Event) (string, error) {
	abs := dir
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(root, filepath.FromSlash(dir))
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", fmt.Errorf("emergency-change record: %w", err)
	}
	data := r.Render(timeline)
	base := strings.TrimSuffix(r.FileName(), ".md")
	for n := 1; n <= 1000; n++ {
		name := base + ".md"
		if n > 1 {
			name = fmt.Sprintf("%s-%d.md", base, n)
		}
		p := filepath.Join(abs, name)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("emergency-change record: %w", err)
		}
		_, werr := f.Write(data)
		serr := f.Sync()
		cerr := f.Close()
		if err := errors.Join(werr, serr, cerr); err != nil {
			return "", fmt.Errorf("emergency-change record %s: %w", p, err)
		}
		r.Path = relPath(root, p)
		r.TODO = todoLines(data)
		return p, nil
	}
	return "", fmt.Errorf("emergency-change record: %s and 999 numbered variants already exist in %s", base+".md", abs)
}

func relPath(root, p string) string {
	if root == "" {
		return filepath.ToSlash(p)
	}
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(rel)
}

// List reads every record (*.md directly in dir, README.md excepted) below
// root. A missing folder holds no records. Files that do not parse are
// returned as problems (*ParseError), not as an error: one bad hand edit
// must not hide the other records. Records are sorted by opened time, then
// path.
func List(root, dir string) ([]*Record, []error, error) {
	abs := dir
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(root, filepath.FromSlash(dir))
	}
	entries, err := os.ReadDir(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("emergency-change records: %w", err)
	}
	var recs []*Record
	var probs []error
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".md") || strings.EqualFold(name, "README.md") || e.IsDir() {
			continue
		}
		p := filepath.Join(abs, name)
		data, err := os.ReadFile(p)
		if err != nil {
			probs = append(probs, fmt.Errorf("%s: %w", relPath(root, p), err))
			continue
		}
		rec, err := Parse(relPath(root, p), data)
		if err != nil {
			probs = append(probs, err)
			continue
		}
		recs = append(recs, rec)
	}
	sort.SliceStable(recs, func(i, j int) bool {
		if !recs[i].Opened.Equal(recs[j].Opened) {
			return recs[i].Opened.Before(recs[j].Opened)
		}
		return recs[i].Path < recs[j].Path
	})
	return recs, probs, nil
}

// ForCommit returns the record opened for commit (a full hash), or nil.
func ForCommit(recs []*Record, commit string) *Record {
	for _, r := range recs {
		if r.Commit != "" && r.Commit == commit {
			return r
		}
	}
	return nil
}
