// Package evidence produces the evidence objects the change-management
// policy names — merge-activity, deployments and branch-protection — as
// deterministic JSON documents with a SHA-256 digest beside each.
//
// Contract:
//   - A collector reads (git, the Cloudflare API through history.Load, the
//     deploy ledger and notes, emergency records, the hosting provider) and
//     returns a *Document; it never writes to the repository, the ledger or
//     the API (history is read with ReadOnly).
//   - A Document is deterministic: the same inputs and clock give the same
//     bytes. Keys are sorted at every level (Encode re-encodes the struct
//     through a generic value, so no struct field order or map iteration
//     leaks in), lists have a documented order, every time is UTC, and
//     nothing machine-specific (absolute paths, credentials) is included.
//   - The period is half-open at the start: (from, to], whole seconds, to
//     being the clock's now rounded up. Consecutive runs whose from is the
//     previous to partition time without overlap. Git records no push
//     time, so a change belongs to the period of its commit time.
//   - Emergency-change records are read as committed on <remote>/<branch>
//     (the records the team shares), with the records package's parser
//     and states; a record that does not parse is a finding.
//   - Write publishes a document and <name>.sha256 (sha256sum format) into
//     a folder under a name carrying collector and period, and never
//     replaces an existing file: the files are linked into place from a
//     synced temporary file, so an existing name fails with ErrExists and a
//     reader never sees a half-written document. Published files are
//     read-only.
//   - Verify re-checks every digest under a folder and names each document
//     whose bytes no longer match, each digest naming a missing file and
//     each document without a digest.
//   - Secrets (CLOUDFLARE_API_TOKEN, GITHUB_TOKEN, credentials embedded in
//     a remote URL) never reach a document, an error or the output.
package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/guardcm/guard/internal/report"
)

// Collector names, as written in documents and file names.
const (
	CollectorMergeActivity    = "merge-activity"
	CollectorDeployments      = "deployments"
	CollectorBranchProtection = "branch-protection"
)

// Controls are the ISO/IEC 27001 Annex A controls the policy's evidence
// table assigns to each collector.
var Controls = map[string][]string{
	CollectorMergeActivity:    {"A.8.25", "A.8.32"},
	CollectorDeployments:      {"A.5.8", "A.8.32"},
	CollectorBranchProtection: {"A.8.19", "A.8.25", "A.8.31"},
}

// Period is the time a document covers: (From, To], both UTC.
type Period struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Contains reports whether t falls in (From, To].
func (p Period) Contains(t time.Time) bool {
	return t.After(p.From) && !t.After(p.To)
}

// NewPeriod is the period of length since ending at now, in UTC and whole
// seconds: the end is now rounded up to the second, so whatever happened
// up to now (in the second now falls in too) is inside.
func NewPeriod(now time.Time, since time.Duration) Period {
	now = now.UTC()
	to := now.Truncate(time.Second)
	if to.Before(now) {
		to = to.Add(time.Second)
	}
	return Period{From: to.Add(-since), To: to}
}

// Source is one thing a collector read, pinned as precisely as it can be:
// a ref and the commit it named, an API and what was asked of it, a file
// and its digest.
type Source struct {
	// Kind is "git", "git-notes", "ledger", "records", "cloudflare-api",
	// "config", "hooks" or "github-api".
	Kind string `json:"kind"`
	// Name says what was read: a ref, a repository-relative path, an API
	// base URL with the object asked for.
	Name string `json:"name"`
	// Revision pins it: a commit hash, a SHA-256, an HTTP status.
	Revision string `json:"revision,omitempty"`
	// Note says what went wrong or was skipped (offline, not configured).
	Note string `json:"note,omitempty"`
	// Warning marks a Note about something that could not be read (the
	// command prints it as a warning); not part of the document.
	Warning bool `json:"-"`
}

// Document is one evidence object.
type Document struct {
	Collector string   `json:"collector"`
	Controls  []string `json:"controls"`
	Period    Period   `json:"period"`
	// GeneratedAt is the clock's now (UTC, seconds).
	GeneratedAt time.Time `json:"generated_at"`
	// Generator is "guard <version>".
	Generator string   `json:"generator"`
	Sources   []Source `json:"sources"`
	// Items is the collector's list ([]Change, []Deployment) or object
	// (*Protection).
	Items any `json:"items"`
	// Findings are in the order of the items they concern (a collector's
	// own order), not sorted by message: a message may hold an ID that
	// says nothing about order.
	Findings []report.Finding `json:"findings"`
}

func newDocument(collector string, period Period, generatedAt time.Time, generator string) *Document {
	return &Document{
		Collector:   collector,
		Controls:    append([]string(nil), Controls[collector]...),
		Period:      Period{From: period.From.UTC(), To: period.To.UTC()},
		GeneratedAt: generatedAt.UTC().Truncate(time.Second),
		Generator:   generator,
		Sources:     []Source{},
		Findings:    []report.Finding{},
	}
}

// Encode renders d as indented JSON with the keys of every object sorted,
// HTML characters unescaped and a final newline: the exact bytes Write
// publishes and the digest covers.
func Encode(d *Document) ([]byte, error) {
	if d.Findings == nil {
		d.Findings = []report.Finding{}
	}
	if d.Sources == nil {
		d.Sources = []Source{}
	}
	return encodeSorted(d, "  ")
}

// Canonical renders v as compact JSON with sorted keys: the form whose
// SHA-256 identifies a value (the configuration digest).
func Canonical(v any) ([]byte, error) {
	b, err := encodeSorted(v, "")
	if err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b, []byte("\n")), nil
}

// encodeSorted marshals v, decodes it into generic values (numbers kept as
// written) and encodes those again: encoding/json writes map keys sorted,
// so the result does not depend on struct field order.
func encodeSorted(v any, indent string) ([]byte, error) {
	raw, err := marshalNoEscape(v, "")
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, fmt.Errorf("evidence: re-reading the document: %w", err)
	}
	return marshalNoEscape(generic, indent)
}

func marshalNoEscape(v any, indent string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if indent != "" {
		enc.SetIndent("", indent)
	}
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("evidence: encoding: %w", err)
	}
	return buf.Bytes(), nil
}

// nameTime is the file-name form of a period bound: RFC 3339 in UTC with
// the colons (not allowed on every file system) replaced by hyphens.
const nameTime = "2006-01-02T15-04-05Z"

// FileName is the document's file name: collector, an optional subject
// (the worker of a deployments document) and the period, e.g.
// deployments_api_2026-11-21T00-00-00Z_2026-11-28T00-00-00Z.json; a
// snapshot (from == to) carries its one time.
func FileName(d *Document, subject string) string {
	name := d.Collector
	if subject != "" {
		name += "_" + sanitizeName(subject)
	}
	if !d.Period.From.Equal(d.Period.To) {
		name += "_" + d.Period.From.UTC().Format(nameTime)
	}
	return name + "_" + d.Period.To.UTC().Format(nameTime) + ".json"
}

// sanitizeName keeps a subject usable as part of a file name.
func sanitizeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			b[i] = '-'
		}
	}
	return string(b)
}

// DigestSuffix is appended to a document's name for its digest file.
const DigestSuffix = ".sha256"

// ErrExists is returned (wrapped) by Write when the document or its digest
// already exists.
var ErrExists = errors.New("evidence file already exists")

// Written names the files Write published.
type Written struct {
	Path       string
	DigestPath string
	SHA256     string
}

// Write publishes data as dir/name and its digest as dir/name.sha256,
// creating dir. Neither file may exist; both end up read-only. When the
// digest cannot be published the document is removed again, so a document
// is never left without its digest by Write.
func Write(dir, name string, data []byte) (*Written, error) {
	if name == "" || filepath.Base(name) != name || name == "." || name == ".." {
		return nil, fmt.Errorf("evidence: invalid file name %q", name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	path := filepath.Join(dir, name)
	digestPath := path + DigestSuffix
	for _, p := range []string{path, digestPath} {
		if _, err := os.Lstat(p); err == nil {
			return nil, fmt.Errorf("%s: %w", p, ErrExists)
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("evidence: %w", err)
		}
	}
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	if err := publish(dir, path, data); err != nil {
		return nil, err
	}
	if err := publish(dir, digestPath, []byte(DigestLine(hexSum, name))); err != nil {
		_ = os.Remove(path)
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	return &Written{Path: path, DigestPath: digestPath, SHA256: hexSum}, nil
}

// DigestLine is one line of sha256sum's output for name.
func DigestLine(hexSum, name string) string {
	return hexSum + "  " + name + "\n"
}

// publish writes data to a synced temporary file in dir and hard-links it
// to path, which fails when path exists: no check-then-write race can
// replace a document another run just published.
func publish(dir, path string, data []byte) error {
	tmp, err := os.CreateTemp(dir, ".evidence-*.tmp")
	if err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("evidence: writing %s: %w", path, err)
	}
	if err := tmp.Chmod(0o444); err != nil {
		tmp.Close()
		return fmt.Errorf("evidence: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("evidence: writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("evidence: writing %s: %w", path, err)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s: %w", path, ErrExists)
		}
		return fmt.Errorf("evidence: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("evidence: syncing %s: %w", dir, err)
	}
	return nil
}
