package gitx

import (
	"context"
	"errors"

	"github.com/guardcm/guard/internal/proc"
)

// IsAncestor reports whether commit is reachable from ref. known is false
// when this clone does not have the commit at all (then reachable is false
// too: nothing can be said until it is fetched).
func (r *Repo) IsAncestor(ctx context.Context, commit, ref string) (reachable, known bool, err error) {
	if _, ok, err := r.ResolveCommit(ctx, commit); err != nil || !ok {
		return false, false, err
	}
	_, err = r.Git(ctx, "merge-base", "--is-ancestor", commit, ref)
	if err == nil {
		return true, true, nil
	}
	var ee *proc.ExitError
	if errors.As(err, &ee) && ee.Code == 1 {
		return false, true, nil
	}
	return false, true, err
}
