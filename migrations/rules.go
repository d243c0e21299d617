package migrations

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/guardcm/guard/internal/report"
)

// Rule IDs. They are stable: configuration, suppression comments and JSON
// output use them.
const (
	RuleNaming           = "naming"
	RuleDuplicateNumber  = "duplicate-number"
	RuleGap              = "gap"
	RuleOutOfOrder       = "out-of-order"
	RuleEdited           = "edited"
	RuleRemoved          = "removed"
	RuleStrayFile        = "stray-file"
	RuleDropTable        = "drop-table"
	RuleDropColumn       = "drop-column"
	RuleRenameTable      = "rename-table"
	RuleRenameColumn     = "rename-column"
	RuleDropIndex        = "drop-index"
	RuleDropView         = "drop-view"
	RuleDropTrigger      = "drop-trigger"
	RuleNotNullNoDefault = "not-null-no-default"
	RuleUniqueOnExisting = "unique-on-existing"
	RuleUnboundedDML     = "unbounded-dml"
	RuleTransaction      = "transaction"
	RuleApplyFailed      = "apply-failed"
	// Row-level and D1-dialect rules: the replay runs on tables holding
	// synthetic rows, with D1's foreign-key behaviour.
	RuleCascadeDelete  = "cascade-delete"
	RuleFKViolation    = "fk-violation"
	RuleFKDangling     = "fk-dangling"
	RuleDQSLiteral     = "dqs-literal"
	RulePragmaNoEffect = "pragma-no-effect"
	RuleD1Unsupported  = "d1-unsupported"
	RuleResourceLimit  = "resource-limit"
	RuleRowsSkipped    = "rows-skipped"
	// RuleUniqueNotCreated: CREATE UNIQUE INDEX IF NOT EXISTS meets a
	// non-unique index of that name and does nothing.
	RuleUniqueNotCreated = "unique-not-created"
	// RuleBadAllow reports a "-- guard:allow" comment that cannot take
	// effect (no rule, unknown rule, or no reason), so a suppression the
	// author meant never silently fails.
	RuleBadAllow = "bad-allow"
)

// RuleInfo describes one rule for documentation and configuration checks.
type RuleInfo struct {
	ID              string
	DefaultSeverity report.Severity
	Description     string
}

var rules = []RuleInfo{
	{RuleNaming, report.SeverityError, "a .sql file with a number is not named NNNN_name.sql (digit count configurable; wrangler writes 4)"},
	{RuleDuplicateNumber, report.SeverityError, "two files share a number"},
	{RuleGap, report.SeverityError, "numbers skip"},
	{RuleOutOfOrder, report.SeverityError, "a file new against base is numbered at or below the highest number on base (someone merged first: renumber)"},
	{RuleEdited, report.SeverityError, "a file that exists on base changed"},
	{RuleRemoved, report.SeverityError, "a file that exists on base was deleted or renamed"},
	{RuleStrayFile, report.SeverityWarning, "a .sql file without a number in the folder; wrangler would apply it"},
	{RuleDropTable, report.SeverityError, "a table disappears"},
	{RuleDropColumn, report.SeverityError, "a column disappears, also through a table rebuild (create new, copy, drop old, rename new)"},
	{RuleRenameTable, report.SeverityError, "a table is renamed: the previous worker version breaks, so rollback breaks"},
	{RuleRenameColumn, report.SeverityError, "a column is renamed: the previous worker version breaks, so rollback breaks"},
	{RuleDropIndex, report.SeverityWarning, "an index disappears"},
	{RuleDropView, report.SeverityWarning, "a view disappears"},
	{RuleDropTrigger, report.SeverityWarning, "a trigger disappears"},
	{RuleNotNullNoDefault, report.SeverityError, "a NOT NULL column without a default is added to (or imposed on) an existing table"},
	{RuleUniqueOnExisting, report.SeverityWarning, "a UNIQUE index or constraint is added to an existing table (fails on duplicates)"},
	{RuleUnboundedDML, report.SeverityWarning, "DELETE or UPDATE without WHERE"},
	{RuleTransaction, report.SeverityError, "BEGIN/COMMIT/END/ROLLBACK/SAVEPOINT/RELEASE at top level (remote D1 rejects them)"},
	{RuleApplyFailed, report.SeverityError, "the file does not apply on top of the previous ones"},
	{RuleCascadeDelete, report.SeverityError, "rows vanish from a table the statement does not name (ON DELETE CASCADE, also when a parent table is dropped)"},
	{RuleFKViolation, report.SeverityError, "a statement or the file's commit fails with FOREIGN KEY constraint failed once the tables hold rows (D1 always enforces foreign keys)"},
	{RuleFKDangling, report.SeverityError, "a foreign key is left pointing at a table that no longer exists (rename-first rebuild, dropped parent)"},
	{RuleDQSLiteral, report.SeverityError, "a double-quoted name that is no column: SQLite reads it as a string literal"},
	{RulePragmaNoEffect, report.SeverityWarning, "PRAGMA foreign_keys in a migration: D1 ignores it (foreign keys are always on)"},
	{RuleD1Unsupported, report.SeverityError, "a statement D1 refuses although SQLite runs it (temporary objects, PRAGMAs outside D1's list, ATTACH, VACUUM)"},
	{RuleResourceLimit, report.SeverityError, "a migration exceeds the replay's time or memory limit"},
	{RuleUniqueNotCreated, report.SeverityWarning, "CREATE UNIQUE INDEX IF NOT EXISTS finds a non-unique index of that name, so nothing is created and the uniqueness never exists"},
	{RuleRowsSkipped, report.SeverityNotice, "a table the migration uses could not be given synthetic rows, so row-level checks do not cover it"},
	{RuleBadAllow, report.SeverityError, "a guard:allow comment without a known rule or without a reason"},
}

// Rules lists every rule with its default severity.
func Rules() []RuleInfo { return append([]RuleInfo(nil), rules...) }

func ruleInfo(id string) (RuleInfo, bool) {
	for _, r := range rules {
		if r.ID == id {
			return r, true
		}
	}
	return RuleInfo{}, false
}

// Options tune a check. The zero value checks with the defaults.
type Options struct {
	Digits int // digits of the NNNN prefix; 0 means 4
	// InferDigits makes Digits a default: a folder whose numbered files
	// all have one other digit count (the base's files, already applied;
	// the head's in a new folder) is held to that count. A team that
	// numbers 001_init.sql is consistent, not wrong; it is a new file
	// that breaks the folder's own pattern that gets the naming finding.
	InferDigits bool
	Severity    map[string]report.Severity // per-rule override; "off" disables a rule
	// FileTimeout bounds the replay of one migration file (a migration with
	// an endless recursive query must not hang a push); 0 means 10s.
	FileTimeout time.Duration
	// FileMemory bounds how much one file may grow the replay database
	// (SQLite's max_page_count); 0 means 256 MiB. SQLite's process-wide hard
	// heap limit is set to four times this while a check runs, unless the
	// process already has a lower one.
	FileMemory int64
	// SchemaOnly replays on empty tables (no synthetic rows, no row-level
	// rules): the comparison point of the row-aware replay's cost.
	SchemaOnly bool
	// Baseline is SQL applied before the first migration, as production
	// has it (a schema created outside the folder, e.g. with d1 execute).
	// Its files are replayed like unchanged migrations; they are never
	// reported as migrations.
	Baseline []File
	// setAside tunes when rows of sqlite_schema are set aside (tests).
	setAside setAsidePolicy
}

// SeverityOff disables a rule in Options.Severity.
const SeverityOff report.Severity = "off"

func (o *Options) digits() int {
	if o.Digits <= 0 {
		return 4
	}
	return o.Digits
}

func (o *Options) timeout() time.Duration {
	if o.FileTimeout <= 0 {
		return 10 * time.Second
	}
	return o.FileTimeout
}

func (o *Options) memory() int64 {
	if o.FileMemory <= 0 {
		return 256 << 20
	}
	return o.FileMemory
}

func (o *Options) validate() error {
	var ids []string
	for id := range o.Severity {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if _, ok := ruleInfo(id); !ok {
			return fmt.Errorf("unknown migration rule %q in severity overrides", id)
		}
		switch o.Severity[id] {
		case report.SeverityError, report.SeverityWarning, report.SeverityNotice, SeverityOff:
		default:
			return fmt.Errorf("rule %s: unknown severity %q (want error, warning, notice or off)", id, o.Severity[id])
		}
	}
	if o.Digits < 0 || o.Digits > 18 {
		return fmt.Errorf("digits must be between 1 and 18, got %d", o.Digits)
	}
	return nil
}

// allow is one parsed "-- guard:allow <rule> <reason>" comment.
type allow struct {
	rule, reason string
	line         int
}

const allowPrefix = "guard:allow"

// parseAllows reads the suppression comments of a file. Comments come from
// the tokenizer, so the marker inside a string literal is not a comment.
func parseAllows(sql string) (allows []allow, bad []report.Finding) {
	for _, c := range comments(sql) {
		text := strings.TrimSpace(c.text)
		if !strings.HasPrefix(text, allowPrefix) {
			continue
		}
		rest := text[len(allowPrefix):]
		if rest != "" && rest[0] != ' ' && rest[0] != '\t' && rest[0] != '\n' && rest[0] != '\r' {
			continue // e.g. "guard:allowed": prose, not a directive
		}
		fields := strings.Fields(rest)
		usage := "write -- guard:allow <rule> <reason>, e.g. -- guard:allow drop-column column was never read"
		switch {
		case len(fields) == 0:
			bad = append(bad, report.Finding{Rule: RuleBadAllow, Line: c.line,
				Message: "guard:allow names no rule and no reason, so it allows nothing", Fix: usage})
		case !knownRule(fields[0]):
			bad = append(bad, report.Finding{Rule: RuleBadAllow, Line: c.line,
				Message: fmt.Sprintf("guard:allow names unknown rule %q, so it allows nothing", fields[0]), Fix: usage})
		case len(fields) == 1:
			bad = append(bad, report.Finding{Rule: RuleBadAllow, Line: c.line,
				Message: fmt.Sprintf("guard:allow %s has no reason, so it allows nothing; the reason is what goes on record", fields[0]), Fix: usage})
		default:
			allows = append(allows, allow{rule: fields[0], reason: strings.Join(fields[1:], " "), line: c.line})
		}
	}
	return allows, bad
}

func knownRule(id string) bool {
	_, ok := ruleInfo(id)
	return ok && id != RuleBadAllow
}

// finalize applies default severities, configured overrides and the
// suppression comments of each file, then sorts.
func finalize(fs []report.Finding, allows map[string][]allow, opts *Options) []report.Finding {
	out := fs[:0]
	for _, f := range fs {
		// A finding may come with its own severity (an apply-failed in an
		// unchanged file is a warning); configuration still overrides it.
		if f.Severity == "" {
			info, _ := ruleInfo(f.Rule)
			f.Severity = info.DefaultSeverity
		}
		if s, ok := opts.Severity[f.Rule]; ok {
			if s == SeverityOff {
				continue
			}
			f.Severity = s
		}
		if f.Rule != RuleBadAllow {
			for _, a := range allows[f.File] {
				if a.rule == f.Rule {
					f.Severity = report.SeverityNotice
					f.Message += fmt.Sprintf(" (allowed by guard:allow on line %d: %s)", a.line, a.reason)
					f.Fix = ""
					break
				}
			}
		}
		out = append(out, f)
	}
	report.Sort(out)
	return out
}
