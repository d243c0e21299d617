package evidence

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/records"
)

// RecordMissing is the state of an emergency change no record names
// (besides the records package's open, overdue and documented).
const RecordMissing = "missing"

// RecordReader reads the emergency-change records as committed at rev,
// returns the files that do not parse as problems, and describes where it
// read them for the document's sources.
type RecordReader func(ctx context.Context, repo *gitx.Repo, cfg *config.Config, rev string) ([]*records.Record, []error, Source, error)

// ReadRecords reads the records ([rollback] records_dir, *.md directly in
// it, README.md excepted, as records.List does) as committed at rev — the
// remote branch, so the evidence shows the records the team shares, not a
// file left uncommitted in one clone. Records are sorted by path.
func ReadRecords(ctx context.Context, repo *gitx.Repo, cfg *config.Config, rev string) ([]*records.Record, []error, Source, error) {
	dir := strings.Trim(path.Clean(strings.ReplaceAll(cfg.Rollback.RecordsDir, "\\", "/")), "/")
	src := Source{Kind: "records", Name: dir}
	hash, ok, err := repo.ResolveCommit(ctx, rev)
	if err != nil {
		return nil, nil, src, err
	}
	if !ok {
		return nil, nil, src, fmt.Errorf("no commit %s", rev)
	}
	src.Revision = hash
	paths, err := repo.LsTree(ctx, hash, dir, false)
	if err != nil {
		return nil, nil, src, err
	}
	var out []*records.Record
	var probs []error
	for _, p := range paths {
		name := path.Base(p)
		if !strings.HasSuffix(name, ".md") || strings.EqualFold(name, "README.md") {
			continue
		}
		data, ok, err := repo.Blob(ctx, hash, p)
		if err != nil {
			return nil, nil, src, err
		}
		if !ok {
			continue // a folder or submodule named *.md
		}
		rec, err := records.Parse(p, data)
		if err != nil {
			probs = append(probs, err)
			continue
		}
		out = append(out, rec)
	}
	if len(out) == 0 && len(probs) == 0 {
		src.Note = "no records"
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, probs, src, nil
}

// collectRecords reads the records as committed at ref with read
// (ReadRecords when nil) for doc: it adds where they were read to its
// sources, and a finding for each record that does not parse.
func collectRecords(ctx context.Context, doc *Document, read RecordReader, repo *gitx.Repo, cfg *config.Config, ref string) ([]*records.Record, error) {
	if read == nil {
		read = ReadRecords
	}
	recs, probs, src, err := read(ctx, repo, cfg, ref)
	if err != nil {
		return nil, err
	}
	doc.Sources = append(doc.Sources, src)
	doc.Findings = append(doc.Findings, invalidRecordFindings(probs)...)
	return recs, nil
}

// invalidRecordFindings report the records that do not parse: they count
// as undocumented.
func invalidRecordFindings(probs []error) []report.Finding {
	var out []report.Finding
	for _, p := range probs {
		f := report.Finding{Rule: records.RuleInvalid, Severity: report.SeverityWarning, Message: p.Error(),
			Fix: "fix the record's front matter ('guard changes' shows the error); until it parses it counts as undocumented"}
		var pe *records.ParseError
		if errors.As(p, &pe) {
			f.File, f.Line, f.Message = pe.File, pe.Line, pe.Msg
		}
		out = append(out, f)
	}
	return out
}

// recordDue is the deadline of an emergency change without a record.
func recordDue(changed time.Time) time.Time { return changed.Add(records.DueAfter) }
