package history

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/ledger"
)

// The trust rules. Records are claims: anyone who can push the notes ref
// can write one, and a ledger is a file. What guard believes comes from
// Cloudflare and the remote branch:
//
//   - An entry is Trusted when the Cloudflare API lists its deployment
//     serving its version at 100 %, the deployment's workers/message ends
//     with guard's annotation "[guard <commit> <category>]" whose commit
//     abbreviates the version's workers/tag, that tag is a full commit
//     hash reachable from Source.Branch (the remote branch, as fetched),
//     and no two records about the deployment disagree (version, commit,
//     status, verification), nor a record with the API. No record is
//     needed: offline, without the shared records, the API alone can still
//     confirm which versions guard deployed from the branch.
//   - Only a Trusted entry's "good" counts: any other entry that claims
//     good is shown unverified, with Distrust saying why, and a warning.
//     A "bad" counts from any record: believing it can only make guard
//     more careful.
//   - A disagreement is reported: a warning, and Conflict on the entries.

var guardAnnotation = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\[guard ([0-9a-f]{7,64}) ([a-z-]+)\]\s*$`)
})

// GuardAnnotation reads guard's annotation "[guard <commit> <category>]"
// at the end of a deployment's or version's workers/message.
func GuardAnnotation(message string) (commit, category string, ok bool) {
	m := guardAnnotation().FindStringSubmatch(message)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// judge holds what the trust rules read once per Load.
type judge struct {
	ctx      context.Context
	repo     *gitx.Repo
	branch   string
	versions *versionCache
	deps     map[string]cfapi.Deployment
	reach    map[string]string // commit → "" when reachable, else why not
}

// reachable says why commit is not on the remote branch ("" when it is).
func (j *judge) reachable(commit string) string {
	if why, ok := j.reach[commit]; ok {
		return why
	}
	why := ""
	short := strings.TrimPrefix(j.branch, "refs/remotes/")
	switch on, known, err := j.repo.IsAncestor(j.ctx, commit, j.branch); {
	case j.branch == "":
		why = "no remote branch to check its commit against"
	case err != nil:
		why = fmt.Sprintf("whether commit %s is on %s could not be read: %v", gitx.ShortHash(commit), short, err)
	case !known:
		why = fmt.Sprintf("commit %s is not in this clone, so it is not known to be on %s (git fetch)", gitx.ShortHash(commit), short)
	case !on:
		why = fmt.Sprintf("commit %s is not on %s", gitx.ShortHash(commit), short)
	}
	j.reach[commit] = why
	return why
}

// distrust says why e cannot be trusted ("" when it can).
func (j *judge) distrust(e *Entry) string {
	if e.Conflict != "" {
		return "records disagree: " + e.Conflict
	}
	if e.DeploymentID == "" || !e.Listed {
		return fmt.Sprintf("the Cloudflare API does not list deployment %q of version %s (it lists only the newest deployments)", e.DeploymentID, e.VersionID)
	}
	d, ok := j.deps[e.DeploymentID]
	if !ok || !d.Serves(e.VersionID) {
		return fmt.Sprintf("deployment %s does not serve version %s at 100%%", e.DeploymentID, e.VersionID)
	}
	short, _, ok := GuardAnnotation(d.Message)
	if !ok {
		return fmt.Sprintf("deployment %s does not carry guard's annotation (its message is %q)", d.ID, d.Message)
	}
	v := j.versions.get(j.ctx, e.VersionID)
	if v == nil {
		return fmt.Sprintf("the Cloudflare API does not describe version %s", e.VersionID)
	}
	if why := tagNotCommit(v); why != "" {
		return why
	}
	if !strings.HasPrefix(v.Tag, short) {
		return fmt.Sprintf("deployment %s's annotation names commit %s but version %s's workers/tag is %s", d.ID, short, v.ID, gitx.ShortHash(v.Tag))
	}
	if e.Commit != "" && e.Commit != v.Tag {
		return commitConflict(e.Commit, v.ID, v.Tag)
	}
	return j.reachable(v.Tag)
}

// claim is what one record says about a deployment, for comparing.
func claim(r ledger.Record) string {
	verified := r.Verified
	if verified == "" {
		verified = ledger.VerifiedUnverified
	}
	return fmt.Sprintf("%s %s of version %s from commit %s, verified %s", r.Kind, r.Status, r.VersionID, gitx.ShortHash(r.Commit), verified)
}

// conflicts finds the deployments whose records disagree: deployment ID →
// what the records say.
func conflicts(ops []*op) map[string]string {
	byDep := map[string][]ledger.Record{}
	for _, o := range ops {
		if o.rec.DeploymentID != "" && o.rec.Status != ledger.StatusPending {
			byDep[o.rec.DeploymentID] = append(byDep[o.rec.DeploymentID], o.rec)
		}
	}
	out := map[string]string{}
	for id, recs := range byDep {
		claims := map[string]bool{}
		for _, r := range recs {
			claims[claim(r)] = true
		}
		if len(claims) < 2 {
			continue
		}
		list := make([]string, 0, len(claims))
		for c := range claims {
			list = append(list, c)
		}
		sort.Strings(list)
		out[id] = fmt.Sprintf("%d records about deployment %s say: %s", len(recs), id, strings.Join(list, "; "))
	}
	return out
}

// confirm applies the trust rules to entries (newest first) and returns
// the warnings to show: each disagreement once, and each good mark that
// does not stand.
func confirm(ctx context.Context, src Source, entries []Entry, ops []*op, deps []cfapi.Deployment, versions *versionCache) []string {
	j := &judge{ctx: ctx, repo: src.Repo, branch: src.Branch, versions: versions,
		deps: map[string]cfapi.Deployment{}, reach: map[string]string{}}
	for _, d := range deps {
		j.deps[d.ID] = d
	}
	var warnings []string
	byDep := conflicts(ops)
	ids := make([]string, 0, len(byDep))
	for id := range byDep {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		warnings = append(warnings, "deploy records disagree, so deployment "+id+" is not good: "+byDep[id])
	}
	for i := range entries {
		e := &entries[i]
		if c, ok := byDep[e.DeploymentID]; ok && e.DeploymentID != "" {
			e.Conflict = joinNonEmpty(e.Conflict, c)
		}
		why := j.distrust(e)
		if why == "" {
			e.Trusted = true
			continue
		}
		e.Distrust = why
		// A step of a gradual deploy (a split) is never a target and its
		// verdict judges that step only: it keeps its mark, untrusted.
		if e.Verified == ledger.VerifiedGood && (len(e.Versions) == 0 || e.Conflict != "") {
			e.Verified = ledger.VerifiedUnverified
			if e.Conflict == "" {
				warnings = append(warnings, fmt.Sprintf("version %s is recorded verified good (deployment %s), but that is not trusted: %s", e.VersionID, noneIfEmpty(e.DeploymentID), why))
			}
		}
	}
	return warnings
}

func joinNonEmpty(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "" || a == b:
		return a
	}
	return a + "; " + b
}

func noneIfEmpty(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
