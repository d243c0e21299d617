package hooks

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/policy"
)

// Range is a set of commits to check: those reachable from Head and not
// from any of Exclude (git rev-list Head --not Exclude...).
type Range struct {
	Head    string
	Exclude []string
	// Base is the tree the range is compared with for whole-range rules
	// (threat model, rollout plan, migrations): the remote branch the
	// commits are headed for. "" when there is none (a first push).
	Base string
	// Branch is the short name of the branch being updated ("" for a tag
	// or in CI), for the protected-branch rule.
	Branch string
	// Push is set when the range is a push being made (the pre-push hook),
	// as opposed to a range checked after the fact (guard check in CI):
	// only a push may write files into the work tree.
	Push bool
}

// Result is what CheckRange found.
type Result struct {
	Commits  []gitx.Commit
	Category map[string]policy.Category // by commit hash: the declared (or, if invalid/missing, inferred) category
	Findings []report.Finding
	// Highest is the highest category in the range (emergency counts as its
	// own kind and is reported by AllEmergency).
	Highest policy.Category
	// AllEmergency: every commit is an emergency change or only adds or
	// completes emergency-change records (Records).
	AllEmergency bool
	// Records are the commits that only add or complete records.
	Records []string
}

// RecordsOnly reports whether changes only add or edit Markdown files
// directly in the records folder: the commits that document an emergency.
// Deleting or moving a record away is not documenting one.
func RecordsOnly(changes []gitx.FileChange, recordsDir string) bool {
	dir := strings.TrimSuffix(recordsDir, "/")
	if len(changes) == 0 || dir == "" {
		return false
	}
	in := func(p string) bool { return path.Dir(p) == dir && strings.HasSuffix(p, ".md") }
	for _, fc := range changes {
		switch fc.Kind {
		case 'A', 'M':
			if !in(fc.Path) {
				return false
			}
		case 'R':
			if !in(fc.Path) || !in(fc.OldPath) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// Rule ids of the range checks.
const (
	RuleMissingCategory    = "missing-category"
	RuleInvalidCategory    = "invalid-category"
	RuleUnderstated        = "category-understated"
	RuleProtectedBranch    = "protected-branch"
	RuleThreatModelMissing = "threat-model-missing"
	RuleRolloutPlanMissing = "rollout-plan-missing"
)

// CheckRange runs every commit-range rule over r.
// A shallow clone whose history does not reach the range's base is a
// usage error (exit 2, gitx.UnshallowHint): checking only the commits it
// has would pass a range it never saw.
func CheckRange(ctx context.Context, repo *gitx.Repo, cfg *config.Config, r Range) (*Result, error) {
	if err := repo.RequireRange(ctx, r.Head, r.Exclude...); err != nil {
		return nil, err
	}
	revs := append([]string{r.Head}, notRevs(r.Exclude)...)
	commits, err := repo.Log(ctx, revs...)
	if err != nil {
		return nil, err
	}
	res := &Result{Commits: commits, Category: map[string]policy.Category{}, AllEmergency: len(commits) > 0}
	rules := Rules(cfg)
	commentChar, err := commentChar(ctx, repo)
	if err != nil {
		return nil, err
	}
	var notEmergency []string
	for i := range commits {
		c := &commits[i]
		if c.IsMerge() {
			continue
		}
		msg := policy.ParseMessage(c.Message, commentChar)
		if policy.IsExempt(msg.Subject()) {
			// fixup!/squash! commits are meant to be folded before they
			// land; on a protected branch they still need review.
			notEmergency = append(notEmergency, c.Short())
			res.AllEmergency = false
			continue
		}
		parent := ""
		if len(c.Parents) > 0 {
			parent = c.Parents[0]
		}
		inf, err := policy.Infer(Changes(ctx, repo, c.Hash, parent, c.Changes), rules)
		if err != nil {
			return nil, fmt.Errorf("commit %s: %w", c.Short(), err)
		}
		declared, has, perr := msg.Category()
		cat := declared
		switch {
		case perr != nil:
			cat = inf.Category
			res.Findings = append(res.Findings, report.Finding{
				Rule: RuleInvalidCategory, Severity: report.SeverityError, Commit: c.Short(), Subject: c.Subject,
				Message: perr.Error(),
				Fix:     fmt.Sprintf("reword the commit (git rebase -i) with '%s: %s'", policy.TrailerKey, inf.Category),
			})
		case !has:
			cat = inf.Category
			res.Findings = append(res.Findings, report.Finding{
				Rule: RuleMissingCategory, Severity: report.SeverityError, Commit: c.Short(), Subject: c.Subject,
				Message: fmt.Sprintf("no %s trailer (committed with --no-verify or before guard was installed); this change is %s: %s", policy.TrailerKey, inf.Category, Why(inf)),
				Fix:     fmt.Sprintf("reword the commit (git rebase -i, 'reword') and add '%s: %s'", policy.TrailerKey, inf.Category),
			})
		case policy.Understates(declared, inf.Category):
			cat = inf.Category
			res.Findings = append(res.Findings, report.Finding{
				Rule: RuleUnderstated, Severity: report.SeverityError, Commit: c.Short(), Subject: c.Subject,
				Message: fmt.Sprintf("declared %s but the change is %s: %s", declared, inf.Category, Why(inf)),
				Fix:     fmt.Sprintf("reword the commit with '%s: %s', or split it", policy.TrailerKey, inf.Category),
			})
		}
		res.Category[c.Hash] = cat
		if RecordsOnly(c.Changes, cfg.Rollback.RecordsDir) {
			// Adding or completing emergency-change records is part of
			// the emergency: it may go straight to a protected branch,
			// and never waits for the records it brings.
			res.Records = append(res.Records, c.Hash)
			continue
		}
		if cat != policy.Emergency {
			res.AllEmergency = false
			notEmergency = append(notEmergency, c.Short())
			if cat.Rank() > res.Highest.Rank() {
				res.Highest = cat
			}
		} else if res.Highest == policy.Unknown {
			res.Highest = policy.Emergency
		}
	}
	if r.Branch != "" && cfg.IsProtected(r.Branch) && len(notEmergency) > 0 {
		res.Findings = append(res.Findings, report.Finding{
			Rule: RuleProtectedBranch, Severity: report.SeverityError,
			Message: fmt.Sprintf("direct push to protected branch %q: %d commit(s) are not emergency changes (%s); the policy requires a reviewed pull request", r.Branch, len(notEmergency), strings.Join(limit(notEmergency, 5), ", ")),
			Fix:     fmt.Sprintf("push to a feature branch and open a pull request into %s", r.Branch),
		})
	}
	hasMajor := false
	for _, cat := range res.Category {
		if cat == policy.Major {
			hasMajor = true
		}
	}
	if hasMajor {
		fs, err := majorRequirements(ctx, repo, cfg, r, res)
		if err != nil {
			return nil, err
		}
		res.Findings = append(res.Findings, fs...)
	}
	return res, nil
}

func notRevs(exclude []string) []string {
	if len(exclude) == 0 {
		return nil
	}
	return append([]string{"--not"}, exclude...)
}

func limit(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(append([]string{}, s[:n]...), fmt.Sprintf("and %d more", len(s)-n))
}

// majorRequirements: a range with a major commit must itself change the
// threat model and add a rollout plan — the policy's "threat model update +
// rollout plan" for major changes.
func majorRequirements(ctx context.Context, repo *gitx.Repo, cfg *config.Config, r Range, res *Result) ([]report.Finding, error) {
	changed, err := rangePaths(ctx, repo, r, res.Commits)
	if err != nil {
		return nil, err
	}
	var majors []string
	for _, c := range res.Commits {
		if res.Category[c.Hash] == policy.Major {
			majors = append(majors, c.Short())
		}
	}
	sort.Strings(majors)
	tm := cfg.Categories.ThreatModel
	rd := strings.TrimSuffix(cfg.Categories.RolloutDir, "/")
	var threat, rollout bool
	for p, kind := range changed {
		if p == tm && kind != 'D' {
			threat = true
		}
		if strings.HasPrefix(p, rd+"/") && (kind == 'A' || kind == 'R' || kind == 'C') && path.Base(p) != ".gitkeep" {
			rollout = true
		}
	}
	var fs []report.Finding
	if !threat {
		fs = append(fs, report.Finding{
			Rule: RuleThreatModelMissing, Severity: report.SeverityError, File: tm,
			Message: fmt.Sprintf("major change (%s) without an update of the threat model", strings.Join(limit(majors, 5), ", ")),
			Fix:     fmt.Sprintf("update %s in this push to cover the new service, trust boundary or data category", tm),
		})
	}
	if !rollout {
		fs = append(fs, report.Finding{
			Rule: RuleRolloutPlanMissing, Severity: report.SeverityError, File: rd + "/",
			Message: fmt.Sprintf("major change (%s) without a rollout plan", strings.Join(limit(majors, 5), ", ")),
			Fix:     fmt.Sprintf("add a rollout plan under %s/ (steps, verification, rollback) in this push", rd),
		})
	}
	return fs, nil
}

// rangePaths is what the whole range changes: the diff from the base to the
// head when there is a base, else the union of the range's commits' own
// changes (already read by CheckRange).
func rangePaths(ctx context.Context, repo *gitx.Repo, r Range, commits []gitx.Commit) (map[string]byte, error) {
	out := map[string]byte{}
	if r.Base != "" {
		// From the merge base, like a pull request's diff: changes that
		// reached the base after the branch forked are not this range's.
		from, ok, err := repo.MergeBase(ctx, r.Base, r.Head)
		if err != nil {
			return nil, err
		}
		if !ok {
			from = gitx.EmptyTree
		}
		fcs, err := repo.DiffTrees(ctx, from, r.Head)
		if err != nil {
			return nil, err
		}
		for _, fc := range fcs {
			out[fc.Path] = fc.Kind
		}
		return out, nil
	}
	for _, c := range commits {
		for _, fc := range c.Changes {
			if _, seen := out[fc.Path]; !seen || fc.Kind == 'A' {
				out[fc.Path] = fc.Kind
			}
		}
	}
	return out, nil
}
