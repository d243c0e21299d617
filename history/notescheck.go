package history

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/ledger"
)

// ProblemDiffersFromNote is the ledger.Problem kind CheckAgainstNotes
// reports.
const ProblemDiffersFromNote = "differs-from-note"

// CheckAgainstNotes compares every line of the local ledger with the copy
// of the same record in the git notes (a note record with the same Seq and
// Prev: the same place in this ledger's chain). The hash chain cannot catch
// an edit of the last line, which has no successor; its shared copy can.
// Lines without a copy (pending records, records never shared) are not
// problems. Problems name the line and the fields that differ.
func CheckAgainstNotes(ctx context.Context, repo *gitx.Repo, l *ledger.Ledger) ([]ledger.Problem, error) {
	notes, err := ledger.ReadNotes(ctx, repo)
	if err != nil {
		return nil, err
	}
	if len(notes) == 0 {
		return nil, nil
	}
	type key struct {
		seq  int
		prev string
	}
	byKey := map[key][]ledger.Record{}
	for _, n := range notes {
		k := key{n.Seq, n.Prev}
		byKey[k] = append(byKey[k], n)
	}
	data, err := os.ReadFile(l.Path())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	var probs []ledger.Problem
	lines := bytes.Split(data, []byte("\n"))
	for i, line := range lines {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var rec ledger.Record
		if json.Unmarshal(line, &rec) != nil {
			continue // ledger.Verify reports it
		}
		copies := byKey[key{rec.Seq, rec.Prev}]
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
			probs = append(probs, ledger.Problem{Line: i + 1, Kind: ProblemDiffersFromNote,
				Message: fmt.Sprintf("record %d differs from its copy in %s: %s", rec.Seq, ledger.NotesRef, strings.Join(diffs, ", "))})
		}
	}
	return probs, nil
}

// diffFields names the JSON fields in which a and b differ.
func diffFields(a, b ledger.Record) []string {
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
