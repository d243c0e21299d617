package prgate

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/policy"
	"github.com/guardcm/guard/rollout"
)

// Rule ids of the pull-request gate; stable, used in output and suppression.
const (
	RuleDescription      = "pr-description"
	RuleChecklist        = "pr-checklist"
	RuleMajorLinks       = "pr-major-links"
	RuleCategoryMismatch = "pr-category-mismatch"
	RuleEmergencyRecord  = "pr-emergency-record"
	RuleRolloutPlan      = "pr-rollout-plan"
)

// Config is the gate's configuration; a zero field takes its default.
type Config struct {
	// MotivationHeadings name the description section that says why the
	// change is made. Default {"Motivation", "Why"}.
	MotivationHeadings []string
	// ChecklistFiles are tried in order for the self-review checklist.
	// Default {".github/pull_request_template.md", "docs/self-review-checklist.md"}.
	ChecklistFiles []string
	// ChecklistHeading is the section of a checklist file holding the items.
	// Default "Self-review checklist".
	ChecklistHeading string
	ThreatModel      string // default "docs/threat-model.md"
	RolloutDir       string // default "docs/rollouts"
	RecordsDir       string // emergency records; default "docs/changes/emergency"
}

// DefaultConfig is the configuration that matches the policy.
func DefaultConfig() Config { return Config{}.withDefaults() }

func (c Config) withDefaults() Config {
	if len(c.MotivationHeadings) == 0 {
		c.MotivationHeadings = []string{"Motivation", "Why"}
	}
	if len(c.ChecklistFiles) == 0 {
		c.ChecklistFiles = []string{".github/pull_request_template.md", "docs/self-review-checklist.md"}
	}
	if c.ChecklistHeading == "" {
		c.ChecklistHeading = "Self-review checklist"
	}
	if c.ThreatModel == "" {
		c.ThreatModel = "docs/threat-model.md"
	}
	if c.RolloutDir == "" {
		c.RolloutDir = "docs/rollouts"
	}
	if c.RecordsDir == "" {
		c.RecordsDir = "docs/changes/emergency"
	}
	c.RolloutDir = strings.TrimSuffix(path.Clean(c.RolloutDir), "/")
	c.RecordsDir = strings.TrimSuffix(path.Clean(c.RecordsDir), "/")
	return c
}

// Input is everything the gate decides on; the caller gathers it (event
// payload, commit categories from the range checks, the checklist file, the
// changed paths, the emergency records) so Check does no I/O.
type Input struct {
	Event *Event
	// Category is the highest category of the pull request's commits.
	Category policy.Category
	// CommitCategories counts the pull request's commits per category.
	CommitCategories map[policy.Category]int
	// Checklist is the repository's self-review checklist; nil when no
	// checklist file exists.
	Checklist *Checklist
	// ChangedPaths are the repository paths the pull request changes.
	ChangedPaths []string
	// ExistingRecords are the emergency-change records in the repository.
	ExistingRecords []string
	// RolloutPlans are the rollout plans the pull request adds or changes
	// (Markdown files under the rollout folder), as they are at its head:
	// their front matter is what guard deploy will execute.
	RolloutPlans []PlanFile
}

// PlanFile is a file's path and content.
type PlanFile struct {
	Path string
	Data []byte
}

// Check applies the policy's pull-request rules and returns the findings, in
// a stable order: description, category declaration, checklist, major-change
// links, emergency reminder. A nil Event is read as a pull request with no
// title, body or labels.
func Check(in Input, cfg Config) []report.Finding {
	cfg = cfg.withDefaults()
	ev := in.Event
	if ev == nil {
		ev = &Event{}
	}
	body := scanLines([]byte(ev.Body))
	var fs []report.Finding
	fs = append(fs, checkDescription(ev, body, cfg)...)
	fs = append(fs, checkDeclared(ev, in)...)
	if in.Category == policy.Normal || in.Category == policy.Major {
		fs = append(fs, checkChecklist(ev, body, in)...)
	}
	if in.Category == policy.Major {
		fs = append(fs, checkMajor(ev, body, in, cfg)...)
	}
	if in.Category == policy.Emergency {
		fs = append(fs, emergencyNotice(ev, in, cfg))
	}
	return append(fs, checkRolloutPlans(in)...)
}

// checkRolloutPlans parses the front matter of every rollout plan the pull
// request touches: guard deploy executes it (steps and holds) when the
// major change ships, and a plan that does not parse would stop that
// deploy, so the mistake is reported where it is made.
func checkRolloutPlans(in Input) []report.Finding {
	var fs []report.Finding
	for _, p := range in.RolloutPlans {
		_, err := rollout.ParseFrontMatter(p.Path, p.Data)
		if err == nil {
			continue
		}
		f := report.Finding{Rule: RuleRolloutPlan, Severity: report.SeverityError, File: p.Path,
			Message: "the rollout plan's front matter does not parse, so guard deploy could not execute it: " + err.Error(),
			Fix:     "write the front matter as ---, steps: [0, 10, 50, 100] (percentages ending at 100), hold: 10m (or one duration per step), ---"}
		var fe *rollout.FrontMatterError
		if errors.As(err, &fe) {
			f.Line = fe.Line
			f.Message = "the rollout plan's front matter does not parse, so guard deploy could not execute it: " + fe.Msg
		}
		fs = append(fs, f)
	}
	return fs
}

func prName(ev *Event) string {
	if ev.Number > 0 {
		return fmt.Sprintf("pull request #%d", ev.Number)
	}
	return "the pull request"
}

// --- description -----------------------------------------------------------

func checkDescription(ev *Event, body []mdLine, cfg Config) []report.Finding {
	names := strings.Join(cfg.MotivationHeadings, `" or "`)
	fix := fmt.Sprintf(`edit the pull request description: add a "## %s" section saying why the change is needed (policy, Plan: "description of the change and its motivation")`, cfg.MotivationHeadings[0])
	if strings.TrimSpace(bodyText(body)) == "" {
		return []report.Finding{{
			Rule: RuleDescription, Severity: report.SeverityError,
			Message: prName(ev) + " has no description",
			Fix:     fix,
		}}
	}
	hs := headings(body)
	found := 0
	for k, h := range hs {
		if !matchesHeading(h.Text, cfg.MotivationHeadings) {
			continue
		}
		found++
		start, end := section(body, hs, k)
		// Only the section's own text counts, not that of its subsections:
		// a "## Motivation" holding just "### Details" says nothing.
		for _, n := range hs[k+1:] {
			if n.Index >= start && n.Index < end {
				end = n.Index
				break
			}
		}
		for _, l := range body[start:end] {
			if !isPlaceholder(l) {
				return nil
			}
		}
	}
	if found == 0 {
		return []report.Finding{{
			Rule: RuleDescription, Severity: report.SeverityError,
			Message: fmt.Sprintf(`the description of %s has no motivation section (a heading "%s")`, prName(ev), names),
			Fix:     fix,
		}}
	}
	return []report.Finding{{
		Rule: RuleDescription, Severity: report.SeverityError,
		Message: fmt.Sprintf("the motivation section of %s is empty or holds only a placeholder", prName(ev)),
		Fix:     fmt.Sprintf("write under the %q heading why the change is needed: the problem, who it affects, why now", cfg.MotivationHeadings[0]),
	}}
}

// matchesHeading: the heading equals a configured name, or starts with it as
// a whole word ("Motivation and context" matches "Motivation").
func matchesHeading(text string, names []string) bool {
	t := normalize(text)
	for _, n := range names {
		n = normalize(n)
		if n == "" {
			continue
		}
		if t == n || (strings.HasPrefix(t, n) && len(t) > len(n) && !isWordByte(t[len(n)])) {
			return true
		}
	}
	return false
}

func isWordByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b >= 0x80
}

var (
	placeholders = map[string]bool{
		"todo": true, "tbd": true, "tbc": true, "tba": true, "n/a": true, "na": true,
		"none": true, "nothing": true, "-": true, "--": true, "...": true, "…": true,
		"xxx": true, "fixme": true, "no response": true, "why?": true, "why": true,
		"motivation": true, "placeholder": true, "lorem ipsum": true,
	}
	wrapped   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(?:<[^<>]*>|\[[^\[\]]*\]|\{[^{}]*\})$`) })
	leadMarks = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(?:\s*(?:>|[-*+]|\d{1,9}[.)])\s*)*`) })
	todoLead  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(?:todo|tbd|fixme)\b`) })
)

// isPlaceholder reports whether a description line says nothing: blank, a
// comment (already removed), a fence line, or template filler such as "TODO",
// "N/A", "<describe why>" or "[why this change]".
func isPlaceholder(l mdLine) bool {
	if l.Code {
		_, _, _, fence := fenceMarker(l.Text)
		return fence || strings.TrimSpace(l.Text) == ""
	}
	t := strings.TrimSpace(leadMarks().ReplaceAllString(l.Text, ""))
	if thematic().MatchString(l.Text) || setextRe().MatchString(l.Text) {
		return true
	}
	if wrapped().MatchString(t) {
		return true
	}
	n := normalize(t)
	return n == "" || placeholders[n] || todoLead().MatchString(n)
}

func bodyText(lines []mdLine) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

// --- category declaration --------------------------------------------------

type declaration struct {
	cat    policy.Category
	source string // e.g. `label "category: emergency"`
}

var bracketRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\[([^\[\]]*)\]`) })

func declarations(title string, labels []string) ([]declaration, error) {
	var ds []declaration
	for _, l := range labels {
		v, ok := cutFold(strings.TrimSpace(l), "category:")
		if !ok {
			continue
		}
		c, err := policy.ParseCategory(strings.ToLower(strings.TrimSpace(v)))
		if err != nil {
			return nil, fmt.Errorf("label %q: %w", l, err)
		}
		ds = append(ds, declaration{c, fmt.Sprintf("label %q", l)})
	}
	for _, m := range bracketRe().FindAllStringSubmatch(title, -1) {
		v := strings.TrimSpace(m[1])
		explicit := false
		if rest, ok := cutFold(v, "category:"); ok {
			v, explicit = strings.TrimSpace(rest), true
		}
		c, err := policy.ParseCategory(strings.ToLower(v))
		if err != nil {
			if explicit {
				return nil, fmt.Errorf("title %q: %w", m[0], err)
			}
			continue // "[WIP]", "[docs]": not a declaration
		}
		ds = append(ds, declaration{c, fmt.Sprintf("title %q", m[0])})
	}
	return ds, nil
}

// cutFold is strings.CutPrefix, ignoring ASCII case.
func cutFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// DeclaredCategory reads the category a pull request declares: a label
// "category: <name>" (case-insensitive) or "[<name>]" / "[category: <name>]"
// in the title. Bracketed words that are not categories ("[WIP]") are
// ignored. ok is false when nothing is declared; declarations that disagree,
// or a "category:" label or title tag naming no category, are an error.
func DeclaredCategory(title string, labels []string) (policy.Category, bool, error) {
	ds, err := declarations(title, labels)
	if err == nil {
		err = agree(ds)
	}
	if err != nil || len(ds) == 0 {
		return policy.Unknown, false, err
	}
	return ds[0].cat, true, nil
}

func agree(ds []declaration) error {
	for _, d := range ds {
		if d.cat != ds[0].cat {
			return fmt.Errorf("conflicting category declarations: %s says %s, %s says %s",
				ds[0].source, ds[0].cat, d.source, d.cat)
		}
	}
	return nil
}

// categoryOrder is the order categories are listed in.
var categoryOrder = []policy.Category{policy.Standard, policy.Normal, policy.Major, policy.Emergency, policy.Unknown}

// commitCounts returns the non-zero commit counts, falling back to the
// overall category when no breakdown was given.
func commitCounts(in Input) map[policy.Category]int {
	out := map[policy.Category]int{}
	for c, n := range in.CommitCategories {
		if n > 0 {
			out[c] = n
		}
	}
	if len(out) == 0 && in.Category != policy.Unknown {
		out[in.Category] = 1
	}
	return out
}

// describeCounts renders counts as "2 normal, 1 standard" in category order.
func describeCounts(counts map[policy.Category]int, skip func(policy.Category) bool) string {
	var parts []string
	seen := map[policy.Category]bool{}
	emit := func(c policy.Category) {
		if seen[c] || counts[c] == 0 || (skip != nil && skip(c)) {
			return
		}
		seen[c] = true
		parts = append(parts, fmt.Sprintf("%d %s", counts[c], c))
	}
	for _, c := range categoryOrder {
		emit(c)
	}
	var rest []policy.Category
	for c := range counts {
		if !seen[c] {
			rest = append(rest, c)
		}
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i] < rest[j] })
	for _, c := range rest {
		emit(c)
	}
	return strings.Join(parts, ", ")
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func checkDeclared(ev *Event, in Input) []report.Finding {
	ds, err := declarations(ev.Title, ev.Labels)
	if err != nil {
		return []report.Finding{{
			Rule: RuleCategoryMismatch, Severity: report.SeverityError,
			Message: fmt.Sprintf("%s: %v", prName(ev), err),
			Fix:     `declare one category: a single "category: <standard|normal|major|emergency>" label or "[<category>]" in the title`,
		}}
	}
	if len(ds) == 0 {
		return nil
	}
	if err := agree(ds); err != nil {
		return []report.Finding{{
			Rule: RuleCategoryMismatch, Severity: report.SeverityError,
			Message: fmt.Sprintf("%s: %v", prName(ev), err),
			Fix:     "keep one declaration: remove the label or the title tag that is wrong",
		}}
	}
	d := ds[0]
	counts := commitCounts(in)
	total := 0
	for _, n := range counts {
		total += n
	}
	if total == 0 {
		return nil // nothing to contradict
	}
	mismatch := func(msg, fix string) []report.Finding {
		return []report.Finding{{
			Rule: RuleCategoryMismatch, Severity: report.SeverityError,
			Message: fmt.Sprintf("%s declares %s (%s) but %s", prName(ev), d.cat, d.source, msg),
			Fix:     fix,
		}}
	}
	if d.cat == policy.Emergency {
		others := total - counts[policy.Emergency]
		if others == 0 {
			return nil
		}
		return mismatch(
			fmt.Sprintf("%d of its %d commits %s not emergency (%s)", others, total, isAre(others),
				describeCounts(counts, func(c policy.Category) bool { return c == policy.Emergency })),
			"an emergency pull request carries only emergency commits: move the other commits to their own pull request, or remove the emergency declaration")
	}
	if counts[policy.Emergency] == total {
		return mismatch("every commit is emergency",
			`declare emergency ("category: emergency" label or "[emergency]" in the title), or correct the commits' Change-Category trailers`)
	}
	highest := policy.Unknown
	for c := range counts {
		if c.Rank() > highest.Rank() {
			highest = c
		}
	}
	switch {
	case highest == policy.Unknown:
		return nil
	case highest.Rank() > d.cat.Rank():
		return mismatch(fmt.Sprintf("its commits include %s (%s)", highest, describeCounts(counts, nil)),
			fmt.Sprintf("declare %s (the commits' Change-Category trailers are the record), or move the %s commits to another pull request", highest, highest))
	case highest.Rank() < d.cat.Rank():
		return mismatch(fmt.Sprintf("no commit is %s (%s)", d.cat, describeCounts(counts, nil)),
			fmt.Sprintf("add the trailer \"Change-Category: %s\" to the commit that makes the %s change (git rebase -i, reword), or correct the declaration", d.cat, d.cat))
	}
	return nil
}

// --- checklist -------------------------------------------------------------

func checkChecklist(ev *Event, body []mdLine, in Input) []report.Finding {
	cl := in.Checklist
	if cl == nil || len(cl.Items) == 0 {
		return []report.Finding{{
			Rule: RuleChecklist, Severity: report.SeverityError,
			Message: fmt.Sprintf("%s is %s, which needs a self-review checklist, and the repository has none", prName(ev), in.Category),
			Fix:     `add the checklist ("## Self-review checklist" with "- [ ] item" lines) to .github/pull_request_template.md or docs/self-review-checklist.md; "guard init" writes one`,
		}}
	}
	// The body's items by normalised text; one ticked copy is enough.
	got := map[string]bool{}
	var gotKeys []string
	for _, t := range tasks(body, 0, len(body)) {
		n := normalize(t.Text)
		if _, ok := got[n]; !ok {
			gotKeys = append(gotKeys, n)
		}
		got[n] = got[n] || t.Ticked
	}
	lookup := func(item string) (present, ticked bool) {
		n := normalize(item)
		if tk, ok := got[n]; ok {
			return true, tk
		}
		// An item may be followed by a note ("... — covered by foo_test.go").
		for _, k := range gotKeys {
			if strings.HasPrefix(k, n) && !isWordByte(k[len(n)]) {
				present = true
				ticked = ticked || got[k]
			}
		}
		return present, ticked
	}
	var missing, unticked []ChecklistItem
	for _, it := range cl.Items {
		switch present, ticked := lookup(it.Text); {
		case !present:
			missing = append(missing, it)
		case !ticked:
			unticked = append(unticked, it)
		}
	}
	if len(missing) == len(cl.Items) {
		return []report.Finding{{
			Rule: RuleChecklist, Severity: report.SeverityError, File: cl.Source,
			Message: fmt.Sprintf("%s is %s and its description does not carry the self-review checklist (%d items from %s)", prName(ev), in.Category, len(cl.Items), cl.Source),
			Fix:     fmt.Sprintf("copy the checklist from %s into the description, review the change against each item and tick it (\"- [x]\")", cl.Source),
		}}
	}
	var fs []report.Finding
	for _, it := range cl.Items {
		if contains(missing, it) {
			fs = append(fs, report.Finding{
				Rule: RuleChecklist, Severity: report.SeverityError, File: cl.Source, Line: it.Line,
				Message: fmt.Sprintf("self-review checklist item missing from the description of %s: %q", prName(ev), it.Text),
				Fix:     fmt.Sprintf("put the item back as in %s:%d and tick it once reviewed: \"- [x] %s\"", cl.Source, it.Line, it.Text),
			})
		} else if contains(unticked, it) {
			fs = append(fs, report.Finding{
				Rule: RuleChecklist, Severity: report.SeverityError, File: cl.Source, Line: it.Line,
				Message: fmt.Sprintf("self-review checklist item not ticked in the description of %s: %q", prName(ev), it.Text),
				Fix:     "review the change against the item, then tick it in the description (\"- [x]\")",
			})
		}
	}
	return fs
}

func contains(items []ChecklistItem, it ChecklistItem) bool {
	for _, x := range items {
		if x == it {
			return true
		}
	}
	return false
}

// --- major changes ---------------------------------------------------------

func checkMajor(ev *Event, body []mdLine, in Input, cfg Config) []report.Finding {
	text := bodyText(body)
	changed := map[string]bool{}
	var plans []string
	for _, p := range in.ChangedPaths {
		p = strings.TrimPrefix(path.Clean(p), "./")
		changed[p] = true
		if strings.HasPrefix(p, cfg.RolloutDir+"/") && !strings.EqualFold(path.Base(p), "README.md") {
			plans = append(plans, p)
		}
	}
	sort.Strings(plans)
	var fs []report.Finding
	add := func(file, msg, fix string) {
		fs = append(fs, report.Finding{Rule: RuleMajorLinks, Severity: report.SeverityError, File: file, Message: msg, Fix: fix})
	}
	if !changed[cfg.ThreatModel] {
		add(cfg.ThreatModel,
			fmt.Sprintf("%s is a major change and does not update the threat model %s", prName(ev), cfg.ThreatModel),
			fmt.Sprintf("update %s for the new service, trust boundary or data category, in this pull request", cfg.ThreatModel))
	}
	if !strings.Contains(text, cfg.ThreatModel) {
		add("", fmt.Sprintf("the description of major %s does not link the threat-model change (%s)", prName(ev), cfg.ThreatModel),
			fmt.Sprintf("name the threat-model change in the description, e.g. \"Threat model: %s\"", cfg.ThreatModel))
	}
	if len(plans) == 0 {
		add("", fmt.Sprintf("%s is a major change and adds no rollout plan under %s/", prName(ev), cfg.RolloutDir),
			fmt.Sprintf("add the rollout plan as %s/<date>-<change>.md (stages, verification, rollback) in this pull request", cfg.RolloutDir))
	}
	linked := false
	for _, p := range plans {
		if strings.Contains(text, p) {
			linked = true
		}
	}
	if len(plans) == 0 {
		linked = mentionsUnder(text, cfg.RolloutDir+"/")
	}
	if !linked {
		want := cfg.RolloutDir + "/<plan>.md"
		if len(plans) > 0 {
			want = plans[0]
		}
		add("", fmt.Sprintf("the description of major %s does not link the rollout plan (%s)", prName(ev), want),
			fmt.Sprintf("link the rollout plan in the description, e.g. \"Rollout plan: %s\"", want))
	}
	return fs
}

// mentionsUnder reports whether text names a file under dir other than its
// README.md (dir followed by at least one more path character).
func mentionsUnder(text, dir string) bool {
	const stop = " \t\n)]>\"'`"
	for i := 0; ; {
		j := strings.Index(text[i:], dir)
		if j < 0 {
			return false
		}
		k := i + j + len(dir)
		e := k
		for e < len(text) && !strings.ContainsRune(stop, rune(text[e])) {
			e++
		}
		if name := text[k:e]; name != "" && !strings.EqualFold(name, "README.md") {
			return true
		}
		i = k
	}
}

// --- emergency -------------------------------------------------------------

func emergencyNotice(ev *Event, in Input, cfg Config) report.Finding {
	changed := map[string]bool{}
	for _, p := range in.ChangedPaths {
		changed[strings.TrimPrefix(path.Clean(p), "./")] = true
	}
	var added []string
	for _, r := range in.ExistingRecords {
		if changed[strings.TrimPrefix(path.Clean(r), "./")] {
			added = append(added, r)
		}
	}
	sort.Strings(added)
	f := report.Finding{Rule: RuleEmergencyRecord, Severity: report.SeverityNotice}
	base := fmt.Sprintf("%s is an emergency change: the policy requires it documented within 24 hours of the deploy", prName(ev))
	switch {
	case len(added) > 0:
		f.File = added[0]
		f.Message = fmt.Sprintf("%s; its record: %s", base, strings.Join(added, ", "))
		f.Fix = fmt.Sprintf("fill in every TODO of %s (impact, root cause, follow-up, approval) within 24 hours; \"guard changes\" shows what is left", added[0])
	case len(in.ExistingRecords) > 0:
		recs := append([]string(nil), in.ExistingRecords...)
		sort.Strings(recs)
		newest := recs[len(recs)-1]
		f.File = newest
		f.Message = fmt.Sprintf("%s; this pull request adds no record, the newest in the repository is %s", base, newest)
		f.Fix = fmt.Sprintf("if %s is not this change's record, add one under %s/ (pushing the emergency commit writes it); fill in every TODO within 24 hours", newest, cfg.RecordsDir)
	default:
		f.Message = fmt.Sprintf("%s; no record exists yet under %s/", base, cfg.RecordsDir)
		f.Fix = fmt.Sprintf("write the record under %s/ (pushing an emergency commit or \"guard rollback\" writes one) and fill in every TODO within 24 hours", cfg.RecordsDir)
	}
	return f
}
