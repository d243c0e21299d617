package history

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/ledger"
)

// Problem kinds CheckAgainstNotes reports.
const (
	// ProblemDiffersFromNote: a ledger line differs from its shared copy.
	ProblemDiffersFromNote = "differs-from-note"
	// ProblemMissingRecord: a record this clone shared is not in its
	// ledger (lines were cut from the end, or removed).
	ProblemMissingRecord = "missing-record"
	// ProblemLedgerDeleted, ProblemLedgerEmptied: the ledger file is gone
	// or empty although this clone shared records from it.
	ProblemLedgerDeleted = "ledger-deleted"
	ProblemLedgerEmptied = "ledger-emptied"
)

// CheckAgainstNotes cross-checks the local ledger with the records this
// clone shared in the git notes (ledger.NotesRef), both ways:
//
//   - every ledger line that has a shared copy (a note record of the same
//     ledger ID and Seq; for records older than ledger IDs, the same Seq
//     and Prev: the same place in this chain) must equal it. The hash
//     chain cannot catch an edit of the last line, which has no
//     successor; its shared copy can.
//   - every shared record of this ledger (its ID, from the repository's
//     configuration, which survives the file; for older records, a Prev
//     that is the hash of one of the ledger's lines) must be in the ledger.
//     A missing one is reported with what it recorded; a deleted or
//     emptied ledger with shared records is one problem listing them all.
//
// Lines without a copy (pending records, records never shared) are not
// problems. Problems name the line (0 when the file is gone) and what
// differs or is missing; shared is how many shared records belong to this
// ledger (what was compared).
func CheckAgainstNotes(ctx context.Context, repo *gitx.Repo, l *ledger.Ledger) (probs []ledger.Problem, shared int, err error) {
	notes, err := ledger.ReadNotes(ctx, repo)
	if err != nil {
		return nil, 0, err
	}
	if len(notes) == 0 {
		return nil, 0, nil
	}
	id, err := l.ID(ctx)
	if err != nil {
		return nil, 0, err
	}
	data, err := os.ReadFile(l.Path())
	exists := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, 0, fmt.Errorf("ledger: %w", err)
	}
	type located struct {
		line int
		rec  ledger.Record
	}
	var recs []located
	lineHashes := map[string]bool{}
	lines := bytes.Split(data, []byte("\n"))
	for i, line := range lines {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		lineHashes[hashLine(line)] = true
		var rec ledger.Record
		if json.Unmarshal(line, &rec) != nil || rec.Seq < 1 {
			continue // ledger.Verify reports it
		}
		recs = append(recs, located{i + 1, rec})
		if id == "" && rec.Ledger != "" {
			id = rec.Ledger // the configuration lost it; the file still says
		}
	}

	type key struct {
		ledger string
		seq    int
		prev   string
	}
	keyOf := func(r ledger.Record) key {
		if r.Ledger != "" {
			return key{ledger: r.Ledger, seq: r.Seq}
		}
		return key{seq: r.Seq, prev: r.Prev}
	}
	byKey := map[key][]ledger.Record{}
	for _, n := range notes {
		byKey[keyOf(n)] = append(byKey[keyOf(n)], n)
	}

	inLedger := map[key]bool{}
	lastLine, lastSeq := 0, 0
	for _, lr := range recs {
		rec := lr.rec
		inLedger[keyOf(rec)] = true
		lastLine, lastSeq = lr.line, rec.Seq
		copies := byKey[keyOf(rec)]
		if len(copies) == 0 {
			continue
		}
		var diffs []string
		match := false
		for _, c := range copies {
			d := diffFields(rec, c)
			if len(d) == 0 {
				match = true
				break
			}
			if diffs == nil || len(d) < len(diffs) {
				diffs = d
			}
		}
		if !match {
			probs = append(probs, ledger.Problem{Line: lr.line, Kind: ProblemDiffersFromNote,
				Message: fmt.Sprintf("record %d differs from its copy in %s: %s", rec.Seq, ledger.NotesRef, strings.Join(diffs, ", "))})
		}
	}

	// The shared records of this ledger that it no longer holds.
	var missing []ledger.Record
	seen := map[key]bool{}
	for _, n := range notes {
		k := keyOf(n)
		mine := (id != "" && n.Ledger == id) || (n.Ledger == "" && (inLedger[k] || n.Prev != "" && lineHashes[n.Prev]))
		if !mine || seen[k] {
			continue
		}
		seen[k] = true
		shared++
		if !inLedger[k] {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return probs, shared, nil
	}
	sort.Slice(missing, func(i, j int) bool { return missing[i].Seq < missing[j].Seq })
	switch {
	case !exists:
		probs = append(probs, ledger.Problem{Kind: ProblemLedgerDeleted,
			Message: fmt.Sprintf("the ledger file is gone, but %s holds %d record(s) this clone shared from it: %s", ledger.NotesRef, len(missing), describeRecords(missing))})
	case len(recs) == 0:
		probs = append(probs, ledger.Problem{Line: 1, Kind: ProblemLedgerEmptied,
			Message: fmt.Sprintf("the ledger holds no record, but %s holds %d record(s) this clone shared from it: %s", ledger.NotesRef, len(missing), describeRecords(missing))})
	default:
		for _, m := range missing {
			where := fmt.Sprintf("the ledger ends with seq %d on line %d: lines were removed from its end", lastSeq, lastLine)
			line := lastLine + 1
			if m.Seq <= lastSeq {
				where = "the line was removed"
				for _, lr := range recs {
					if lr.rec.Seq > m.Seq {
						line = lr.line
						break
					}
				}
			}
			probs = append(probs, ledger.Problem{Line: line, Kind: ProblemMissingRecord,
				Message: fmt.Sprintf("%s is in %s but not in the ledger; %s", describeRecords([]ledger.Record{m}), ledger.NotesRef, where)})
		}
	}
	return probs, shared, nil
}

// describeRecords names records for a message: seq, what, when, version
// and commit.
func describeRecords(rs []ledger.Record) string {
	parts := make([]string, 0, len(rs))
	for _, r := range rs {
		s := fmt.Sprintf("record %d (%s %s", r.Seq, r.Kind, r.Status)
		if r.Verified != "" {
			s += ", verified " + r.Verified
		}
		s += " at " + r.Time.UTC().Format(time.RFC3339)
		if r.VersionID != "" {
			s += ", version " + r.VersionID
		}
		if r.Commit != "" {
			s += ", commit " + gitx.ShortHash(r.Commit)
		}
		parts = append(parts, s+")")
	}
	return strings.Join(parts, "; ")
}

func hashLine(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:])
}

// diffFields names the JSON fields in which a and b differ.
func diffFields(a, b ledger.Record) []string {
	// The shared copy carries a signature the ledger's line does not.
	a.Signature, b.Signature = "", ""
	ma, mb := asMap(a), asMap(b)
	var out []string
	for k := range ma {
		if !reflect.DeepEqual(ma[k], mb[k]) {
			out = append(out, k)
		}
	}
	for k := range mb {
		if _, ok := ma[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func asMap(r ledger.Record) map[string]any {
	if r.Categories == nil {
		r.Categories = []string{}
	}
	b, _ := json.Marshal(r)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}
