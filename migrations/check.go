package migrations

import (
	"context"
	"fmt"
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
	files := collect(in, opts.digits())
	fs := fileRules(in, files, &opts)

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

// statementRules are the rules that look at one statement at a time:
// transaction control and unbounded DELETE/UPDATE. They classify a
// statement by its leading keywords, read with the splitter's tokenizer.
func statementRules(f *migFile, stmts []Statement) []report.Finding {
	var fs []report.Finding
	for _, st := range stmts {
		if kw, ok := transactionStatement(st.Text); ok {
			fs = append(fs, report.Finding{Rule: RuleTransaction, File: f.path, Line: st.Line,
				Message: fmt.Sprintf("top-level %s: remote D1 rejects transaction statements in migrations (it runs each file as one unit)", kw),
				Fix:     "remove the " + kw + " statement; wrangler applies the file atomically"})
			continue
		}
		verb, where := dmlVerb(st.Text)
		if (verb == "DELETE" || verb == "UPDATE") && !where {
			fs = append(fs, report.Finding{Rule: RuleUnboundedDML, File: f.path, Line: st.Line,
				Message: fmt.Sprintf("%s without WHERE touches every row of the table", verb),
				Fix:     "add a WHERE clause, or allow it with -- guard:allow unbounded-dml <reason> if every row is meant"})
		}
	}
	return fs
}

// replayAll applies files in order on a fresh in-memory database. Unchanged
// files only build the schema; changed files are diffed statement by
// statement. Replay stops at the first file SQLite refuses: later files
// would fail or pass for the wrong reasons.
func replayAll(ctx context.Context, files []*migFile, split [][]Statement, opts *Options) ([]report.Finding, error) {
	r, err := openReplayer(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer r.close()
	var fs []report.Finding
	for i, f := range files {
		found, fail, err := r.replayFile(ctx, f, split[i], f.changed)
		if err != nil {
			return nil, err
		}
		fs = append(fs, found...)
		if fail == nil {
			continue
		}
		var skipped []string
		for _, g := range files[i+1:] {
			if g.changed {
				skipped = append(skipped, g.name)
			}
		}
		if !f.changed && len(skipped) == 0 {
			break
		}
		msg := fmt.Sprintf("statement does not apply on top of the earlier migrations: %s", fail.msg)
		if !f.changed {
			msg = fmt.Sprintf("this migration is already on base, but it does not apply on a fresh SQLite database: %s", fail.msg)
		}
		if len(skipped) > 0 {
			msg += fmt.Sprintf("; not checked because replay stopped here: %s", strings.Join(skipped, ", "))
		}
		fix := "make the statement valid SQLite on top of the earlier migrations (D1 runs SQLite: Postgres or MySQL syntax is rejected)"
		if !f.changed {
			fix = "guard replays the folder on an empty database: create what this migration relies on in the migrations, or lower apply-failed in guard.toml knowing later migrations then go unchecked"
		}
		fs = append(fs, report.Finding{Rule: RuleApplyFailed, File: f.path, Line: fail.line, Message: msg, Fix: fix})
		break
	}
	return fs, nil
}
