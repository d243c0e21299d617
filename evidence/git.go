package evidence

import (
	"context"
	"fmt"
	"time"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/redact"
)

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
	tip, src, err := fetchedBranch(ctx, repo, cfg, fetch, timeout)
	if err != nil {
		return "", src, err
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

// fetchedBranch is remoteBranch's first half: the fetch (when asked) and
// the branch's tip as it stands, which must exist; src has no Revision.
func fetchedBranch(ctx context.Context, repo *gitx.Repo, cfg *config.Config, fetch bool, timeout time.Duration) (string, Source, error) {
	src := Source{Kind: "git", Name: cfg.Remote + "/" + cfg.Branch}
	if fetch {
		if err := repo.FetchBranch(ctx, cfg.Remote, cfg.Branch, timeout); err != nil {
			if ctx.Err() != nil {
				return "", src, ctx.Err()
			}
			src.Note, src.Warning = "not fetched, read as last fetched: "+redact.URLs(err.Error()), true
		}
	}
	tip, ok, err := repo.RefHash(ctx, cfg.RemoteBranchRef())
	if err != nil {
		return "", src, err
	}
	if !ok {
		return "", src, fmt.Errorf("%s does not exist in this clone (fetch it with 'git fetch %s %s')", src.Name, cfg.Remote, cfg.Branch)
	}
	return tip, src, nil
}
