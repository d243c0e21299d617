package history

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/ledger"
)

// Serving is what production runs as far as git can tell: the newest
// deployment the Cloudflare API lists whose every version carries, in its
// workers/tag annotation (guard deploy's --tag), a commit this clone has.
//
// It is the base of what a deploy checks and records. Records (this
// clone's ledger, the team's notes) are claims that anyone who can push
// the notes ref can write; making Cloudflare serve a version takes the API
// token. So the base is read from Cloudflare, and a record is compared with
// it (Disagreement), never preferred to it.
type Serving struct {
	Deployment cfapi.Deployment
	// Commits are the commits of Deployment.Versions, in its order.
	Commits []string
	// Base is the commit every served version builds on: the only one's,
	// or the merge base of a split's (a gradual deploy under way), so the
	// range Base..HEAD covers what HEAD changes for every user.
	Base string
	// Passed says, newest first, why each newer deployment is not the one
	// (a version deployed outside guard, a commit this clone lacks): empty
	// when Deployment is the worker's active deployment.
	Passed []string
}

// ReadServing finds the Serving deployment among deps (the worker's
// deployments, newest first, as cfapi.Client.Deployments lists them),
// reading each served version's annotations. It returns nil when no listed
// deployment qualifies; the descriptions of the ones passed over are
// returned either way. Errors are the API's, or git's.
func ReadServing(ctx context.Context, repo *gitx.Repo, api *cfapi.Client, worker string, deps []cfapi.Deployment) (*Serving, []string, error) {
	versions := map[string]*cfapi.Version{}
	var passed []string
	for _, d := range deps {
		commits, why, err := servedCommits(ctx, repo, api, worker, d, versions)
		if err != nil {
			return nil, passed, err
		}
		base := ""
		if why == "" {
			if base, why, err = commonBase(ctx, repo, commits); err != nil {
				return nil, passed, err
			}
		}
		if why != "" {
			passed = append(passed, fmt.Sprintf("deployment %s (%s): %s", d.ID, d.CreatedOn.UTC().Format(time.RFC3339), why))
			continue
		}
		return &Serving{Deployment: d, Commits: commits, Base: base, Passed: passed}, passed, nil
	}
	return nil, passed, nil
}

// servedCommits reads the commit of each version d serves; why says why
// d does not qualify ("" when it does).
func servedCommits(ctx context.Context, repo *gitx.Repo, api *cfapi.Client, worker string, d cfapi.Deployment, versions map[string]*cfapi.Version) (commits []string, why string, err error) {
	if len(d.Versions) == 0 {
		return nil, "it serves no version", nil
	}
	for _, dv := range d.Versions {
		v, ok := versions[dv.VersionID]
		if !ok {
			v, err = api.Version(ctx, worker, dv.VersionID)
			if cfapi.IsNotFound(err) {
				v, err = nil, nil
			}
			if err != nil {
				return nil, "", err
			}
			versions[dv.VersionID] = v
		}
		if v == nil {
			return nil, fmt.Sprintf("the Cloudflare API does not describe version %s", dv.VersionID), nil
		}
		if why := tagNotCommit(v); why != "" {
			return nil, why + " (deployed outside guard)", nil
		}
		if _, known, err := repo.ResolveCommit(ctx, v.Tag); err != nil {
			return nil, "", err
		} else if !known {
			return nil, fmt.Sprintf("version %s's commit %s is not in this clone (git fetch)", v.ID, gitx.ShortHash(v.Tag)), nil
		}
		commits = append(commits, v.Tag)
	}
	return commits, "", nil
}

// commonBase is the commit all of commits build on; why says why there is
// none.
func commonBase(ctx context.Context, repo *gitx.Repo, commits []string) (base, why string, err error) {
	base = commits[0]
	for _, c := range commits[1:] {
		mb, ok, err := repo.MergeBase(ctx, base, c)
		if err != nil {
			return "", "", err
		}
		if !ok {
			return "", fmt.Sprintf("its versions' commits %s and %s share no history", gitx.ShortHash(base), gitx.ShortHash(c)), nil
		}
		base = mb
	}
	return base, "", nil
}

// tagNotCommit says why v's workers/tag is not a commit guard wrote ("" when
// it is one).
func tagNotCommit(v *cfapi.Version) string {
	if IsCommitHash(v.Tag) {
		return ""
	}
	return fmt.Sprintf("version %s's workers/tag %q is not a commit", v.ID, v.Tag)
}

// Describe names the deployment and what it serves, for messages.
func (s *Serving) Describe() string {
	parts := make([]string, len(s.Commits))
	for i, c := range s.Commits {
		v := s.Deployment.Versions[i]
		parts[i] = fmt.Sprintf("version %s from commit %s", v.VersionID, gitx.ShortHash(c))
		if len(s.Commits) > 1 {
			parts[i] += fmt.Sprintf(" at %g%%", v.Percentage)
		}
	}
	return fmt.Sprintf("deployment %s serves %s", s.Deployment.ID, strings.Join(parts, " and "))
}

// Disagreement says how rec — a succeeded deploy or rollback record, taken
// as the last one production runs — disagrees with the Cloudflare API,
// with the trust rules' words; "" when rec's commit is served. A record of
// the serving deployment that names another version or commit is the
// conflict history reports on that deployment's entry.
func (s *Serving) Disagreement(rec ledger.Record) string {
	for _, c := range s.Commits {
		if rec.Commit == c {
			return ""
		}
	}
	var conflict string
	mv := mainVersion(s.Deployment)
	if rec.DeploymentID == s.Deployment.ID && rec.VersionID != mv {
		conflict = versionConflict(s.Deployment.ID, rec.VersionID, mv) + "; "
	} else {
		for i, dv := range s.Deployment.Versions {
			if dv.VersionID == rec.VersionID {
				conflict = commitConflict(rec.Commit, dv.VersionID, s.Commits[i]) + "; "
			}
		}
	}
	return recordDisagrees(rec, "is not what serves: "+conflict+s.Describe())
}

// Unconfirmed is the disagreement of rec (as in Disagreement) with a
// Cloudflare API that lists no deployment Serving could be: rec says a
// commit was deployed that nothing the API lists confirms.
func Unconfirmed(rec ledger.Record) string {
	return recordDisagrees(rec, "is confirmed by none of the deployments the Cloudflare API lists")
}

func recordDisagrees(rec ledger.Record, how string) string {
	return fmt.Sprintf("deploy records disagree with the Cloudflare API: the record of a %s (operator %s, %s) %s",
		claim(rec), noneIfEmpty(rec.Operator), rec.Time.UTC().Format(time.RFC3339), how)
}

// versionConflict is the conflict of a record that names another version
// than the one the API says its deployment served.
func versionConflict(deployment, recordVersion, apiVersion string) string {
	return fmt.Sprintf("a record says deployment %s served version %s, the Cloudflare API says %s", deployment, noneIfEmpty(recordVersion), apiVersion)
}

// commitConflict is the conflict of a record that names another commit than
// its version's workers/tag.
func commitConflict(recordCommit, versionID, tag string) string {
	return fmt.Sprintf("the record says commit %s, version %s's workers/tag says %s", gitx.ShortHash(recordCommit), versionID, gitx.ShortHash(tag))
}
