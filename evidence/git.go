package evidence

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/proc"
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
