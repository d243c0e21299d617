package rollback

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/guardcm/guard/history"
	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/ledger"
)

// MaxVersions is how far back Cloudflare can roll a worker: only its 100
// most recent versions.
const MaxVersions = 100

// Rule says how the target was chosen.
type Rule string

// Rules of the target choice.
const (
	// RuleExplicit: the operator named the version (--to).
	RuleExplicit Rule = "explicit"
	// RuleVerifiedGood: the newest version older than the serving one that
	// was verified good, skipping versions known bad.
	RuleVerifiedGood Rule = "verified-good"
	// RulePrevious: no version carries a verification mark at all, so the
	// previous distinct version that served 100% of traffic through guard
	// from a commit on the remote branch.
	RulePrevious Rule = "previous"
)

// Input is the joined history the target is chosen from.
type Input struct {
	// Entries are the worker's deployments and guard's records, newest
	// first, as history.Load returns them; the one with Current set is
	// serving now.
	Entries []history.Entry
	// Versions are the worker's versions, newest first, as
	// cfapi.Client.Versions returns them (every page): position i < 100 is
	// what Cloudflare can still roll back to.
	Versions []cfapi.Version
	// To is the version asked for (--to): a full ID or a unique prefix of
	// at least 8 characters. "" lets Choose pick.
	To string
}

// Choice is the target and why.
type Choice struct {
	// Serving is the current deployment's entry; ServingVersion its
	// version (the largest share when traffic is split), nil when the API
	// does not list it.
	Serving        history.Entry
	ServingVersion *cfapi.Version
	// Target is the version to roll back to; Position its 1-based place
	// among the worker's versions, newest first (at most MaxVersions).
	Target   cfapi.Version
	Position int
	// TargetEntry is the newest entry that deployed the target, nil when
	// no deployment of it is known.
	TargetEntry *history.Entry
	// Marks are the verification marks by version: good or bad (bad wins
	// over good when entries disagree).
	Marks map[string]string
	// Trusted are the versions the Cloudflare API and the remote branch
	// confirm (history's trust rules): only these are chosen by rule.
	Trusted map[string]bool
	Rule    Rule
	// Explanation says, in sentences, how the target was chosen;
	// Warnings are what the operator should weigh before confirming.
	Explanation []string
	Warnings    []string
}

// Marks returns the verification mark of every version the entries judge:
// bad when any entry marks it bad, else good when a trusted entry marks it
// good (history.Load has already turned an untrusted good into
// unverified). Unverified versions are absent.
func Marks(entries []history.Entry) map[string]string {
	m := map[string]string{}
	for _, e := range entries {
		if e.VersionID == "" {
			continue
		}
		switch e.Verified {
		case ledger.VerifiedBad:
			m[e.VersionID] = ledger.VerifiedBad
		case ledger.VerifiedGood:
			if m[e.VersionID] != ledger.VerifiedBad && e.Trusted {
				m[e.VersionID] = ledger.VerifiedGood
			}
		}
	}
	return m
}

// TrustedVersions are the versions some trusted entry served at 100%.
func TrustedVersions(entries []history.Entry) map[string]bool {
	t := map[string]bool{}
	for _, e := range entries {
		if e.Trusted && e.VersionID != "" && len(e.Versions) == 0 {
			t[e.VersionID] = true
		}
	}
	return t
}

// Choose picks the version to roll back to. It is pure: the history and
// the version list are its only inputs. Errors are classified with
// internal/fail: a refusal (exit 1) when no acceptable target exists — the
// message names the 100-version limit when that is the reason — and a
// usage error (exit 2) when --to names no version of the worker.
func Choose(in Input) (*Choice, error) {
	c := &Choice{Marks: Marks(in.Entries), Trusted: TrustedVersions(in.Entries)}
	cur := -1
	for i, e := range in.Entries {
		if e.Current {
			cur = i
			break
		}
	}
	if cur < 0 {
		return nil, fail.Refused(errors.New("the worker has no deployment serving traffic: there is nothing to roll back"),
			"deploy it with guard deploy")
	}
	c.Serving = in.Entries[cur]
	pos := map[string]int{}
	for i, v := range in.Versions {
		if _, dup := pos[v.ID]; !dup {
			pos[v.ID] = i
		}
	}
	if i, ok := pos[c.Serving.VersionID]; ok {
		v := in.Versions[i]
		c.ServingVersion = &v
	}
	servingFull := len(c.Serving.Versions) == 0

	if in.To != "" {
		return c, c.explicit(in, pos, servingFull)
	}
	if len(c.Marks) == 0 {
		return c, c.previous(in, pos, cur)
	}
	return c, c.verifiedGood(in, pos, cur)
}

func (c *Choice) setTarget(in Input, i int) {
	c.Target = in.Versions[i]
	c.Position = i + 1
	for k := range in.Entries {
		e := in.Entries[k]
		if e.VersionID == c.Target.ID && e.Status == ledger.StatusSucceeded && len(e.Versions) == 0 {
			c.TargetEntry = &e
			return
		}
	}
}

// beyondLimit is the refusal for a version Cloudflare can no longer roll
// back to.
func beyondLimit(what string, v cfapi.Version, position, total int) error {
	return fail.Refused(fmt.Errorf("%s %s (number %d) is the %s newest of the worker's %d versions: Cloudflare can roll back only to the %d most recent versions",
		what, v.ID, v.Number, ordinal(position), total, MaxVersions),
		"redeploy that version's commit instead: revert the bad change on the branch and run guard deploy")
}

func (c *Choice) explicit(in Input, pos map[string]int, servingFull bool) error {
	i, err := resolve(in.Versions, in.To)
	if err != nil {
		return err
	}
	v := in.Versions[i]
	if i >= MaxVersions {
		return beyondLimit("version", v, i+1, len(in.Versions))
	}
	if v.ID == c.Serving.VersionID && servingFull {
		return fail.Refused(fmt.Errorf("version %s already serves 100%% of the traffic (deployment %s): there is nothing to roll back to", v.ID, c.Serving.DeploymentID),
			"guard history lists the earlier versions")
	}
	c.setTarget(in, i)
	c.Rule = RuleExplicit
	c.Explanation = append(c.Explanation, fmt.Sprintf("version %s was asked for (--to)", v.ID))
	if c.Marks[v.ID] == ledger.VerifiedBad {
		c.Warnings = append(c.Warnings, fmt.Sprintf("version %s was verified BAD after an earlier deploy", v.ID))
	} else if c.Marks[v.ID] == "" {
		c.Warnings = append(c.Warnings, fmt.Sprintf("version %s was never verified", v.ID))
	}
	if c.ServingVersion != nil && v.Number > c.ServingVersion.Number {
		c.Warnings = append(c.Warnings, fmt.Sprintf("version %s is newer than the serving version %s: this rolls forward", v.ID, c.Serving.VersionID))
	}
	if c.TargetEntry == nil {
		c.Warnings = append(c.Warnings, fmt.Sprintf("no deployment of version %s is known: it has never served traffic as far as the API and guard's records tell", v.ID))
	} else if !c.Trusted[v.ID] {
		c.Warnings = append(c.Warnings, fmt.Sprintf("version %s is not confirmed as served through guard from the remote branch: %s", v.ID, distrustOf(in.Entries, v.ID)))
	}
	return nil
}

// distrustOf says why no entry of version id is trusted.
func distrustOf(entries []history.Entry, id string) string {
	for _, e := range entries {
		if e.VersionID == id && e.Distrust != "" {
			return e.Distrust
		}
	}
	return "no deployment of it is known"
}

// resolve finds a version by full ID or unique prefix.
func resolve(vs []cfapi.Version, to string) (int, error) {
	to = strings.ToLower(strings.TrimSpace(to))
	for i, v := range vs {
		if strings.EqualFold(v.ID, to) {
			return i, nil
		}
	}
	var hits []int
	if len(to) >= 8 {
		for i, v := range vs {
			if strings.HasPrefix(strings.ToLower(v.ID), to) {
				hits = append(hits, i)
			}
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		return 0, fail.Usage(fmt.Errorf("--to %s: the worker has no such version (it has %d)", to, len(vs)),
			"guard history lists the versions that were deployed; give a full version ID")
	}
	ids := make([]string, 0, len(hits))
	for _, i := range hits {
		ids = append(ids, vs[i].ID)
	}
	sort.Strings(ids)
	return 0, fail.Usage(fmt.Errorf("--to %s matches %d versions: %s", to, len(hits), strings.Join(ids, ", ")), "give the full version ID")
}

// older reports whether version i is older than the serving version.
func (c *Choice) older(v cfapi.Version) bool {
	if c.ServingVersion == nil {
		return true // the serving version is not listed: everything listed is a candidate
	}
	return v.Number < c.ServingVersion.Number
}

func (c *Choice) verifiedGood(in Input, pos map[string]int, cur int) error {
	var skipped []string
	for i, v := range in.Versions {
		if v.ID == c.Serving.VersionID || !c.older(v) {
			continue
		}
		switch c.Marks[v.ID] {
		case ledger.VerifiedBad:
			skipped = append(skipped, fmt.Sprintf("%s (number %d, verified bad)", v.ID, v.Number))
			continue
		case ledger.VerifiedGood:
		default:
			skipped = append(skipped, fmt.Sprintf("%s (number %d, never verified)", v.ID, v.Number))
			continue
		}
		if i >= MaxVersions {
			return beyondLimit("the newest version verified good,", v, i+1, len(in.Versions))
		}
		c.setTarget(in, i)
		c.Rule = RuleVerifiedGood
		c.Explanation = append(c.Explanation, fmt.Sprintf("version %s is the newest version older than the serving one that was verified good", v.ID))
		if len(skipped) > 0 {
			c.Explanation = append(c.Explanation, "skipped: "+strings.Join(limit(skipped, 5), "; "))
		}
		return nil
	}
	msg := fmt.Sprintf("no version older than the serving %s was verified good", c.Serving.VersionID)
	if len(skipped) > 0 {
		msg += "; skipped: " + strings.Join(limit(skipped, 5), "; ")
	}
	hint := "name the version with --to VERSION_ID after checking it (guard history lists them)"
	probe := &Choice{Serving: c.Serving, Marks: map[string]string{}, Trusted: c.Trusted}
	if probe.previous(in, pos, cur) == nil && c.Marks[probe.Target.ID] != ledger.VerifiedBad {
		hint = fmt.Sprintf("the previous version that served 100%% is %s (never verified): after checking it, guard rollback --to %s", probe.Target.ID, probe.Target.ID)
	}
	return fail.Refused(errors.New(msg), hint)
}

func (c *Choice) previous(in Input, pos map[string]int, cur int) error {
	var skipped []string
	for k := cur + 1; k < len(in.Entries); k++ {
		e := in.Entries[k]
		if e.Status != ledger.StatusSucceeded || e.VersionID == "" || e.VersionID == c.Serving.VersionID || len(e.Versions) > 0 {
			continue
		}
		if !c.Trusted[e.VersionID] {
			skipped = append(skipped, fmt.Sprintf("%s (%s)", e.VersionID, distrustOf(in.Entries, e.VersionID)))
			continue
		}
		i, ok := pos[e.VersionID]
		if !ok {
			continue // deleted or unknown to the API: not a target
		}
		if i >= MaxVersions {
			return beyondLimit("the previous version that served 100%,", in.Versions[i], i+1, len(in.Versions))
		}
		c.setTarget(in, i)
		c.Rule = RulePrevious
		c.Explanation = append(c.Explanation,
			"no version of the worker carries a verification mark (good or bad)",
			fmt.Sprintf("so version %s is chosen as the previous distinct version that served 100%% of the traffic (deployed %s)", e.VersionID, e.Time.UTC().Format("2006-01-02T15:04:05Z")))
		c.Warnings = append(c.Warnings, fmt.Sprintf("version %s was never verified", e.VersionID))
		return nil
	}
	msg := fmt.Sprintf("no earlier version than the serving %s served 100%% of the traffic through guard from a commit on the remote branch", c.Serving.VersionID)
	if len(skipped) > 0 {
		msg += "; not confirmed: " + strings.Join(limit(skipped, 5), "; ")
	}
	return fail.Refused(errors.New(msg), "name the version with --to VERSION_ID after checking it (guard history lists the deployments)")
}

func limit(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(append([]string{}, s[:n]...), fmt.Sprintf("and %d more", len(s)-n))
}

func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return fmt.Sprintf("%d%s", n, suffix)
}
