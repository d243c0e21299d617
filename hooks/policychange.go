package hooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/report"
)

// RulePolicyChange marks a range that changes the rules guard judges by.
const RulePolicyChange = "policy-change"

// workflowsDir is where CI workflows live (GitHub Actions); guard's own is
// the one that runs guard.
const workflowsDir = ".github/workflows/"

// ConfigAt loads guard.toml as it is at rev: the rules a range headed for
// rev is judged by, whatever the work tree (a pull request's head) says.
// No guard.toml at rev means the defaults. A file that does not parse is a
// usage error located as "guard.toml@<short rev>:line:col".
func ConfigAt(ctx context.Context, repo *gitx.Repo, rev string) (*config.Config, error) {
	data, ok, err := repo.Blob(ctx, rev, config.FileName)
	if err != nil {
		return nil, fail.External(err)
	}
	if !ok {
		cfg := config.Defaults()
		cfg.Source = fmt.Sprintf("defaults (no %s at %s)", config.FileName, gitx.ShortHash(rev))
		return cfg, nil
	}
	cfg, err := config.Parse(config.FileName+"@"+gitx.ShortHash(rev), data)
	if err != nil {
		return nil, fail.Usage(err, fmt.Sprintf("the rules come from %s at %s: fix it there", config.FileName, gitx.ShortHash(rev)))
	}
	return cfg, nil
}

// PolicyChangeCheck reports a range that changes the policy guard enforces:
// guard.toml (naming every effective setting that changes), the
// self-review checklist files, guard's CI workflow (a workflow file that
// runs guard before or after) and the ledger's allowed-signers file. The
// range is judged by cfg, the base's rules; the finding (a warning) tells
// reviewers that the new rules apply once the change merges. A guard.toml
// that does not parse at the head is an error: guard would stop working
// after the merge.
func PolicyChangeCheck(ctx context.Context, repo *gitx.Repo, cfg *config.Config, r Range, _ *Result) ([]report.Finding, error) {
	if r.Base == "" {
		return nil, nil
	}
	from, ok, err := repo.MergeBase(ctx, r.Base, r.Head)
	if err != nil {
		return nil, err
	}
	if !ok {
		from = gitx.EmptyTree
	}
	changes, err := repo.DiffTrees(ctx, from, r.Head)
	if err != nil {
		return nil, err
	}
	changed := map[string]bool{}
	for _, c := range changes {
		changed[c.Path] = true
		if c.OldPath != "" {
			changed[c.OldPath] = true
		}
	}
	var fs []report.Finding
	add := func(file, msg string, sev report.Severity) {
		fs = append(fs, report.Finding{
			Rule: RulePolicyChange, Severity: sev, File: file,
			Message: msg,
			Fix:     "reviewers: this change is judged by the base's rules; the rules it writes apply to every change after it merges",
		})
	}

	var head *config.Config
	if changed[config.FileName] {
		head, err = ConfigAt(ctx, repo, r.Head)
		switch {
		case err != nil && fail.KindOf(err) == fail.KindUsage:
			add(config.FileName, fmt.Sprintf("%s changes and does not parse at the head: %v", config.FileName, errors.Unwrap(err)), report.SeverityError)
			head = nil
		case err != nil:
			return nil, err
		default:
			var parts []string
			for _, c := range config.Diff(cfg, head) {
				parts = append(parts, c.String())
			}
			msg := fmt.Sprintf("%s changes, but no effective setting does", config.FileName)
			if len(parts) > 0 {
				msg = fmt.Sprintf("%s changes the policy: %s", config.FileName, strings.Join(parts, "; "))
			}
			add(config.FileName, msg, report.SeverityWarning)
		}
	}

	// Files the policy is made of, by the base's configuration and by the
	// head's (a change that moves the checklist changes both).
	kinds := map[string]string{}
	for _, c := range []*config.Config{cfg, head} {
		if c == nil {
			continue
		}
		for _, p := range c.PR.ChecklistFiles {
			kinds[p] = "the self-review checklist"
		}
		for _, p := range policyFiles(c) {
			kinds[p.path] = p.what
		}
	}
	var paths []string
	for p := range changed {
		if _, ok := kinds[p]; ok {
			paths = append(paths, p)
		} else if strings.HasPrefix(p, workflowsDir) && path.Dir(p)+"/" == workflowsDir {
			runs, err := runsGuard(ctx, repo, p, r.Base, r.Head)
			if err != nil {
				return nil, err
			}
			if runs {
				kinds[p] = "guard's CI workflow"
				paths = append(paths, p)
			}
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		what := "changes"
		if _, ok, err := repo.Blob(ctx, r.Head, p); err != nil {
			return nil, err
		} else if !ok {
			what = "is deleted"
		}
		add(p, fmt.Sprintf("%s %s", kinds[p], what), report.SeverityWarning)
	}
	return fs, nil
}

type policyFile struct{ path, what string }

// policyFiles are the tracked files besides guard.toml and the checklist
// whose content is policy.
func policyFiles(c *config.Config) []policyFile {
	var out []policyFile
	if p := c.Ledger.AllowedSigners; p != "" {
		out = append(out, policyFile{p, "the deploy records' allowed signers"})
	}
	return out
}

// runsGuard reports whether a workflow file runs guard at base or at head.
func runsGuard(ctx context.Context, repo *gitx.Repo, file string, revs ...string) (bool, error) {
	for _, rev := range revs {
		data, ok, err := repo.Blob(ctx, rev, file)
		if err != nil {
			return false, err
		}
		if ok && (bytes.Contains(data, []byte("guard check")) || bytes.Contains(data, []byte("guardcm/guard"))) {
			return true, nil
		}
	}
	return false, nil
}
