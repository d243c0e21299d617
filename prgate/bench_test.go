package prgate

import (
	"strings"
	"testing"

	"github.com/guardcm/guard/policy"
)

// BenchmarkCheck runs the gate on a description at GitHub's limit (65,536
// characters) with a ticked checklist, a major category and changed paths.
func BenchmarkCheck(b *testing.B) {
	cl, err := ParseChecklist(".github/pull_request_template.md", readTemplate(b), "Self-review checklist")
	if err != nil {
		b.Fatal(err)
	}
	var body strings.Builder
	body.WriteString("## Motivation\nreason\n\nThreat model: docs/threat-model.md\nRollout: docs/rollouts/p.md\n\n## Self-review checklist\n")
	for _, it := range cl.Items {
		body.WriteString("- [x] " + it.Text + "\n")
	}
	body.WriteString("## Notes\n")
	for body.Len() < 65536-80 {
		body.WriteString("- [ ] a note <!-- c --> with `code` and more words to fill the line\n")
	}
	in := Input{Event: &Event{Number: 1, Title: "[major] x", Labels: []string{"category: major"}, Body: body.String()},
		Category: policy.Major, CommitCategories: map[policy.Category]int{policy.Major: 1, policy.Normal: 40},
		Checklist: cl, ChangedPaths: []string{"docs/threat-model.md", "docs/rollouts/p.md"}}
	b.SetBytes(int64(body.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if fs := Check(in, Config{}); len(fs) != 0 {
			b.Fatalf("findings: %+v", fs)
		}
	}
}
