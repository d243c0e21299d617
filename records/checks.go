package records

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/hooks"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/policy"
)

// Rule IDs of the record checks.
const (
	RuleOverdue = "emergency-record-overdue"
	RuleInvalid = "emergency-record-invalid"
	RuleWritten = "emergency-record-written"
	RuleFuture  = "emergency-commit-future-date"
)

// OverdueCheck is the range check that holds back every push (and CI run)
// bringing a non-emergency commit while an emergency change is overdue:
// the policy's 24-hour documentation deadline has teeth. Emergency pushes,
// and pushes that only add or complete records, pass, so an incident and
// its paperwork are never blocked. Severity is error, or warning with
// [pre_push] overdue_records = "warn".
//
// What is overdue comes from what is shared, not from local files: every
// emergency commit in the remote branch's history and every guard rollback
// in the deploy records (Obligations) whose committed record — on the
// remote branch or in the commits pushed — is missing or still has TODO
// 24 hours on. Records in the work tree add findings (an overdue or
// unparsable file) but can never document anything.
//
// One check value reports each record once, however many refs a push
// updates.
func OverdueCheck(now func() time.Time) hooks.RangeCheck {
	reported := false
	return func(ctx context.Context, repo *gitx.Repo, cfg *config.Config, r hooks.Range, res *hooks.Result) ([]report.Finding, error) {
		if res == nil || len(res.Commits) == 0 || res.AllEmergency || reported {
			return nil, nil
		}
		reported = true
		st, err := Load(ctx, repo, cfg, r.Base, r.Head)
		if err != nil {
			return nil, err
		}
		sev := report.SeverityError
		if cfg.PrePush.OverdueRecords == "warn" {
			sev = report.SeverityWarning
		}
		t := now()
		var out []report.Finding
		branch := cfg.Remote + "/" + cfg.Branch
		reportedPaths := map[string]bool{}
		for _, o := range st.Obligations {
			if o.State(t) != StateOverdue {
				continue
			}
			if o.FutureDated(t) {
				if o.Record != nil {
					reportedPaths[o.Record.Path] = true
				}
				out = append(out, report.Finding{
					Rule: RuleOverdue, Severity: sev, Commit: ShortCommit(o.Commit), Subject: o.Subject,
					Message: fmt.Sprintf("%s is dated %s, later than now (%s): guard cannot tell when it happened, so it counts as overdue until a committed record on %s documents it: until then only emergency changes may be pushed",
						o.Describe(), o.At.Format(time.RFC3339), t.UTC().Format(time.RFC3339), branch),
					Fix: fmt.Sprintf("document it under %s/ (guard changes lists it), commit and push the record — a push of records alone may go to %s directly", cfg.Rollback.RecordsDir, cfg.Branch),
				})
				continue
			}
			if o.Record == nil {
				out = append(out, report.Finding{
					Rule: RuleOverdue, Severity: sev, Commit: ShortCommit(o.Commit), Subject: o.Subject,
					Message: fmt.Sprintf("%s (%s) has no committed emergency-change record on %s, overdue since %s: until it is documented only emergency changes may be pushed",
						o.Describe(), o.At.Format(time.RFC3339), branch, o.Due.Format(time.RFC3339)),
					Fix: fmt.Sprintf("write the record under %s/ (guard changes lists what is missing), fill it in, commit and push it — a push of records alone may go to %s directly", cfg.Rollback.RecordsDir, cfg.Branch),
				})
				continue
			}
			reportedPaths[o.Record.Path] = true
			out = append(out, overdueFinding(sev, o.Record))
		}
		for _, rec := range st.Records {
			if !reportedPaths[rec.Path] && rec.State(t) == StateOverdue {
				reportedPaths[rec.Path] = true
				out = append(out, overdueFinding(sev, rec))
			}
		}
		for _, p := range st.Problems {
			f := report.Finding{Rule: RuleInvalid, Severity: sev, Message: p.Error(),
				Fix: "fix the record's front matter (see 'guard changes'); until it parses it counts as undocumented"}
			var pe *ParseError
			if errors.As(p, &pe) {
				f.File, f.Line, f.Message = pe.File, pe.Line, pe.Msg
			}
			out = append(out, f)
		}
		return out, nil
	}
}

func overdueFinding(sev report.Severity, rec *Record) report.Finding {
	return report.Finding{
		Rule: RuleOverdue, Severity: sev, File: rec.Path, Line: firstOr(rec.TODO),
		Message: fmt.Sprintf("emergency-change record overdue since %s (opened %s, %d TODO left): until it is documented only emergency changes may be pushed",
			rec.Due.Format(time.RFC3339), rec.Opened.Format(time.RFC3339), len(rec.TODO)),
		Fix: fmt.Sprintf("replace every TODO in %s, commit it and push it (with this change or before it); 'guard changes' lists the records", rec.Path),
	}
}

// Status is every record and obligation guard judges: the records in the
// work tree and the committed ones, and the obligations with the committed
// record that answers each.
type Status struct {
	Obligations []*Obligation
	// Records are the records in the work tree and the committed trees,
	// each path once (the work tree's version first: what the user sees).
	Records  []*Record
	Problems []error
}

// Load reads the Status: obligations from the history of base (the remote
// branch; "" when there is none yet) and the team's deploy records,
// answered by records committed at base or head.
func Load(ctx context.Context, repo *gitx.Repo, cfg *config.Config, base, head string) (*Status, error) {
	committed, cprobs, err := Committed(ctx, repo, cfg.Rollback.RecordsDir, head, base)
	if err != nil {
		return nil, err
	}
	obs, err := Obligations(ctx, repo, base, TeamLedger(ctx, repo), committed)
	if err != nil {
		return nil, err
	}
	local, lprobs, err := List(repo.Root, cfg.Rollback.RecordsDir)
	if err != nil {
		return nil, err
	}
	st := &Status{Obligations: obs}
	seen := map[string]bool{}
	for _, rec := range append(local, committed...) {
		if !seen[rec.Path] {
			seen[rec.Path] = true
			st.Records = append(st.Records, rec)
		}
	}
	probSeen := map[string]bool{}
	for _, p := range append(lprobs, cprobs...) {
		if !probSeen[p.Error()] {
			probSeen[p.Error()] = true
			st.Problems = append(st.Problems, p)
		}
	}
	return st, nil
}

func firstOr(xs []int) int {
	if len(xs) == 0 {
		return 0
	}
	return xs[0]
}

// FutureDateCheck refuses a push (and fails guard check) that brings an
// emergency commit whose committer date is later than now by more than
// ClockSkew. Its 24-hour deadline runs from when it happened; a date the
// pusher set in the future would move that deadline as far as they like,
// and a clock that wrong misdates the record too. The fix is one command
// away, so even an emergency push is held back until the date is true.
func FutureDateCheck(now func() time.Time) hooks.RangeCheck {
	return func(ctx context.Context, repo *gitx.Repo, cfg *config.Config, r hooks.Range, res *hooks.Result) ([]report.Finding, error) {
		t := now()
		var out []report.Finding
		for _, c := range futureDated(res, t) {
			dated := c.CommitTime
			if ct, err := time.Parse(time.RFC3339, c.CommitTime); err == nil {
				dated = ct.UTC().Format(time.RFC3339)
			}
			out = append(out, report.Finding{
				Rule: RuleFuture, Severity: report.SeverityError, Commit: c.Short(), Subject: c.Subject,
				Message: fmt.Sprintf("emergency commit dated %s, later than now (%s): its record is due 24 hours after the change, so guard does not accept a date in the future",
					dated, t.UTC().Format(time.RFC3339)),
				Fix: "correct the clock (and unset GIT_COMMITTER_DATE), then date the commits anew: git commit --amend --no-edit for the last one, git rebase --force-rebase " + cfg.Remote + "/" + cfg.Branch + " for several; push again",
			})
		}
		return out, nil
	}
}

// futureDated lists the emergency commits of res whose committer date is
// beyond now+ClockSkew (an unreadable date counts: it cannot be trusted
// either).
func futureDated(res *hooks.Result, now time.Time) []gitx.Commit {
	if res == nil {
		return nil
	}
	var out []gitx.Commit
	for _, c := range res.Commits {
		if res.Category[c.Hash] != policy.Emergency {
			continue
		}
		if ct, err := time.Parse(time.RFC3339, c.CommitTime); err != nil || ct.After(now.Add(ClockSkew)) {
			out = append(out, c)
		}
	}
	return out
}

// CommitRecordCheck writes a record for every pushed emergency commit that
// has none yet, and reports each one written as a notice. It acts only on
// a push to a branch (r.Push and r.Branch set: the pre-push hook; `guard check` in CI
// writes nothing), and not when the range is refused anyway.
// The record is a new untracked file for the user to fill in and commit;
// the push goes on.
func CommitRecordCheck(now func() time.Time) hooks.RangeCheck {
	return func(ctx context.Context, repo *gitx.Repo, cfg *config.Config, r hooks.Range, res *hooks.Result) ([]report.Finding, error) {
		if !r.Push || r.Branch == "" || res == nil || report.HasErrors(res.Findings) || len(futureDated(res, now())) > 0 {
			return nil, nil // refused: nothing reaches the branch to document
		}
		var emergency []gitx.Commit
		for _, c := range res.Commits {
			if res.Category[c.Hash] == policy.Emergency {
				emergency = append(emergency, c)
			}
		}
		if len(emergency) == 0 {
			return nil, nil
		}
		recs, _, err := List(repo.Root, cfg.Rollback.RecordsDir)
		if err != nil {
			return nil, err
		}
		operator, _, _ := repo.ConfigValue(ctx, "user.email")
		var out []report.Finding
		for _, c := range emergency {
			if ForCommit(recs, c.Hash) != nil {
				continue
			}
			t := now()
			rec := NewCommit(t)
			rec.Commit, rec.Subject, rec.Operator = c.Hash, c.Subject, operator
			var events []Event
			if ct, err := time.Parse(time.RFC3339, c.CommitTime); err == nil {
				events = append(events, Event{ct, fmt.Sprintf("commit %s %q by %s", c.Short(), c.Subject, c.AuthorEmail)})
			}
			who := operator
			if who == "" {
				who = "(no git user.email)"
			}
			events = append(events, Event{t, fmt.Sprintf("pushed to %s by %s as an emergency change", r.Branch, who)})
			if _, err := Create(repo.Root, cfg.Rollback.RecordsDir, rec, events); err != nil {
				return nil, err
			}
			recs = append(recs, rec)
			out = append(out, report.Finding{
				Rule: RuleWritten, Severity: report.SeverityNotice, File: rec.Path, Commit: c.Short(), Subject: c.Subject,
				Message: fmt.Sprintf("emergency change: wrote its change record (a new, untracked file); document it by %s", rec.Due.Format(time.RFC3339)),
				Fix: fmt.Sprintf("replace every TODO, then: git add %s && git commit -m 'Document emergency change %s' && git push %s %s (a push of records alone may go to %s directly)",
					rec.Path, c.Short(), cfg.Remote, r.Branch, r.Branch),
			})
		}
		return out, nil
	}
}
