package migrations

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/guardcm/guard/internal/report"
)

// File is one file of the migrations folder.
type File struct {
	Path    string // relative to the repository root, forward slashes, e.g. "migrations/0003_x.sql"
	Content []byte
}

// Input is the folder at the head and, when there is one, at the base.
type Input struct {
	Dir     string // the migrations folder relative to the repository root, e.g. "migrations"
	Head    []File // every file directly in Dir at the head (working tree or pushed commit)
	Base    []File // every file in Dir at the base revision; nil with HasBase=false when there is no base
	HasBase bool
}

// Check runs every rule over the folder and returns the findings sorted by
// file, line and rule. An error means the engine itself failed (or ctx was
// cancelled); SQL that does not apply is a finding, never an error.
func Check(ctx context.Context, in Input, opts Options) ([]report.Finding, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.InferDigits {
		if d := folderDigits(in); d > 0 {
			opts.Digits = d
		}
	}
	files := collect(in, opts.digits())
	fs := fileRules(in, files, &opts)
	deployedTogether(files)

	split := make([][]Statement, len(files))
	allows := map[string][]allow{}
	last := -1
	for i, f := range files {
		split[i] = Split(string(f.content))
		a, bad := parseAllows(string(f.content))
		allows[f.path] = a
		if !f.changed {
			continue
		}
		last = i
		for _, b := range bad {
			b.File = f.path
			fs = append(fs, b)
		}
		fs = append(fs, statementRules(f, split[i])...)
	}

	// Files after the last changed one cannot affect any finding, and when
	// nothing changed SQLite is not opened at all.
	if last >= 0 {
		replayed, err := replayAll(ctx, files[:last+1], split, &opts)
		if err != nil {
			return nil, err
		}
		fs = append(fs, replayed...)
	}
	return finalize(fs, allows, &opts), nil
}

// backfill reports an UPDATE that assigns only columns the file added
// (added holds "table.column", lower case).
func backfill(stmt string, added map[string]bool) bool {
	table, cols, ok := updatedColumns(stmt)
	if !ok || len(cols) == 0 {
		return false
	}
	for _, c := range cols {
		if !added[lowerASCII(table)+"."+lowerASCII(c)] {
			return false
		}
	}
	return true
}

// deployedTogether keeps the added mark (tables they create are empty when
// the next added file runs) only where it holds: on the added files after
// the last file already on base, and only when the folder had files on base
// at all. An added file numbered before a base file is not applied with the
// others (production ran the base file long ago, on tables that had rows),
// and a folder that appears whole in one push is more often a history
// imported or moved from elsewhere than a database born empty.
func deployedTogether(files []*migFile) {
	onBase := false
	for i := len(files) - 1; i >= 0; i-- {
		if !files[i].added {
			onBase = true
		}
		if onBase {
			files[i].added = false
		}
	}
	if !onBase {
		for _, f := range files {
			f.added = false
		}
	}
}

// statementRules are the rules that look at one statement at a time:
// transaction control and unbounded DELETE/UPDATE. They classify a
// statement by its leading keywords, read with the splitter's tokenizer.
func statementRules(f *migFile, stmts []Statement) []report.Finding {
	var fs []report.Finding
	added := map[string]bool{} // "table.column" (lower) added by this file so far
	for _, st := range stmts {
		if t, c, ok := addedColumn(st.Text); ok {
			added[lowerASCII(t)+"."+lowerASCII(c)] = true
		}
		if kw, ok := transactionStatement(st.Text); ok {
			fs = append(fs, report.Finding{Rule: RuleTransaction, File: f.path, Line: st.Line,
				Message: fmt.Sprintf("top-level %s: remote D1 rejects transaction statements in migrations (it runs each file as one unit)", kw),
				Fix:     "remove the " + kw + " statement; wrangler applies the file atomically"})
			continue
		}
		verb, where := dmlVerb(st.Text)
		if verb == "UPDATE" && !where && backfill(st.Text, added) {
			continue // filling columns the file just added: every row is the point
		}
		if (verb == "DELETE" || verb == "UPDATE") && !where {
			fs = append(fs, report.Finding{Rule: RuleUnboundedDML, File: f.path, Line: st.Line,
				Message: fmt.Sprintf("%s without WHERE touches every row of the table", verb),
				Fix:     "add a WHERE clause, or allow it with -- guard:allow unbounded-dml <reason> if every row is meant"})
		}
	}
	return fs
}

// replayAll applies the baseline and then the files in order on a fresh
// in-memory database. Unchanged files only build the schema; changed files
// are diffed statement by statement on tables holding synthetic rows. A
// statement that fails is reported and undone, and the replay goes on
// (best effort): findings after the first failure say so, since the schema
// they saw may differ from production's.
func replayAll(ctx context.Context, files []*migFile, split [][]Statement, opts *Options) ([]report.Finding, error) {
	r, err := openReplayer(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer r.close()
	var fs []report.Finding
	for _, b := range opts.Baseline {
		res, err := r.replayFile(ctx, &migFile{path: b.Path, name: path.Base(b.Path), content: b.Content}, Split(string(b.Content)), false)
		if err != nil {
			return nil, err
		}
		for _, fail := range res.failures {
			fs = append(fs, report.Finding{Rule: RuleApplyFailed, Severity: report.SeverityWarning, File: b.Path, Line: fail.line,
				Message: "the baseline schema does not apply on a fresh SQLite database: " + fail.msg,
				Fix:     "make the baseline file valid SQLite; it is applied before the first migration"})
			break
		}
	}
	var first *report.Finding // the first failure of the replay
	for i, f := range files {
		res, err := r.replayFile(ctx, f, split[i], f.changed)
		if err != nil {
			return nil, err
		}
		found := res.findings
		if first != nil {
			for j := range found {
				found[j].Message += fmt.Sprintf(" (found after the failure at %s:%d, so the replayed schema may differ from production's)", first.File, first.Line)
			}
		}
		fs = append(fs, found...)
		fails := failureFindings(f, res.failures, files[i+1:])
		if first != nil {
			// A later file's own failure may come from what the failed
			// file left half done (D1 would have rolled all of it back).
			for j := range fails {
				fails[j].Message += fmt.Sprintf(" (found after the failure at %s:%d, so the replayed schema may differ from production's)", first.File, first.Line)
			}
		}
		if first == nil && len(fails) > 0 && res.failures[0].rule != RuleDQSLiteral {
			first = &fails[0]
		}
		fs = append(fs, fails...)
	}
	if err := r.ld.finishAudit(ctx); err != nil {
		return nil, err
	}
	return fs, nil
}

// failureFindings reports the statements of one file that failed. In a
// changed file every failure with a precise rule is reported, and plain
// apply-failed once (the statements failing after it usually fail because
// of it). In an unchanged file the first failure is a warning, and only
// when changed files follow: it was reported when it landed, but it means
// the replay lacks a schema production has.
func failureFindings(f *migFile, failures []*failure, later []*migFile) []report.Finding {
	var out []report.Finding
	more := 0
	for _, fail := range failures {
		if !f.changed {
			var following []string
			for _, g := range later {
				if g.changed {
					following = append(following, g.name)
				}
			}
			if len(following) == 0 {
				return nil
			}
			return []report.Finding{{Rule: RuleApplyFailed, Severity: report.SeverityWarning, File: f.path, Line: fail.line,
				Message: fmt.Sprintf("this migration is already applied, but it does not apply on a fresh SQLite database: %s; the replay goes on without it, so %s may be checked against a schema production does not have (a schema created outside the folder belongs in [migrations] baseline)",
					fail.msg, strings.Join(following, ", ")),
				Fix: "if production's schema comes from outside the folder (a schema file applied with d1 execute), list that file in guard.toml: [migrations] baseline = [\"path/to/schema.sql\"]"}}
		}
		if fail.rule == RuleApplyFailed {
			if len(out) > 0 && consequence(fail.msg) {
				more++ // most likely a consequence of the first failure
				continue
			}
			out = append(out, report.Finding{Rule: RuleApplyFailed, File: f.path, Line: fail.line,
				Message: "statement does not apply on top of the earlier migrations: " + fail.msg, Fix: fail.fix})
			continue
		}
		out = append(out, report.Finding{Rule: fail.rule, File: f.path, Line: fail.line, Message: fail.msg, Fix: fail.fix})
	}
	if more > 0 {
		out[0].Message += fmt.Sprintf("; %d later statement(s) of this file also fail, likely because of it (the replay skips each failing statement and goes on)", more)
	}
	return out
}

// consequence reports SQLite messages that a statement typically gets
// because an earlier statement of the same file failed: a name it should
// have created is missing, or one it should have removed is still there.
func consequence(msg string) bool {
	for _, m := range []string{"no such table", "no such column", "no such index", "already exists", "there is already another table", "syntax error"} {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}
