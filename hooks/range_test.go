package hooks

import (
	"context"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/policy"
)

const trailerNormal = "\n\nChange-Category: normal\n"

// remoteSetup is a local repository with a bare "origin" that has main
// (one commit) and a pushed feature branch (one more commit), and two
// local, unpushed commits on feature.
type remoteSetup struct {
	local              *testRepo
	mainTip, pushedTip string
	new1, new2         string
}

func newRemoteSetup(t *testing.T) *remoteSetup {
	t.Helper()
	local := newTestRepo(t)
	bare := filepath.Join(t.TempDir(), "remote.git")
	initRepo(t, bare, "--bare")
	local.git("remote", "add", "origin", bare)

	s := &remoteSetup{local: local}
	local.change("README.md", "readme\n")
	s.mainTip = local.commit("docs: readme\n\nChange-Category: standard\n")
	local.git("push", "-q", "origin", "main")
	local.git("switch", "-q", "-c", "feature")
	local.change("src/a.ts", "a\n")
	s.pushedTip = local.commit("feat: a" + trailerNormal)
	local.git("push", "-q", "origin", "feature")
	local.change("src/b.ts", "b\n")
	s.new1 = local.commit("feat: b" + trailerNormal)
	local.change("src/c.ts", "c\n")
	s.new2 = local.commit("feat: c" + trailerNormal)
	return s
}

func hashes(t *testing.T, res *Result) []string {
	t.Helper()
	var out []string
	for _, c := range res.Commits {
		out = append(out, c.Hash)
	}
	return out
}

func TestRangeFor(t *testing.T) {
	s := newRemoteSetup(t)
	repo := s.local.open()
	ctx := context.Background()
	cfg := config.Defaults()

	for _, tc := range []struct {
		name    string
		u       RefUpdate
		want    Range
		commits []string
	}{
		{
			name:    "new branch: everything not on any remote-tracking ref",
			u:       RefUpdate{"refs/heads/feature", s.new2, "refs/heads/other", zeroSHA},
			want:    Range{Head: s.new2, Exclude: []string{"--remotes=origin"}, Base: s.mainTip, Branch: "other", Push: true},
			commits: []string{s.new1, s.new2},
		},
		{
			name:    "existing remote sha: what it does not have",
			u:       RefUpdate{"refs/heads/feature", s.new2, "refs/heads/feature", s.pushedTip},
			want:    Range{Head: s.new2, Exclude: []string{s.pushedTip}, Base: s.mainTip, Branch: "feature", Push: true},
			commits: []string{s.new1, s.new2},
		},
		{
			name:    "existing remote sha older than the tracking ref",
			u:       RefUpdate{"refs/heads/feature", s.new2, "refs/heads/feature", s.mainTip},
			want:    Range{Head: s.new2, Exclude: []string{s.mainTip}, Base: s.mainTip, Branch: "feature", Push: true},
			commits: []string{s.pushedTip, s.new1, s.new2},
		},
		{
			name:    "unknown remote sha (not fetched): fall back to the tracking refs",
			u:       RefUpdate{"refs/heads/feature", s.new2, "refs/heads/feature", "abcdefabcdefabcdefabcdefabcdefabcdefabcd"},
			want:    Range{Head: s.new2, Exclude: []string{"--remotes=origin"}, Base: s.mainTip, Branch: "feature", Push: true},
			commits: []string{s.new1, s.new2},
		},
		{
			name:    "tag",
			u:       RefUpdate{"refs/tags/v1", s.new1, "refs/tags/v1", zeroSHA},
			want:    Range{Head: s.new1, Exclude: []string{"--remotes=origin"}, Base: s.mainTip, Push: true},
			commits: []string{s.new1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rangeFor(ctx, repo, cfg, "origin", tc.u)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("rangeFor = %+v, want %+v", got, tc.want)
			}
			res, err := CheckRange(ctx, repo, cfg, got)
			if err != nil {
				t.Fatal(err)
			}
			if h := hashes(t, res); !reflect.DeepEqual(h, tc.commits) {
				t.Errorf("commits in range = %v, want %v", h, tc.commits)
			}
			if len(res.Findings) != 0 {
				t.Errorf("findings on a clean range: %+v", res.Findings)
			}
		})
	}

	// Pushing to a URL: no tracking refs by that name, so every commit of
	// the head is checked; no base.
	got, err := rangeFor(ctx, repo, cfg, "../elsewhere.git", RefUpdate{"refs/heads/feature", s.new2, "refs/heads/feature", zeroSHA})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Range{Head: s.new2, Exclude: []string{"--remotes=../elsewhere.git"}, Branch: "feature", Push: true}); !reflect.DeepEqual(got, want) {
		t.Errorf("push to a URL: rangeFor = %+v, want %+v", got, want)
	}
	// Known remote sha but no tracking ref for the configured branch: the
	// remote ref itself is the base.
	trunk := config.Defaults()
	trunk.Branch = "trunk"
	got, err = rangeFor(ctx, repo, trunk, "origin", RefUpdate{"refs/heads/feature", s.new2, "refs/heads/feature", s.pushedTip})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Range{Head: s.new2, Exclude: []string{s.pushedTip}, Base: s.pushedTip, Branch: "feature", Push: true}); !reflect.DeepEqual(got, want) {
		t.Errorf("no tracking branch: rangeFor = %+v, want %+v", got, want)
	}
}

func findingsByRule(fs []report.Finding) map[string][]report.Finding {
	m := map[string][]report.Finding{}
	for _, f := range fs {
		m[f.Rule] = append(m[f.Rule], f)
	}
	return m
}

func rules(fs []report.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule)
	}
	sort.Strings(out)
	return out
}

func TestCheckRangeCommitRules(t *testing.T) {
	tr := newTestRepo(t)
	tr.change("README.md", "r\n")
	base := tr.commit("docs: base\n\nChange-Category: standard\n")
	tr.git("switch", "-q", "-c", "feature")

	tr.change("src/missing.ts", "x\n")
	missing := tr.commit("feat: no trailer\n\nJust a body.\n")
	tr.change("src/under.ts", "x\n")
	under := tr.commit("feat: understated\n\nChange-Category: standard\n")
	tr.change("src/invalid.ts", "x\n")
	invalid := tr.commit("feat: invalid\n\nChange-Category: huge\n")
	tr.change("src/fix.ts", "x\n")
	fixup := tr.commit("fixup! feat: no trailer\n")
	tr.change("src/crlf.ts", "x\n")
	crlf := tr.commit("feat: crlf\r\n\r\nChange-Category: normal\r\n")
	tr.change("docs/guide.md", "g\n")
	over := tr.commit("docs: overstated is fine\n\nChange-Category: normal\n")
	tr.change("src/emergency.ts", "x\n")
	emergency := tr.commit("fix: hotfix\n\nChange-Category: emergency\n")

	// A merge commit without a trailer is exempt: its side commit is
	// checked on its own.
	tr.git("switch", "-q", "-c", "side", base)
	tr.change("src/side.ts", "x\n")
	side := tr.commit("feat: side" + trailerNormal)
	tr.git("switch", "-q", "feature")
	tr.git("checkout", "-q", side, "--", "src/side.ts")
	merge := tr.commit("Merge branch 'side'\n", side)

	repo := tr.open()
	cfg := config.Defaults()
	cfg.Categories.Major = []string{"infra/**"}
	res, err := CheckRange(context.Background(), repo, cfg, Range{Head: merge, Exclude: []string{base}, Branch: "feature"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(res.Commits), 9; got != want {
		t.Fatalf("%d commits checked, want %d", got, want)
	}
	short := func(h string) string { return h[:12] }
	by := findingsByRule(res.Findings)
	if got, want := rules(res.Findings), []string{RuleUnderstated, RuleInvalidCategory, RuleMissingCategory}; !reflect.DeepEqual(got, sortStrings(want)) {
		t.Fatalf("rules = %v, want %v; findings %+v", got, sortStrings(want), res.Findings)
	}
	check := func(rule, commit, subject string, msgParts ...string) {
		t.Helper()
		f := by[rule][0]
		if f.Commit != short(commit) || f.Subject != subject || f.Severity != report.SeverityError || f.Fix == "" {
			t.Errorf("%s finding = %+v; want commit %s, subject %q", rule, f, short(commit), subject)
		}
		for _, p := range msgParts {
			if !strings.Contains(f.Message+" "+f.Fix, p) {
				t.Errorf("%s finding %+v does not say %q", rule, f, p)
			}
		}
	}
	check(RuleMissingCategory, missing, "feat: no trailer", "normal", "src/missing.ts", "Change-Category: normal")
	check(RuleUnderstated, under, "feat: understated", "declared standard", "is normal", "src/under.ts")
	check(RuleInvalidCategory, invalid, "feat: invalid", `"huge"`)

	wantCat := map[string]policy.Category{
		missing: policy.Normal, under: policy.Normal, invalid: policy.Normal, crlf: policy.Normal,
		over: policy.Normal, emergency: policy.Emergency, side: policy.Normal,
	}
	if !reflect.DeepEqual(res.Category, wantCat) {
		t.Errorf("Category = %v, want %v", res.Category, wantCat)
	}
	for _, h := range []string{fixup, merge} {
		if _, ok := res.Category[h]; ok {
			t.Errorf("exempt commit %s has a category", short(h))
		}
	}
	if res.Highest != policy.Normal || res.AllEmergency {
		t.Errorf("Highest = %v, AllEmergency = %v", res.Highest, res.AllEmergency)
	}
}

func sortStrings(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func TestCheckRangeProtectedBranch(t *testing.T) {
	tr := newTestRepo(t)
	tr.change("README.md", "r\n")
	base := tr.commit("docs: base\n\nChange-Category: standard\n")
	tr.change("src/a.ts", "a\n")
	a := tr.commit("feat: a" + trailerNormal)
	tr.change("src/b.ts", "b\n")
	fix := tr.commit("fixup! feat: a\n")
	tr.change("src/hot.ts", "h\n")
	hot := tr.commit("fix: hot\n\nChange-Category: emergency\n")
	repo := tr.open()
	cfg := config.Defaults()
	ctx := context.Background()

	res, err := CheckRange(ctx, repo, cfg, Range{Head: hot, Exclude: []string{base}, Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	by := findingsByRule(res.Findings)
	if len(res.Findings) != 1 || len(by[RuleProtectedBranch]) != 1 {
		t.Fatalf("findings = %+v, want one protected-branch finding", res.Findings)
	}
	f := by[RuleProtectedBranch][0]
	// The fixup! commit is exempt from the trailer but not from review.
	for _, want := range []string{`"main"`, "2 commit(s)", a[:12], fix[:12], "pull request"} {
		if !strings.Contains(f.Message+" "+f.Fix, want) {
			t.Errorf("protected-branch finding %+v does not say %q", f, want)
		}
	}
	if strings.Contains(f.Message, hot[:12]) {
		t.Errorf("the emergency commit is listed: %q", f.Message)
	}

	// Only emergency commits may go straight to a protected branch.
	res, err = CheckRange(ctx, repo, cfg, Range{Head: hot, Exclude: []string{fix}, Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 0 || !res.AllEmergency || res.Highest != policy.Emergency {
		t.Errorf("emergency-only push: findings %+v, AllEmergency %v, Highest %v", res.Findings, res.AllEmergency, res.Highest)
	}
	// A branch that is not protected, and a glob that protects release/*.
	res, err = CheckRange(ctx, repo, cfg, Range{Head: hot, Exclude: []string{base}, Branch: "feature"})
	if err != nil || len(res.Findings) != 0 {
		t.Errorf("feature branch: %+v, %v", res.Findings, err)
	}
	cfg.Protected = []string{"release/*"}
	res, err = CheckRange(ctx, repo, cfg, Range{Head: hot, Exclude: []string{base}, Branch: "release/1.2"})
	if err != nil || len(findingsByRule(res.Findings)[RuleProtectedBranch]) != 1 {
		t.Errorf("release/1.2 with protected release/*: %+v, %v", res.Findings, err)
	}
	// An empty range finds nothing and is not "all emergency".
	res, err = CheckRange(ctx, repo, cfg, Range{Head: hot, Exclude: []string{hot}, Branch: "release/1.2"})
	if err != nil || len(res.Findings) != 0 || res.AllEmergency || len(res.Commits) != 0 {
		t.Errorf("empty range: %+v, %v", res, err)
	}
}

func TestCheckRangeMajorRequirements(t *testing.T) {
	tr := newTestRepo(t)
	tr.change("README.md", "r\n", "docs/threat-model.md", "v1\n", "docs/rollouts/.gitkeep", "")
	base := tr.commit("docs: base\n\nChange-Category: standard\n")
	tr.git("switch", "-q", "-c", "feature")
	tr.change("src/x.ts", "x\n")
	normal := tr.commit("feat: x" + trailerNormal)
	tr.change("wrangler.toml", "name = \"payments\"\nmain = \"src/index.ts\"\n")
	worker := tr.commit("feat: new worker\n\nChange-Category: major\n")
	tr.change("infra/net.tf", "x\n")
	undeclared := tr.commit("chore: network\n\nChange-Category: normal\n")
	repo := tr.open()
	cfg := config.Defaults()
	cfg.Categories.Major = []string{"infra/**"}
	ctx := context.Background()

	for _, withBase := range []bool{true, false} {
		r := Range{Head: undeclared, Exclude: []string{base}, Branch: "feature"}
		if withBase {
			r.Base = base
		}
		res, err := CheckRange(ctx, repo, cfg, r)
		if err != nil {
			t.Fatal(err)
		}
		by := findingsByRule(res.Findings)
		if got, want := rules(res.Findings), sortStrings([]string{RuleUnderstated, RuleThreatModelMissing, RuleRolloutPlanMissing}); !reflect.DeepEqual(got, want) {
			t.Fatalf("base=%v: rules %v, want %v: %+v", withBase, got, want, res.Findings)
		}
		if f := by[RuleUnderstated][0]; f.Commit != undeclared[:12] || !strings.Contains(f.Message, `infra/net.tf matches major glob "infra/**"`) {
			t.Errorf("understated finding %+v", f)
		}
		tm, ro := by[RuleThreatModelMissing][0], by[RuleRolloutPlanMissing][0]
		if tm.File != "docs/threat-model.md" || ro.File != "docs/rollouts/" {
			t.Errorf("files: %q, %q", tm.File, ro.File)
		}
		for _, f := range []report.Finding{tm, ro} {
			// Both major commits are named (sorted), the normal one is not.
			majors := sortStrings([]string{worker[:12], undeclared[:12]})
			if !strings.Contains(f.Message, "("+majors[0]+", "+majors[1]+")") || strings.Contains(f.Message, normal[:12]) {
				t.Errorf("%s finding %q does not name exactly the major commits %v", f.Rule, f.Message, majors)
			}
			if f.Severity != report.SeverityError || f.Fix == "" {
				t.Errorf("%+v", f)
			}
		}
		if res.Highest != policy.Major {
			t.Errorf("Highest = %v", res.Highest)
		}
	}

	// The push updates the threat model and adds a rollout plan: no
	// findings beyond the understated commit. A .gitkeep or a deleted
	// threat model does not count.
	tr.change("docs/threat-model.md", "v2: payments worker\n", "docs/rollouts/2025-03-payments.md", "steps\n")
	done := tr.commit("docs: threat model and rollout\n\nChange-Category: standard\n")
	for _, withBase := range []bool{true, false} {
		r := Range{Head: done, Exclude: []string{base}}
		if withBase {
			r.Base = base
		}
		res, err := CheckRange(ctx, repo, cfg, r)
		if err != nil {
			t.Fatal(err)
		}
		if got := rules(res.Findings); !reflect.DeepEqual(got, []string{RuleUnderstated}) {
			t.Errorf("base=%v: with threat model and rollout plan: %v", withBase, res.Findings)
		}
	}
	// Deleting the threat model is no update of it, and a .gitkeep is no
	// rollout plan.
	tr.git("switch", "-q", "-c", "b2", base)
	tr.git("rm", "-q", "docs/threat-model.md")
	tr.change("infra/y.tf", "y\n", "docs/rollouts/sub/.gitkeep", "")
	b2 := tr.commit("feat: infra\n\nChange-Category: major\n")
	res, err := CheckRange(ctx, repo, cfg, Range{Head: b2, Exclude: []string{base}, Base: base})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rules(res.Findings), sortStrings([]string{RuleThreatModelMissing, RuleRolloutPlanMissing}); !reflect.DeepEqual(got, want) {
		t.Errorf("deleted threat model, .gitkeep plan: rules %v, want %v", got, want)
	}
	// The base moved on after the branch forked: its own threat-model
	// change is not this range's (diff from the merge base).
	tr.git("switch", "-q", "main")
	tr.change("docs/threat-model.md", "v1 + main\n", "docs/rollouts/main-plan.md", "x\n")
	mainTip := tr.commit("docs: main's own update\n\nChange-Category: standard\n")
	res, err = CheckRange(ctx, repo, cfg, Range{Head: undeclared, Exclude: []string{mainTip}, Base: mainTip})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rules(res.Findings), sortStrings([]string{RuleUnderstated, RuleThreatModelMissing, RuleRolloutPlanMissing}); !reflect.DeepEqual(got, want) {
		t.Errorf("base ahead of the fork: rules %v, want %v", got, want)
	}
}
