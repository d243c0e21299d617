package gitx

import (
	"context"
	"fmt"
	"time"
)

// DefaultFetchTimeout bounds FetchBranch when no timeout is given.
const DefaultFetchTimeout = 30 * time.Second

// FetchBranch updates refs/remotes/<remote>/<branch> from the remote with
// the user's git (their credentials and transport), without tags,
// FETCH_HEAD or submodules, within timeout (DefaultFetchTimeout when not
// positive). A timeout says so in the error.
func (r *Repo) FetchBranch(ctx context.Context, remote, branch string, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = DefaultFetchTimeout
	}
	fctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := r.Git(fctx, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules", "--end-of-options",
		remote, "+refs/heads/"+branch+":refs/remotes/"+remote+"/"+branch)
	if err != nil && fctx.Err() != nil && ctx.Err() == nil {
		return fmt.Errorf("gave up after %s: %w", timeout, err)
	}
	return err
}
