// Package evidence produces the evidence objects the change-management
// policy names — merge-activity, deployments and branch-protection — as
// deterministic JSON documents with a SHA-256 digest beside each.
//
// Contract:
//   - A collector reads (git, the Cloudflare API through history.Load, the
//     deploy ledger and notes, emergency records, the hosting provider) and
//     returns a *Document; it never writes to the repository, the ledger or
//     the API (history is read with ReadOnly).
//   - A Document is deterministic: the same period over the same history
//     gives the same bytes, whenever it is collected. It describes the
//     world as of the period's end (Document.AsOf): <remote>/<branch> as
//     its newest first-parent commit committed by then, records as
//     committed there and judged then, the ledger and notes as they stood
//     then; nothing reads the clock. Keys are sorted at every level (Encode re-encodes the struct
//     through a generic value, so no struct field order or map iteration
//     leaks in), lists have a documented order, every time is UTC, and
//     nothing machine-specific (absolute paths, credentials) is included.
//   - The period is half-open at the start: (from, to], whole seconds; to
//     is a fixed instant (--until) or the clock's now rounded up. Consecutive runs whose from is the
//     previous to partition time without overlap. Git records no push
//     time, so a change belongs to the period of its commit time.
//   - Emergency-change records are read as committed on <remote>/<branch>
//     (the records the team shares), with the records package's parser
//     and states; a record that does not parse is a finding.
//   - Publish puts a document, <name>.sha256 (sha256sum format) and an
//     entry of the store's append-only, hash-chained index (manifest.go)
//     into a Store — a folder or an R2 bucket prefix — under a name
//     carrying collector and period. Nothing is ever replaced: the same
//     bytes again are a no-op, other bytes under a published name are
//     refused (ErrDiffers).
//   - Verify checks a store against its index and names each document
//     edited, replaced, deleted (with or without its digest) and each
//     object added without an index entry.
//   - Secrets (CLOUDFLARE_API_TOKEN, GITHUB_TOKEN, credentials embedded in
//     a remote URL) never reach a document, an error or the output.
package evidence

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	// AsOf is the instant the document describes the world at: the
	// period's end (a snapshot's one time). Git is read as the branch was
	// then and records are judged then, never at the clock's now, so
	// collecting a past period again gives the same bytes.
	AsOf time.Time `json:"as_of"`
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

func newDocument(collector string, period Period, generator string) *Document {
	return &Document{
		Collector: collector,
		Controls:  append([]string(nil), Controls[collector]...),
		Period:    Period{From: period.From.UTC(), To: period.To.UTC()},
		AsOf:      period.To.UTC(),
		Generator: generator,
		Sources:   []Source{},
		Findings:  []report.Finding{},
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

// DigestLine is one line of sha256sum's output for name.
func DigestLine(hexSum, name string) string {
	return hexSum + "  " + name + "\n"
}
