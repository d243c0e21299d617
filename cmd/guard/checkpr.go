package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/hooks"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/policy"
	"github.com/guardcm/guard/prgate"
)

// loadPR reads the GitHub Actions event payload when asked to (--pr) or
// when the workflow runs for a pull request.
func loadPR(force bool) (*prgate.Event, error) {
	name := os.Getenv("GITHUB_EVENT_NAME")
	if !force && !prgate.IsPullRequestEvent(name) {
		return nil, nil
	}
	path := os.Getenv("GITHUB_EVENT_PATH")
	if path == "" {
		return nil, fail.Usagef("--pr needs GITHUB_EVENT_PATH, the event payload GitHub Actions writes")
	}
	if name == "" {
		name = "pull_request"
	}
	ev, err := prgate.LoadEvent(name, path)
	if err != nil {
		return nil, fail.Usage(err)
	}
	return ev, nil
}

// prFindings runs the pull-request rules on top of the range result. cfg is
// the base's configuration and the checklist is read at the base commit, so
// a pull request cannot weaken the rules or the checklist it is judged by.
func prFindings(env *Env, repo *gitx.Repo, cfg *config.Config, pr *prgate.Event, r hooks.Range, res *hooks.Result) ([]report.Finding, prgate.Input, error) {
	pcfg := prgate.Config{
		MotivationHeadings: cfg.PR.MotivationHeadings,
		ChecklistFiles:     cfg.PR.ChecklistFiles,
		ChecklistHeading:   cfg.PR.ChecklistHeading,
		ThreatModel:        cfg.Categories.ThreatModel,
		RolloutDir:         cfg.Categories.RolloutDir,
		RecordsDir:         cfg.Rollback.RecordsDir,
	}
	checklist, err := prgate.LoadChecklist(func(p string) ([]byte, error) {
		data, ok, err := repo.Blob(env.Ctx, r.Base, p)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fs.ErrNotExist
		}
		return data, nil
	}, pcfg)
	if err != nil {
		return nil, prgate.Input{}, fail.Usage(err)
	}
	in := prgate.Input{
		Event:            pr,
		Category:         res.Highest,
		CommitCategories: map[policy.Category]int{},
		Checklist:        checklist,
	}
	for _, cat := range res.Category {
		in.CommitCategories[cat]++
	}
	from, ok, err := repo.MergeBase(env.Ctx, r.Base, r.Head)
	if err != nil {
		return nil, in, fail.External(err)
	}
	if !ok {
		from = gitx.EmptyTree
	}
	changes, err := repo.DiffTrees(env.Ctx, from, r.Head)
	if err != nil {
		return nil, in, fail.External(err)
	}
	rolloutDir := strings.TrimSuffix(path.Clean(pcfg.RolloutDir), "/") + "/"
	for _, c := range changes {
		if c.Kind != 'D' {
			in.ChangedPaths = append(in.ChangedPaths, c.Path)
			if strings.HasPrefix(c.Path, rolloutDir) && strings.HasSuffix(c.Path, ".md") {
				data, ok, err := repo.Blob(env.Ctx, r.Head, c.Path)
				if err != nil {
					return nil, in, fail.External(err)
				}
				if ok {
					in.RolloutPlans = append(in.RolloutPlans, prgate.PlanFile{Path: c.Path, Data: data})
				}
			}
		}
	}
	records, err := repo.LsTree(env.Ctx, r.Head, cfg.Rollback.RecordsDir, false)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, in, fail.External(err)
	}
	sort.Strings(records)
	in.ExistingRecords = records
	return prgate.Check(in, pcfg), in, nil
}

// writeSummary appends the Markdown job summary GitHub shows on the run.
func writeSummary(in prgate.Input, findings []report.Finding) error {
	path := os.Getenv("GITHUB_STEP_SUMMARY")
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fail.External(fmt.Errorf("writing the job summary: %w", err))
	}
	defer f.Close()
	_, err = f.WriteString(prgate.Summary(in, findings))
	return err
}
