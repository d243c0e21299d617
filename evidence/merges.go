package evidence

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/hooks"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/policy"
	"github.com/guardcm/guard/records"
)

// Kinds of change that reach the branch.
const (
	KindMerge      = "merge"       // a merge commit (a pull request's, or a local merge pushed)
	KindSquash     = "squash"      // a single-parent commit whose subject ends "(#N)"
	KindDirectPush = "direct-push" // a single-parent commit without a pull-request number
)

// Rule ids of the collectors' findings.
const (
	RuleDirectPush            = "direct-push"
	RuleEmergencyNoRecord     = "emergency-without-record"
	RuleEmergencyOverdue      = records.RuleOverdue
	RuleOutsideDeploy         = "outside-deploy"
	RuleCommitNotOnBranch     = "commit-not-on-branch"
	RuleRollbackWithoutRecord = "rollback-without-record"
	RuleRecordsDisagree       = "records-disagree"
	RuleNoBranchProtection    = "no-branch-protection"
	RuleNoRequiredReviews     = "no-required-reviews"
	RuleNoRequiredChecks      = "no-required-checks"
	RuleAdminsBypass          = "admins-bypass"
	RuleForcePushAllowed      = "force-push-allowed"
	RuleHooksNotInstalled     = "hooks-not-installed"
	RuleBranchNotProtected    = "branch-not-protected-locally"
	RuleProviderNotChecked    = "provider-not-checked"
)

// Review trailers recorded for each change.
var reviewTrailers = []string{"Reviewed-by", "Approved-by"}

// Change is one change that reached the branch: a first-parent commit.
type Change struct {
	Commit string `json:"commit"`
	// Kind is KindMerge, KindSquash or KindDirectPush.
	Kind string `json:"kind"`
	// PullRequest is the number from the subject, 0 when there is none.
	PullRequest int    `json:"pull_request,omitempty"`
	Subject     string `json:"subject"`
	// Author is the first-parent commit's author: for a merge, who merged.
	Author string `json:"author"`
	// Time is the commit time (UTC): when it was committed on the branch
	// (git records no push time).
	Time time.Time `json:"time"`
	// Categories are the distinct categories of Commits, in the policy's
	// order (standard, normal, major, emergency, unknown).
	Categories []string `json:"categories"`
	// Commits are the non-merge commits the change brought, oldest first
	// (for a single-parent change, the commit itself).
	Commits []ChangeCommit `json:"commits"`
	// Reviews are the Reviewed-by and Approved-by trailers of the change's
	// commit and of the commits it brought, in that order.
	Reviews []Review `json:"reviews"`
	// Emergency lists each emergency commit with its record's state.
	Emergency []EmergencyChange `json:"emergency"`
	// OutOfOrder says why Time was not believed when choosing the period
	// (RuleDateOutOfOrder); "" when it was.
	OutOfOrder string `json:"out_of_order,omitempty"`
}

// ChangeCommit is one commit a change brought.
type ChangeCommit struct {
	Commit  string    `json:"commit"`
	Subject string    `json:"subject"`
	Author  string    `json:"author"`
	Time    time.Time `json:"time"`
	// Category is the effective category: the declared one, or the
	// inferred one when the trailer is missing, invalid or understated
	// (a finding says which).
	Category string `json:"category"`
	// Declared is the Change-Category trailer's value as written, "" when
	// there is none.
	Declared string `json:"declared"`
}

// Review is one review trailer.
type Review struct {
	Trailer string `json:"trailer"`
	Value   string `json:"value"`
	Commit  string `json:"commit"`
}

// EmergencyChange is an emergency commit and the state of its
// emergency-change record.
type EmergencyChange struct {
	Commit string `json:"commit"`
	// Record is the record's repository-relative path, "" when none names
	// the commit.
	Record string `json:"record"`
	// State is the record's state (open, overdue, documented) or
	// RecordMissing.
	State string `json:"state"`
	// Due is when the record must be documented: the commit time + 24 h,
	// or the record's own due time when that is earlier.
	Due time.Time `json:"due"`
}

// MergeOptions are the inputs of MergeActivity.
type MergeOptions struct {
	Repo   *gitx.Repo
	Config *config.Config
	// Period is the period covered; records are judged at its end.
	Period    Period
	Generator string
	// Fetch updates <remote>/<branch> first, bounded by FetchTimeout; a
	// failure is noted in the document's sources, not fatal.
	Fetch        bool
	FetchTimeout time.Duration
	// Records reads the emergency-change records; nil means ReadRecords.
	Records RecordReader
	// Now is the clock a commit dated in the future is judged by; nil is
	// time.Now.
	Now func() time.Time
}

var (
	mergeSubject  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^Merge pull request #([0-9]+) from `) })
	squashSubject = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\(#([0-9]+)\)$`) })
)

// PullRequestNumber reads the pull-request number from a first-parent
// commit's subject: GitHub's merge commit ("Merge pull request #N from
// ...") for merges, the "(#N)" suffix GitHub adds to squash merges for
// single-parent commits. 0 when there is none.
func PullRequestNumber(subject string, merge bool) int {
	re := squashSubject
	if merge {
		re = mergeSubject
	}
	m := re().FindStringSubmatch(strings.TrimSpace(subject))
	if m == nil {
		return 0
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// MergeActivity lists every change that reached <remote>/<branch> in the
// period by walking its first-parent history, with the categories of the
// commits each brought, their review trailers and, for emergency commits,
// the state of their records. Direct pushes (first-parent commits without
// a pull-request number) to a protected branch are findings: errors, or
// notices when every commit pushed is an emergency change (the policy lets
// those go first). Changes are in first-parent order, oldest first.
func MergeActivity(ctx context.Context, o MergeOptions) (*Document, error) {
	repo, cfg := o.Repo, o.Config
	doc := newDocument(CollectorMergeActivity, o.Period, o.Generator)
	head, branchSrc, err := fetchedBranch(ctx, repo, cfg, o.Fetch, o.FetchTimeout)
	if err != nil {
		return nil, err
	}
	// A shallow clone whose history stops inside the period would give a
	// shorter answer that looks complete.
	if err := repo.RequireSince(ctx, cfg.RemoteBranchRef(), o.Period.From); err != nil {
		return nil, err
	}
	// The commits are chosen by where they sit on the branch, not by the
	// dates they claim (landing.go): the branch as it stands now is read.
	now := time.Now()
	if o.Now != nil {
		now = o.Now()
	}
	if now.Before(doc.AsOf) {
		now = doc.AsOf
	}
	lands, err := firstParentLandings(ctx, repo, head, now)
	if err != nil {
		return nil, err
	}
	tip := lastAtOrBefore(lands, doc.AsOf)
	branchSrc.Revision = tip
	if tip == "" && branchSrc.Note == "" {
		branchSrc.Note = "no commit at or before " + doc.AsOf.Format(time.RFC3339)
	}
	doc.Sources = append(doc.Sources, branchSrc)
	if tip == "" {
		doc.Items = []Change{}
		return doc, nil
	}

	recs, err := collectRecords(ctx, doc, o.Records, repo, cfg, tip)
	if err != nil {
		return nil, err
	}

	period := inPeriod(lands, o.Period)
	landed := map[string]landing{}
	hashes := make([]string, 0, len(period))
	for i := len(period) - 1; i >= 0; i-- { // newest first: Log reverses
		landed[period[i].hash] = period[i]
		hashes = append(hashes, period[i].hash)
	}
	var commits []gitx.Commit
	if len(hashes) > 0 {
		if commits, err = repo.Log(ctx, append([]string{"--no-walk=unsorted"}, hashes...)...); err != nil {
			return nil, err
		}
	}
	commentChar, _, err := repo.ConfigValue(ctx, "core.commentChar")
	if err != nil {
		return nil, err
	}
	protected := cfg.IsProtected(cfg.Branch)
	changes := []Change{}
	for i := range commits {
		c := &commits[i]
		t, err := parseGitTime(c.CommitTime)
		if err != nil {
			return nil, fmt.Errorf("commit %s: %w", c.Short(), err)
		}
		l, ok := landed[c.Hash]
		if !ok {
			continue
		}
		ch, fs, err := describeChange(ctx, repo, cfg, c, t, commentChar)
		if err != nil {
			return nil, err
		}
		if l.disorder != "" {
			ch.OutOfOrder = l.disorder
			doc.Findings = append(doc.Findings, report.Finding{
				Rule: RuleDateOutOfOrder, Severity: report.SeverityWarning, Commit: c.Short(), Subject: c.Subject,
				Message: fmt.Sprintf("first-parent commit %s: its committer date is not believed (%s); it is listed in the period it cannot have landed after (%s)",
					c.Short(), l.disorder, l.at.Format(time.RFC3339)),
				Fix: "a wrong clock or a forged date: find who pushed it in the hosting service's audit log",
			})
		}
		doc.Findings = append(doc.Findings, fs...)
		for _, cc := range ch.Commits {
			if cc.Category != policy.Emergency.String() {
				continue
			}
			ec, f := emergencyState(recs, cc, doc.AsOf)
			ch.Emergency = append(ch.Emergency, ec)
			if f != nil {
				doc.Findings = append(doc.Findings, *f)
			}
		}
		if ch.PullRequest == 0 && protected {
			doc.Findings = append(doc.Findings, directPushFinding(ch, cfg.Branch))
		}
		changes = append(changes, ch)
	}
	doc.Items = changes
	return doc, nil
}

func parseGitTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("unreadable commit time %q", s)
	}
	return t.UTC(), nil
}

// describeChange reads one first-parent commit and the commits it brought.
func describeChange(ctx context.Context, repo *gitx.Repo, cfg *config.Config, c *gitx.Commit, t time.Time, commentChar string) (Change, []report.Finding, error) {
	ch := Change{
		Commit:     c.Hash,
		Subject:    c.Subject,
		Author:     c.AuthorEmail,
		Time:       t,
		Categories: []string{},
		Commits:    []ChangeCommit{},
		Reviews:    []Review{},
		Emergency:  []EmergencyChange{},
	}
	merge := c.IsMerge()
	ch.PullRequest = PullRequestNumber(c.Subject, merge)
	switch {
	case merge:
		ch.Kind = KindMerge
	case ch.PullRequest > 0:
		ch.Kind = KindSquash
	default:
		ch.Kind = KindDirectPush
	}
	r := hooks.Range{Head: c.Hash}
	if len(c.Parents) > 0 {
		r.Exclude = []string{c.Parents[0]}
		r.Base = c.Parents[0]
	}
	res, err := hooks.CheckRange(ctx, repo, cfg, r)
	if err != nil {
		return ch, nil, fmt.Errorf("commit %s: %w", c.Short(), err)
	}
	ch.Reviews = append(ch.Reviews, reviews(c.Hash, c.Message, commentChar)...)
	seen := map[string]bool{}
	for i := range res.Commits {
		bc := &res.Commits[i]
		if bc.IsMerge() {
			continue
		}
		bt, err := parseGitTime(bc.CommitTime)
		if err != nil {
			return ch, nil, fmt.Errorf("commit %s: %w", bc.Short(), err)
		}
		msg := policy.ParseMessage(bc.Message, commentChar)
		declared := ""
		for _, tr := range msg.Trailers() {
			if strings.EqualFold(tr.Key, policy.TrailerKey) {
				declared = tr.Value
			}
		}
		cat := policy.Unknown
		if v, ok := res.Category[bc.Hash]; ok {
			cat = v
		}
		ch.Commits = append(ch.Commits, ChangeCommit{
			Commit: bc.Hash, Subject: bc.Subject, Author: bc.AuthorEmail, Time: bt,
			Category: cat.String(), Declared: declared,
		})
		seen[cat.String()] = true
		if bc.Hash != c.Hash {
			ch.Reviews = append(ch.Reviews, reviews(bc.Hash, bc.Message, commentChar)...)
		}
	}
	for _, cat := range []policy.Category{policy.Standard, policy.Normal, policy.Major, policy.Emergency, policy.Unknown} {
		if seen[cat.String()] {
			ch.Categories = append(ch.Categories, cat.String())
		}
	}
	return ch, res.Findings, nil
}

// reviews returns the review trailers of a message, in order.
func reviews(hash string, message []byte, commentChar string) []Review {
	var out []Review
	for _, tr := range policy.ParseMessage(message, commentChar).Trailers() {
		for _, k := range reviewTrailers {
			if strings.EqualFold(tr.Key, k) {
				out = append(out, Review{Trailer: k, Value: tr.Value, Commit: hash})
			}
		}
	}
	return out
}

func directPushFinding(ch Change, branch string) report.Finding {
	allEmergency := len(ch.Commits) > 0
	for _, c := range ch.Commits {
		if c.Category != policy.Emergency.String() {
			allEmergency = false
		}
	}
	what := "commit without a pull request"
	if ch.Kind == KindMerge {
		what = "merge commit without a pull-request number (merged locally and pushed)"
	}
	f := report.Finding{
		Rule: RuleDirectPush, Severity: report.SeverityError, Commit: gitx.ShortHash(ch.Commit), Subject: ch.Subject,
		Message: fmt.Sprintf("%s on protected branch %q, by %s: the policy requires a reviewed pull request", what, branch, ch.Author),
		Fix:     "review the change after the fact in a pull request, and enable branch protection so it cannot happen again",
	}
	if allEmergency {
		f.Severity = report.SeverityNotice
		f.Message = fmt.Sprintf("emergency change pushed directly to protected branch %q by %s: allowed, its record must document it within 24 hours", branch, ch.Author)
		f.Fix = ""
	}
	return f
}

// emergencyState finds the record of an emergency commit and judges it at
// now with the rule guard changes and the pre-push hook apply
// (records.Obligation): the 24 hours run from the commit, so a record's
// own due time counts only when it is earlier (a record opened at the
// incident, before the fix was committed); a due time edited later buys
// nothing. A commit dated beyond now is overdue until documented.
func emergencyState(recs []*records.Record, c ChangeCommit, now time.Time) (EmergencyChange, *report.Finding) {
	ob := records.Obligation{Kind: records.KindCommit, Commit: c.Commit, Subject: c.Subject,
		At: c.Time.UTC(), Due: recordDue(c.Time).UTC(), Dated: c.Time.UTC(), Record: records.ForCommit(recs, c.Commit)}
	if ob.Record != nil && !ob.Record.Due.IsZero() && ob.Record.Due.Before(ob.Due) {
		ob.Due = ob.Record.Due.UTC()
	}
	state := ob.State(now)
	ec := EmergencyChange{Commit: c.Commit, State: string(state), Due: ob.Due}
	if ob.Record != nil {
		ec.Record = ob.Record.Path
	}
	future := ""
	if ob.FutureDated(now) {
		future = fmt.Sprintf(" (it is dated %s, after this document: a deadline cannot run from a date in the future)", ob.Dated.Format(time.RFC3339))
	}
	switch {
	case ob.Record == nil:
		ec.State = RecordMissing
		f := &report.Finding{Rule: RuleEmergencyNoRecord, Severity: report.SeverityWarning, Commit: gitx.ShortHash(c.Commit), Subject: c.Subject,
			Message: fmt.Sprintf("emergency change without an emergency-change record; it must be documented by %s", ob.Due.Format(time.RFC3339)),
			Fix:     "push the record guard wrote for the commit (or write one in the emergency-changes folder) once it is filled in"}
		if state == records.StateOverdue {
			f.Severity = report.SeverityError
			f.Message = fmt.Sprintf("emergency change without an emergency-change record, due %s%s", ob.Due.Format(time.RFC3339), future)
		}
		return ec, f
	case state == records.StateOverdue:
		return ec, &report.Finding{Rule: RuleEmergencyOverdue, Severity: report.SeverityError, File: ob.Record.Path, Commit: gitx.ShortHash(c.Commit), Subject: c.Subject,
			Message: fmt.Sprintf("emergency-change record still has %d TODO line(s) past its due time %s%s", len(ob.Record.TODO), ob.Due.Format(time.RFC3339), future),
			Fix:     "replace every TODO in the record, commit it and push it"}
	}
	return ec, nil
}
