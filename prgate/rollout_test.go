package prgate

import (
	"strings"
	"testing"

	"github.com/guardcm/guard/policy"
)

func TestRolloutPlanFrontMatter(t *testing.T) {
	in := Input{Category: policy.Standard, RolloutPlans: []PlanFile{
		{Path: "docs/rollouts/ok.md", Data: []byte("---\nsteps: [0, 25, 100]\nhold: 5m\n---\n# ok\n")},
		{Path: "docs/rollouts/plain.md", Data: []byte("# no front matter\n")},
		{Path: "docs/rollouts/bad.md", Data: []byte("---\nsteps: [0, 50]\n---\n")},
	}}
	var got []string
	for _, f := range Check(in, Config{}) {
		if f.Rule == RuleRolloutPlan {
			got = append(got, f.File+":"+strings.TrimSpace(f.Message))
			if f.Line != 2 {
				t.Errorf("line %d, want 2", f.Line)
			}
		}
	}
	if len(got) != 1 || !strings.Contains(got[0], "docs/rollouts/bad.md:the rollout plan's front matter does not parse, so guard deploy could not execute it: steps: the last step is 50%") {
		t.Fatalf("findings = %q", got)
	}
}
