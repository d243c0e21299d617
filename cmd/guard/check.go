package main

import (
	"fmt"

	"github.com/guardcm/guard/hooks"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/prgate"
)

// CheckCmd checks a commit range in CI: the pre-push rules without the
// configured commands.
type CheckCmd struct {
	Base   string `help:"Commits reachable from this ref are not checked (default: <remote>/<branch>)." placeholder:"REF"`
	Head   string `help:"The last commit to check." default:"HEAD" placeholder:"REF"`
	Format string `help:"Output format: text, json or github." enum:"text,json,github" default:"text"`
	PR     bool   `name:"pr" help:"Also check the pull request (description, checklist, declared category) from $GITHUB_EVENT_PATH; automatic when GITHUB_EVENT_NAME is pull_request."`
}

// Run checks the range and prints the findings. The rules — guard.toml,
// the category rules, the headings and the checklist — are the base's: a
// change cannot set the rules it is judged by (policy-change findings name
// what it changes for after it merges).
func (c *CheckCmd) Run(env *Env) error {
	repo, err := env.Repo()
	if err != nil {
		return err
	}
	pr, err := loadPR(c.PR)
	if err != nil {
		return err
	}
	base := c.Base
	head := c.Head
	if pr != nil {
		if base == "" {
			base = pr.BaseSHA
		}
		if head == "HEAD" {
			head = pr.HeadSHA
		}
	}
	if base == "" {
		// Only where the base is found comes from the work tree.
		wcfg, err := env.Config()
		if err != nil {
			return err
		}
		base = wcfg.RemoteBranchRef()
	}
	baseHash, err := resolveFlag(env, repo, "base", base)
	if err != nil {
		return err
	}
	headHash, err := resolveFlag(env, repo, "head", head)
	if err != nil {
		return err
	}
	cfg, err := hooks.ConfigAt(env.Ctx, repo, baseHash)
	if err != nil {
		return err
	}
	r := hooks.Range{Head: headHash, Exclude: []string{baseHash}, Base: baseHash}
	res, err := hooks.CheckRange(env.Ctx, repo, cfg, r)
	if err != nil {
		return hooks.ClassifyError(err)
	}
	findings := res.Findings
	for _, extra := range append(rangeExtras(env), hooks.PolicyChangeCheck) {
		fs, err := extra(env.Ctx, repo, cfg, r, res)
		if err != nil {
			return hooks.ClassifyError(err)
		}
		findings = append(findings, fs...)
	}
	var prIn prgate.Input
	if pr != nil {
		fs, in, err := prFindings(env, repo, cfg, pr, r, res)
		if err != nil {
			return err
		}
		prIn = in
		findings = append(findings, fs...)
	}
	report.Sort(findings)
	if pr != nil && c.Format == "github" {
		if err := writeSummary(prIn, findings); err != nil {
			return err
		}
	}
	if err := writeFindings(env, c.Format, findings); err != nil {
		return err
	}
	if report.HasErrors(findings) {
		return fail.AlreadyReported(fail.KindRefused, fmt.Sprintf("%d commit(s) checked: policy violations found", len(res.Commits)))
	}
	if c.Format == "text" {
		fmt.Fprintf(env.Stderr, "guard: %d commit(s) checked, highest category %s\n", len(res.Commits), res.Highest)
	}
	return nil
}

// resolveFlag resolves the commit a --base or --head flag (what) names.
func resolveFlag(env *Env, repo *gitx.Repo, what, ref string) (string, error) {
	hash, ok, err := repo.ResolveCommit(env.Ctx, ref)
	if err != nil {
		return "", fail.External(err)
	}
	if !ok {
		err := fmt.Errorf("%s %q does not name a commit in this clone", what, ref)
		if edges, serr := repo.ShallowCommits(); serr == nil && len(edges) > 0 {
			return "", fail.Usage(fmt.Errorf("%w: the clone is shallow", err), gitx.UnshallowHint)
		}
		return "", fail.Usage(err)
	}
	return hash, nil
}

// writeFindings prints findings in format: text on stderr with guard's
// other messages, json and github on stdout for machines.
func writeFindings(env *Env, format string, findings []report.Finding) error {
	out := env.Stderr
	if format != "text" {
		out = env.Stdout
	}
	if err := report.Write(out, report.Format(format), findings); err != nil {
		return fail.External(err)
	}
	return nil
}

// rangeExtras are the whole-range checks that pre-push and check share
// beyond the commit rules.
func rangeExtras(env *Env) []hooks.RangeCheck {
	return append([]hooks.RangeCheck{hooks.MigrationsCheck}, recordChecks()...)
}
