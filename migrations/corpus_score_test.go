package migrations

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/guardcm/guard/internal/report"
)

// TestCorpusScore scores the engine on the real folders of testdata/d1
// (the TestD1Corpus scenarios) against the hand-checked verdicts of
// testdata/corpus-labels.tsv: precision over error and warning findings,
// recall over the hazard locations. Every finding must have a verdict, so a
// new finding cannot go unjudged. corpus-NOTES.md has the numbers before
// and after issue 12 and how they were taken.
func TestCorpusScore(t *testing.T) {
	f, err := os.Open("testdata/corpus-labels.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	verdict := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 4 || (cols[2] != "hazard" && cols[2] != "false-alarm") {
			t.Fatalf("bad label line %q", line)
		}
		verdict[cols[0]+"\t"+cols[1]] = cols[2]
	}
	hazards := 0
	for _, v := range verdict {
		if v == "hazard" {
			hazards++
		}
	}
	var tp, fp int
	found := map[string]bool{}
	for _, s := range d1Scenarios {
		for _, g := range scenarioFindings(t, s) {
			if g.Severity == report.SeverityNotice {
				continue
			}
			unit := fmt.Sprintf("%s\t%s:%d", s.name, strings.TrimPrefix(g.File, dir+"/"), g.Line)
			switch verdict[unit] {
			case "hazard":
				tp++
				found[unit] = true
			case "false-alarm":
				fp++
			default:
				t.Errorf("no verdict for %s (%s): add it to testdata/corpus-labels.tsv", strings.ReplaceAll(unit, "\t", " "), g.Rule)
			}
		}
	}
	precision := float64(tp) / float64(tp+fp)
	recall := float64(len(found)) / float64(hazards)
	t.Logf("findings: %d true, %d false; precision %.1f%%; hazards found %d of %d; recall %.1f%%",
		tp, fp, 100*precision, len(found), hazards, 100*recall)
	if precision < 0.98 || recall < 1 {
		t.Errorf("precision %.1f%% (want >= 98%%), recall %.1f%% (want 100%%)", 100*precision, 100*recall)
	}
}

// scenarioFindings runs the engine on a scenario's folder (TestD1Corpus
// compares them with the scenario's wants).
func scenarioFindings(t *testing.T, sc d1Scenario) []report.Finding {
	t.Helper()
	in := Input{Dir: dir, Head: d1Files(t, sc.head), HasBase: !sc.nobase}
	if !sc.nobase {
		in.Base = d1Files(t, sc.base)
	}
	got, err := Check(context.Background(), in, Options{Digits: sc.digits})
	if err != nil {
		t.Fatal(err)
	}
	return got
}
