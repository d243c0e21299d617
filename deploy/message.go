package deploy

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/policy"
)

// MaxMessageBytes is what Cloudflare keeps of a version's or deployment's
// workers/message annotation; longer messages are cut by the API, which
// would cut guard's marker off the end.
const MaxMessageBytes = 1000

// Message is the --message guard hands wrangler: the commit's subject and a
// marker "[guard <short sha> <category>]" that survives any truncation, so
// the dashboard and `wrangler deployments list` show what went out.
func Message(subject, commit, category string) string {
	marker := fmt.Sprintf("[guard %s %s]", gitx.ShortHash(commit), category)
	subject = strings.Join(strings.Fields(subject), " ")
	if subject == "" {
		return marker
	}
	room := MaxMessageBytes - len(marker) - 1
	if len(subject) > room {
		const ellipsis = "…"
		cut := room - len(ellipsis)
		for cut > 0 && !utf8.RuneStart(subject[cut]) {
			cut--
		}
		subject = subject[:cut] + ellipsis
	}
	return subject + " " + marker
}

// Tag is the --tag guard hands wrangler: the full commit hash, which
// Cloudflare keeps as the version's workers/tag annotation so any machine
// can map a version back to its commit.
func Tag(commit string) string { return commit }

// CommitCategory is one commit's declared category (policy.Unknown when it
// has no valid Change-Category trailer).
type CommitCategory struct {
	Hash     string
	Category policy.Category
}

// Categories summarises the categories of the commits a deploy ships:
// the distinct names in policy order (standard, normal, major, emergency,
// then "unknown" for commits without a valid trailer), and the one that
// goes into the message: emergency if any commit is one, else the highest.
// With no commits (a redeploy of what is live) highest is "redeploy".
func Categories(commits []CommitCategory) (names []string, highest string) {
	seen := map[policy.Category]bool{}
	for _, c := range commits {
		seen[c.Category] = true
	}
	order := []policy.Category{policy.Standard, policy.Normal, policy.Major, policy.Emergency, policy.Unknown}
	for _, c := range order {
		if seen[c] {
			names = append(names, c.String())
		}
	}
	if len(commits) == 0 {
		return []string{}, "redeploy"
	}
	switch {
	case seen[policy.Emergency]:
		highest = policy.Emergency.String()
	case seen[policy.Major]:
		highest = policy.Major.String()
	case seen[policy.Normal]:
		highest = policy.Normal.String()
	case seen[policy.Standard]:
		highest = policy.Standard.String()
	default:
		highest = policy.Unknown.String()
	}
	return names, highest
}

// CommitCategories reads the declared categories of the commits a deploy
// ships: those reachable from head and not from base, or every commit
// reachable from head when base is "" (a first deploy ships the whole
// history, and a major change merged long ago is still unrecorded). Merge
// commits count when they declare a category (a merge message may carry the
// trailer); one without any, like a fixup!/squash! commit, has no category
// of its own and is skipped — the commits it merges are in the walk anyway.
// A non-merge commit without a valid trailer is policy.Unknown.
func CommitCategories(ctx context.Context, repo *gitx.Repo, base, head string) ([]CommitCategory, error) {
	args := []string{"log", "-z", "--format=%H%x1f%P%x1f%B", head}
	if base != "" {
		args = append(args, "^"+base)
	}
	out, err := repo.Git(ctx, append(args, "--")...)
	if err != nil {
		return nil, err
	}
	cc, _, _ := repo.ConfigValue(ctx, "core.commentChar")
	var res []CommitCategory
	for _, rec := range bytes.Split(out, []byte{0}) {
		rec = bytes.TrimLeft(rec, "\n")
		if len(rec) == 0 {
			continue
		}
		parts := bytes.SplitN(rec, []byte{0x1f}, 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("git log: malformed record %q", rec)
		}
		h, parents, body := parts[0], bytes.Fields(parts[1]), parts[2]
		msg := policy.ParseMessage(body, cc)
		cat, has, perr := msg.Category()
		if len(parents) > 1 || policy.IsExempt(msg.Subject()) {
			if !has || perr != nil {
				continue
			}
		} else if !has || perr != nil {
			cat = policy.Unknown
		}
		res = append(res, CommitCategory{Hash: string(h), Category: cat})
	}
	return res, nil
}
