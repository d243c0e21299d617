package evidence

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/proc"
	"github.com/guardcm/guard/internal/redact"
)

// fetchBranch updates <remote>/<branch> with the user's git, within
// timeout (30 s when unset).
func fetchBranch(ctx context.Context, repo *gitx.Repo, remote, branch string, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	fctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := repo.Git(fctx, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules", "--end-of-options",
		remote, "+refs/heads/"+branch+":refs/remotes/"+remote+"/"+branch)
	if err != nil && fctx.Err() != nil && ctx.Err() == nil {
		return fmt.Errorf("gave up after %s: %w", timeout, err)
	}
	return err
}

// remoteBranch reads <remote>/<branch> for a collector as it stood at
// asOf: it fetches the branch first when fetch is set (a failure is noted
// on the source and the last fetched branch is read), resolves its tip,
// which must exist, and returns the newest first-parent commit of the tip
// committed at or before asOf ("" when the branch has none yet) with its
// source for the document (Name <remote>/<branch>, Revision that commit).
// Git records no push time, so the commit time is the only clock the
// branch has: reading the branch this way is what lets a past period be
// collected again with the same result, whatever was pushed since.
func remoteBranch(ctx context.Context, repo *gitx.Repo, cfg *config.Config, fetch bool, timeout time.Duration, asOf time.Time) (string, Source, error) {
	ref := cfg.RemoteBranchRef()
	src := Source{Kind: "git", Name: cfg.Remote + "/" + cfg.Branch}
	if fetch {
		if err := fetchBranch(ctx, repo, cfg.Remote, cfg.Branch, timeout); err != nil {
			if ctx.Err() != nil {
				return "", src, ctx.Err()
			}
			src.Note, src.Warning = "not fetched, read as last fetched: "+redact.URLs(err.Error()), true
		}
	}
	tip, ok, err := repo.RefHash(ctx, ref)
	if err != nil {
		return "", src, err
	}
	if !ok {
		return "", src, fmt.Errorf("%s does not exist in this clone (fetch it with 'git fetch %s %s')", src.Name, cfg.Remote, cfg.Branch)
	}
	commit, err := repo.GitLine(ctx, "rev-list", "--max-count=1", "--first-parent",
		"--before="+asOf.UTC().Format(time.RFC3339), tip, "--")
	if err != nil {
		return "", src, err
	}
	if commit == "" && src.Note == "" {
		src.Note = "no commit at or before " + asOf.UTC().Format(time.RFC3339)
	}
	src.Revision = commit
	return commit, src, nil
}

// isAncestor reports whether commit is reachable from ref; ok=false when
// the commit is not in this clone at all.
func isAncestor(ctx context.Context, repo *gitx.Repo, commit, ref string) (onBranch, known bool, err error) {
	if _, ok, err := repo.ResolveCommit(ctx, commit); err != nil || !ok {
		return false, false, err
	}
	_, err = repo.Git(ctx, "merge-base", "--is-ancestor", commit, ref)
	if err == nil {
		return true, true, nil
	}
	var ee *proc.ExitError
	if errors.As(err, &ee) && ee.Code == 1 {
		return false, true, nil
	}
	return false, true, err
}
