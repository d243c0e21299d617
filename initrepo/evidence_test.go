package initrepo

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

type workflowStep struct {
	Name             string            `yaml:"name"`
	Uses             string            `yaml:"uses"`
	With             map[string]any    `yaml:"with"`
	Env              map[string]string `yaml:"env"`
	Run              string            `yaml:"run"`
	WorkingDirectory string            `yaml:"working-directory"`
}

type workflow struct {
	Name string `yaml:"name"`
	On   struct {
		Schedule []struct {
			Cron string `yaml:"cron"`
		} `yaml:"schedule"`
		WorkflowDispatch struct {
			Inputs map[string]struct {
				Description string `yaml:"description"`
				Required    bool   `yaml:"required"`
				Default     string `yaml:"default"`
			} `yaml:"inputs"`
		} `yaml:"workflow_dispatch"`
	} `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Concurrency struct {
		Group            string `yaml:"group"`
		CancelInProgress bool   `yaml:"cancel-in-progress"`
	} `yaml:"concurrency"`
	Jobs map[string]struct {
		Name           string         `yaml:"name"`
		If             string         `yaml:"if"`
		RunsOn         string         `yaml:"runs-on"`
		TimeoutMinutes int            `yaml:"timeout-minutes"`
		Steps          []workflowStep `yaml:"steps"`
	} `yaml:"jobs"`
}

func parseEvidenceWorkflow(t *testing.T) (workflow, string) {
	t.Helper()
	f := EvidenceWorkflow(Options{})
	var w workflow
	dec := yaml.NewDecoder(strings.NewReader(string(f.Content)))
	dec.KnownFields(true)
	if err := dec.Decode(&w); err != nil {
		t.Fatalf("%s is not the workflow expected: %v", f.Path, err)
	}
	return w, string(f.Content)
}

// cronField parses one field of a five-field cron expression as GitHub
// reads it (numbers, *, ranges, lists, steps) into the values it matches.
func cronField(field string, lo, hi int) (map[int]bool, error) {
	out := map[int]bool{}
	for _, part := range strings.Split(field, ",") {
		rng, stepText, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("bad step in %q", field)
			}
			step = n
		}
		from, to := lo, hi
		if rng != "*" {
			a, b, isRange := strings.Cut(rng, "-")
			x, err := strconv.Atoi(a)
			if err != nil {
				return nil, fmt.Errorf("bad value %q", field)
			}
			from, to = x, x
			if isRange {
				if to, err = strconv.Atoi(b); err != nil {
					return nil, fmt.Errorf("bad range %q", field)
				}
			} else if hasStep {
				to = hi
			}
		}
		if from < lo || to > hi || from > to {
			return nil, fmt.Errorf("%q out of %d-%d", field, lo, hi)
		}
		for v := from; v <= to; v += step {
			out[v] = true
		}
	}
	return out, nil
}

// cronTimes lists the times in [from, to) a cron expression fires.
func cronTimes(t *testing.T, expr string, from, to time.Time) []time.Time {
	t.Helper()
	f := strings.Fields(expr)
	if len(f) != 5 {
		t.Fatalf("cron %q: want 5 fields", expr)
	}
	bounds := [][2]int{{0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 6}}
	sets := make([]map[int]bool, 5)
	for i, b := range bounds {
		s, err := cronField(f[i], b[0], b[1])
		if err != nil {
			t.Fatalf("cron %q: %v", expr, err)
		}
		sets[i] = s
	}
	var out []time.Time
	for m := from; m.Before(to); m = m.Add(time.Minute) {
		if sets[0][m.Minute()] && sets[1][m.Hour()] && sets[2][m.Day()] && sets[3][int(m.Month())] && sets[4][int(m.Weekday())] {
			out = append(out, m)
		}
	}
	return out
}

// The scheduled evidence workflow parses, fires daily and weekly
// (Mondays), collects each period just ended into the configured store
// with the right collectors, and documents every secret and variable it
// reads at its top.
func TestEvidenceWorkflow(t *testing.T) {
	w, text := parseEvidenceWorkflow(t)
	if len(w.On.Schedule) != 2 || w.On.Schedule[0].Cron != DailyCron || w.On.Schedule[1].Cron != WeeklyCron {
		t.Fatalf("schedules %+v", w.On.Schedule)
	}
	// Two weeks from a Monday: the daily cron fires once each day after
	// 00:00 UTC (so "the day that ended" is yesterday), the weekly cron
	// once each Monday.
	start := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	daily := cronTimes(t, DailyCron, start, start.AddDate(0, 0, 14))
	weekly := cronTimes(t, WeeklyCron, start, start.AddDate(0, 0, 14))
	if len(daily) != 14 || len(weekly) != 2 {
		t.Fatalf("daily fires %d times, weekly %d times in two weeks", len(daily), len(weekly))
	}
	for i, d := range daily {
		if d.YearDay() != start.AddDate(0, 0, i).YearDay() || d.Hour() == 0 && d.Minute() == 0 {
			t.Errorf("daily run %v", d)
		}
	}
	for _, d := range weekly {
		if d.Weekday() != time.Monday {
			t.Errorf("weekly run on %v", d.Weekday())
		}
	}
	if w.Concurrency.CancelInProgress {
		t.Error("a run in progress must not be cancelled halfway through an upload")
	}
	if w.Permissions["contents"] != "read" || len(w.Permissions) != 1 {
		t.Errorf("permissions %v", w.Permissions)
	}
	if _, ok := w.On.WorkflowDispatch.Inputs["until"]; !ok {
		t.Error("no workflow_dispatch input for a missed period")
	}

	runs := map[string][]string{}
	for name, job := range w.Jobs {
		if job.RunsOn != "ubuntu-latest" || len(job.Steps) < 4 || job.TimeoutMinutes <= 0 {
			t.Errorf("job %s: %+v", name, job)
		}
		co := job.Steps[0]
		if !strings.HasPrefix(co.Uses, "actions/checkout@") || fmt.Sprint(co.With["fetch-depth"]) != "0" {
			t.Errorf("job %s: first step %+v: evidence needs the full history", name, co)
		}
		for _, s := range job.Steps {
			if s.Run == "" {
				continue
			}
			for _, line := range strings.Split(strings.TrimSpace(s.Run), "\n") {
				if strings.HasPrefix(line, "guard ") {
					runs[name] = append(runs[name], line)
				}
				if strings.Contains(line, "guard evidence") && strings.Contains(line, "--out") {
					if s.Env["GUARD_EVIDENCE_STORE"] != "${{ vars.GUARD_EVIDENCE_STORE }}" || s.Env["CLOUDFLARE_API_TOKEN"] != "${{ secrets.CLOUDFLARE_API_TOKEN }}" {
						t.Errorf("step %q publishes without the store or the token: %v", s.Name, s.Env)
					}
				}
			}
		}
	}
	want := map[string][]string{
		"daily": {
			`guard evidence merge-activity --since 24h --until "${UNTIL:-$(date -u +%F)}" --out "$GUARD_EVIDENCE_STORE"`,
			`guard evidence branch-protection --out "$GUARD_EVIDENCE_STORE"`,
			`guard evidence verify "$GUARD_EVIDENCE_STORE"`,
		},
		"weekly": {
			`guard evidence deployments --since 7d --until "${UNTIL:-$(date -u +%F)}" --out "$GUARD_EVIDENCE_STORE"`,
			`guard evidence verify "$GUARD_EVIDENCE_STORE"`,
		},
	}
	if fmt.Sprint(runs) != fmt.Sprint(want) {
		t.Errorf("guard commands\n got %q\nwant %q", runs, want)
	}
	if !strings.Contains(w.Jobs["daily"].If, "'"+DailyCron+"'") || !strings.Contains(w.Jobs["weekly"].If, "'"+WeeklyCron+"'") {
		t.Errorf("jobs are not tied to their schedules: %q, %q", w.Jobs["daily"].If, w.Jobs["weekly"].If)
	}

	// Every secret and variable the workflow reads is documented in the
	// comment block at its top.
	header := text[:strings.Index(text, "\nname:")]
	refs := regexp.MustCompile(`\$\{\{ *(secrets|vars)\.([A-Z0-9_]+) *\}\}`).FindAllStringSubmatch(text, -1)
	seen := map[string]bool{}
	for _, r := range refs {
		seen[r[2]] = true
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	if fmt.Sprint(names) != "[CLOUDFLARE_ACCOUNT_ID CLOUDFLARE_API_TOKEN GUARD_EVIDENCE_STORE GUARD_GITHUB_TOKEN]" {
		t.Errorf("the workflow reads %v", names)
	}
	for _, n := range names {
		if !regexp.MustCompile(`(?m)^#   ` + n + ` `).MatchString(header) {
			t.Errorf("%s is read but not documented at the top", n)
		}
	}
	if !strings.Contains(header, "wrangler r2 bucket lock add BUCKET --name guard-evidence --prefix PREFIX/ --retention-days 400") {
		t.Error("the header does not say how to lock the prefix")
	}
}

// cronTimes itself: a step, a list and a range.
func TestCronTimes(t *testing.T) {
	from := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC) // a Monday
	if n := len(cronTimes(t, "*/15 1 * * *", from, from.AddDate(0, 0, 1))); n != 4 {
		t.Errorf("*/15 1: %d", n)
	}
	if n := len(cronTimes(t, "0 0 * * 1-5", from, from.AddDate(0, 0, 7))); n != 5 {
		t.Errorf("weekdays: %d", n)
	}
	if n := len(cronTimes(t, "0 6,18 1 * *", from, from.AddDate(0, 0, 3))); n != 2 {
		t.Errorf("list on the 1st: %d", n)
	}
	for _, bad := range []string{"60 * * * *", "* 24 * * *", "a * * * *", "*/0 * * * *"} {
		f := strings.Fields(bad)
		if _, err := cronField(f[0], 0, 59); err == nil && f[1] == "*" {
			t.Errorf("%q accepted", bad)
		}
	}
}
