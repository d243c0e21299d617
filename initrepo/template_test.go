package initrepo

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/policy"
	"github.com/guardcm/guard/prgate"
)

// The pull-request template is what the gate checks descriptions against: its
// checklist must parse with prgate, item for item, and be found where the
// gate looks by default.
func TestTemplateChecklistParses(t *testing.T) {
	for _, opts := range []Options{{}, {Commands: []string{}}, {Commands: []string{"echo `x`"}, ProjectName: "a -- b"}} {
		tmpl := fileMap(t, opts)[TemplatePath].Content
		c, err := prgate.ParseChecklist(TemplatePath, tmpl, prgate.DefaultConfig().ChecklistHeading)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, it := range c.Items {
			got = append(got, it.Text)
		}
		if !reflect.DeepEqual(got, Checklist(opts)) {
			t.Errorf("parsed items:\n got %q\nwant %q", got, Checklist(opts))
		}
	}
	root := t.TempDir()
	if _, err := Write(root, Files(Options{})); err != nil {
		t.Fatal(err)
	}
	c, err := prgate.LoadChecklist(func(p string) ([]byte, error) {
		return os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
	}, prgate.Config{})
	if err != nil || c == nil || c.Source != TemplatePath || len(c.Items) != len(Checklist(Options{})) {
		t.Fatalf("gate's default lookup: %+v, %v", c, err)
	}
}

// A description made from the template as GitHub pre-fills it fails the gate
// (no motivation, nothing ticked); filled in and ticked, it passes.
func TestTemplateAsDescription(t *testing.T) {
	tmpl := string(fileMap(t, Options{})[TemplatePath].Content)
	c, err := prgate.ParseChecklist(TemplatePath, []byte(tmpl), prgate.DefaultConfig().ChecklistHeading)
	if err != nil {
		t.Fatal(err)
	}
	in := prgate.Input{Event: &prgate.Event{Number: 1, Body: tmpl}, Category: policy.Normal,
		CommitCategories: map[policy.Category]int{policy.Normal: 1}, Checklist: c}
	var rules []string
	for _, f := range prgate.Check(in, prgate.Config{}) {
		rules = append(rules, f.Rule)
	}
	want := []string{prgate.RuleDescription}
	for range c.Items {
		want = append(want, prgate.RuleChecklist)
	}
	if !reflect.DeepEqual(rules, want) {
		t.Errorf("unfilled template: rules %q, want %q", rules, want)
	}

	filled := strings.Replace(tmpl, "## Motivation\n", "## Motivation\n\nInvoices need a due date; support answers it by hand today.\n", 1)
	filled = strings.ReplaceAll(filled, "- [ ] ", "- [x] ")
	in.Event.Body = filled
	if fs := prgate.Check(in, prgate.Config{}); report.HasErrors(fs) || len(fs) != 0 {
		t.Errorf("filled template refused: %+v", fs)
	}
}
