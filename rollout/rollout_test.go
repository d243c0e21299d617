package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestValidateSteps(t *testing.T) {
	for _, ok := range [][]float64{{100}, {0, 100}, {0, 10, 50, 100}, {0, 0.5, 12.125, 100}} {
		if err := ValidateSteps(ok); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
	for steps, want := range map[string]string{
		"":             "at least one step",
		"0,50":         "ends with the new version at 100%",
		"0,50,50,100":  "50 after 50; steps must increase",
		"10,5,100":     "5 after 10",
		"-1,100":       "-1 is not a percentage",
		"0,101":        "101 is not a percentage",
		"0,0.0001,100": "more than three decimals",
	} {
		var s []float64
		if steps != "" {
			for _, f := range strings.Split(steps, ",") {
				var v float64
				fmt.Sscan(f, &v)
				s = append(s, v)
			}
		}
		err := ValidateSteps(s)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", steps, err, want)
		}
	}
}

func TestParseSteps(t *testing.T) {
	got, err := ParseSteps(" 0, 25% ,100")
	if err != nil || !reflect.DeepEqual(got, []float64{0, 25, 100}) {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"", "0,,100", "0,x,100", "0,50", "0,Inf,100", "NaN,100"} {
		if _, err := ParseSteps(bad); err == nil || !strings.Contains(err.Error(), "--steps") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestNewPlanHolds(t *testing.T) {
	p, err := NewPlan(DefaultSteps, []time.Duration{time.Minute}, "x")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Holds, []time.Duration{time.Minute, time.Minute, time.Minute, 0}) {
		t.Fatalf("one hold for all: %v", p.Holds)
	}
	if got := p.Describe(); got != "0% (hold 1m0s) → 10% (hold 1m0s) → 50% (hold 1m0s) → 100%" {
		t.Fatalf("Describe = %q", got)
	}
	p, err = NewPlan([]float64{0, 100}, []time.Duration{0, time.Second}, "x")
	if err != nil || p.Holds[1] != time.Second {
		t.Fatalf("per step: %v %v", p, err)
	}
	if _, err := NewPlan(DefaultSteps, []time.Duration{1, 2}, "x"); err == nil || !strings.Contains(err.Error(), "2 durations for 4 steps") {
		t.Fatalf("wrong count: %v", err)
	}
	if _, err := NewPlan([]float64{0, 100}, []time.Duration{-1}, "x"); err == nil {
		t.Fatal("negative hold accepted")
	}
}

func TestParseFrontMatter(t *testing.T) {
	p, err := ParseFrontMatter("docs/rollouts/q.md", []byte("---\nsteps: [0, 5, 25, 100]\nhold: 10m\n---\n# Queue rollout\n"))
	if err != nil || p == nil || !reflect.DeepEqual(p.Steps, []float64{0, 5, 25, 100}) || p.Holds[0] != 10*time.Minute || p.Source != "docs/rollouts/q.md" {
		t.Fatalf("%+v %v", p, err)
	}
	p, err = ParseFrontMatter("q.md", []byte("---\r\nsteps:\r\n  - 0\r\n  - 100%\r\nhold: [1s, 0s]\r\n---\r\n"))
	if err != nil || !reflect.DeepEqual(p.Holds, []time.Duration{time.Second, 0}) {
		t.Fatalf("CRLF, lists: %+v %v", p, err)
	}
	for _, none := range []string{"# Plan\n\nno front matter\n", "---\n---\n# empty\n", "---\ntitle_free: \n", ""} {
		p, err := ParseFrontMatter("q.md", []byte(none))
		if none == "---\ntitle_free: \n" {
			if err == nil {
				t.Errorf("%q: unclosed front matter accepted", none)
			}
			continue
		}
		if p != nil || err != nil {
			t.Errorf("%q: %+v %v", none, p, err)
		}
	}
	for in, want := range map[string]string{
		"---\nsteps: [0, 50]\n---\n":              "q.md:2:1: steps: the last step is 50%",
		"---\nsteps: [0, fifty, 100]\n---\n":      `q.md:2:12: step "fifty" is not a percentage`,
		"---\nsteps: 100\n---\n":                  "q.md:2:8: steps must be a list",
		"---\nsteps: [0, 100]\nhold: soon\n---\n": `q.md:3:7: hold "soon" is not a duration`,
		"---\nstep: [0, 100]\n---\n":              `q.md:2:1: unknown key "step"`,
		"---\n- 0\n---\n":                         "q.md:2:1: front matter must be a mapping",
		"---\nsteps: [0, 100\n---\n":              "q.md: front matter: yaml: line 2",
		"---\nsteps: [0, 100]\nhold: [1s]\n---\n": "q.md:3:7: hold lists 1 durations for 2 steps",
	} {
		_, err := ParseFrontMatter("q.md", []byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
	// A hold alone applies to the default steps.
	p, err = ParseFrontMatter("q.md", []byte("---\nhold: 1m\n---\n"))
	if err != nil || !reflect.DeepEqual(p.Steps, DefaultSteps) {
		t.Fatalf("hold only: %+v %v", p, err)
	}
}

func FuzzParseFrontMatter(f *testing.F) {
	for _, s := range []string{"---\nsteps: [0, 10, 100]\nhold: 1m\n---\n", "---\nhold: [1s, 2s]\n---\n", "# x\n", "---\n: :\n---\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseFrontMatter("f.md", data)
		if err != nil || p == nil {
			return
		}
		if ValidateSteps(p.Steps) != nil || len(p.Holds) != len(p.Steps) {
			t.Fatalf("invalid plan accepted: %+v", p)
		}
	})
}

// fakeDriver records what Run does; checks fail at the steps listed in bad.
type fakeDriver struct {
	t       *testing.T
	bad     map[string]bool // "step/afterHold"
	deploys [][]Share
	checks  []Check
	saves   []State
	slept   []time.Duration
	cancel  func()
	// cancelAt cancels the context when a check of that step starts.
	cancelAt   int
	failDeploy int
	n          int
}

func (f *fakeDriver) Deploy(ctx context.Context, shares []Share, msg string) (string, error) {
	if len(f.deploys) == f.failDeploy {
		return "", errors.New("wrangler exited 1")
	}
	f.deploys = append(f.deploys, shares)
	return fmt.Sprintf("dep-%d", len(f.deploys)), nil
}

func (f *fakeDriver) Verify(ctx context.Context, c Check) (bool, error) {
	if f.cancel != nil && c.Step == f.cancelAt {
		f.cancel()
		return false, ctx.Err()
	}
	f.checks = append(f.checks, c)
	return !f.bad[fmt.Sprintf("%d/%v", c.Step, c.AfterHold)], nil
}

func (f *fakeDriver) Save(st *State) error {
	b, _ := json.Marshal(st)
	var c State
	if err := json.Unmarshal(b, &c); err != nil {
		f.t.Fatal(err)
	}
	f.saves = append(f.saves, c)
	return nil
}

func (f *fakeDriver) Sleep(ctx context.Context, d time.Duration) error {
	f.slept = append(f.slept, d)
	return ctx.Err()
}
func (f *fakeDriver) Now() time.Time                 { f.n++; return time.Unix(int64(f.n), 0) }
func (f *fakeDriver) Say(format string, args ...any) {}

func newState(t *testing.T, holds ...time.Duration) *State {
	p, err := NewPlan(DefaultSteps, holds, "test")
	if err != nil {
		t.Fatal(err)
	}
	st := NewState(p, "old", "dep-0")
	st.NewVersion = "new"
	return st
}

func TestRunGood(t *testing.T) {
	st := newState(t, time.Minute)
	d := &fakeDriver{t: t, failDeploy: -1}
	out, err := Run(context.Background(), st, d)
	if err != nil || !out.Completed || out.FailedStep != -1 {
		t.Fatalf("%+v %v", out, err)
	}
	want := [][]Share{{{"new", 0}, {"old", 100}}, {{"new", 10}, {"old", 90}}, {{"new", 50}, {"old", 50}}, {{"new", 100}}}
	if !reflect.DeepEqual(d.deploys, want) {
		t.Fatalf("deploys = %v", d.deploys)
	}
	if len(d.checks) != 7 || !d.checks[1].AfterHold || d.checks[6].AfterHold || d.checks[6].Percent != 100 {
		t.Fatalf("checks = %+v", d.checks)
	}
	if !reflect.DeepEqual(d.slept, []time.Duration{time.Minute, time.Minute, time.Minute}) {
		t.Fatalf("slept = %v", d.slept)
	}
	if st.Phase != PhaseCompleted || len(st.Deployments) != 4 || st.Deployments[3].Verified != "good" || st.MaxPercent() != 100 {
		t.Fatalf("state = %+v", st)
	}
	// The record of a crash at any moment names the step reached.
	if s := d.saves[0]; s.Step != 0 || s.Phase != PhaseVerifying || len(s.Deployments) != 1 {
		t.Fatalf("first save = %+v", s)
	}
}

func TestRunFailsAtZero(t *testing.T) {
	st := newState(t)
	d := &fakeDriver{t: t, bad: map[string]bool{"0/false": true}, failDeploy: -1}
	out, err := Run(context.Background(), st, d)
	if err != nil || out.Completed || out.FailedStep != 0 || !out.Returned {
		t.Fatalf("%+v %v", out, err)
	}
	if len(d.deploys) != 2 || d.deploys[1][0] != (Share{"old", 100}) || len(d.deploys[1]) != 1 {
		t.Fatalf("deploys = %v", d.deploys)
	}
	if st.MaxPercent() != 0 || st.Phase != PhaseFailed || *st.FailedStep != 0 || st.Return.DeploymentID != "dep-2" || st.Deployments[0].Verified != "bad" {
		t.Fatalf("state = %+v", st)
	}
}

func TestRunFailsAfterHold(t *testing.T) {
	st := newState(t, time.Second)
	d := &fakeDriver{t: t, bad: map[string]bool{"2/true": true}, failDeploy: -1}
	out, _ := Run(context.Background(), st, d)
	if out.FailedStep != 2 || st.MaxPercent() != 50 || st.Percent() != 0 {
		t.Fatalf("%+v %+v", out, st)
	}
}

func TestRunInterruptedAndResumed(t *testing.T) {
	st := newState(t)
	ctx, cancel := context.WithCancel(context.Background())
	d := &fakeDriver{t: t, cancel: cancel, cancelAt: 1, failDeploy: -1}
	_, err := Run(ctx, st, d)
	if !errors.Is(err, ErrInterrupted) || st.Step != 1 || st.Phase != PhaseVerifying {
		t.Fatalf("%v %+v", err, st)
	}
	// Resumed: step 1 is checked again without a new deployment.
	d2 := &fakeDriver{t: t, failDeploy: -1}
	out, err := Run(context.Background(), st, d2)
	if err != nil || !out.Completed || len(d2.deploys) != 2 || d2.checks[0].Step != 1 {
		t.Fatalf("resume: %+v %v deploys %v checks %+v", out, err, d2.deploys, d2.checks)
	}
}

func TestResumeDuringHoldWaitsWhatIsLeft(t *testing.T) {
	st := newState(t, 10*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	d := &fakeDriver{t: t, failDeploy: -1}
	d.cancel = nil
	// Interrupt during the first hold.
	sleepCancel := &cancelOnSleep{fakeDriver: d, cancel: cancel}
	if _, err := Run(ctx, st, sleepCancel); !errors.Is(err, ErrInterrupted) || st.Phase != PhaseHolding || st.HoldUntil == nil {
		t.Fatalf("%v %+v", err, st)
	}
	d2 := &fakeDriver{t: t, failDeploy: -1, n: d.n + 4} // the clock moved 4 s
	if out, err := Run(context.Background(), st, d2); err != nil || !out.Completed {
		t.Fatalf("%+v %v", out, err)
	}
	if d2.slept[0] >= 10*time.Second || d2.slept[0] <= 0 || d2.slept[1] != 10*time.Second {
		t.Fatalf("slept %v", d2.slept)
	}
}

type cancelOnSleep struct {
	*fakeDriver
	cancel func()
}

func (c *cancelOnSleep) Sleep(ctx context.Context, d time.Duration) error {
	c.cancel()
	return ctx.Err()
}

func TestRunDeployFails(t *testing.T) {
	st := newState(t)
	d := &fakeDriver{t: t, failDeploy: 2}
	_, err := Run(context.Background(), st, d)
	var de *DeployError
	if !errors.As(err, &de) || de.Step != 2 || st.Step != 1 {
		t.Fatalf("%v %+v", err, st)
	}
	if err := Return(context.Background(), st, &fakeDriver{t: t, failDeploy: -1}, PhaseFailed); err != nil || st.Return == nil {
		t.Fatalf("return: %v", err)
	}
}

func TestReturnBeforeAnyDeployment(t *testing.T) {
	st := newState(t)
	d := &fakeDriver{t: t, failDeploy: -1}
	if err := Return(context.Background(), st, d, PhaseAborted); err != nil || len(d.deploys) != 0 || st.Phase != PhaseAborted {
		t.Fatalf("%v %v %+v", err, d.deploys, st)
	}
}

func TestLocate(t *testing.T) {
	now := time.Unix(100, 0)
	st := newState(t)
	if err := Locate(st, Served{ID: "dep-0", Shares: []Share{{"old", 100}}}, now); err != nil || st.Step != -1 {
		t.Fatalf("before the first step: %v %+v", err, st)
	}
	// guard died after wrangler made step 2's deployment: it is added.
	st.Step = 0
	st.Deployments = []StepRecord{{Step: 0, DeploymentID: "dep-1"}}
	if err := Locate(st, Served{ID: "dep-2", Shares: []Share{{"old", 90}, {"new", 10}}}, now); err != nil || st.Step != 1 || len(st.Deployments) != 2 || st.Deployments[1].DeploymentID != "dep-2" {
		t.Fatalf("unrecorded step: %v %+v", err, st)
	}
	if err := Locate(st, Served{ID: "dep-9", Shares: []Share{{"new", 100}}}, now); err != nil || st.Step != 3 {
		t.Fatalf("at 100: %v %+v", err, st)
	}
	st2 := newState(t)
	st2.Step = 1
	if err := Locate(st2, Served{ID: "dep-5", Shares: []Share{{"old", 100}}}, now); err != nil || st2.Return == nil || st2.Return.DeploymentID != "dep-5" {
		t.Fatalf("returned, unrecorded: %v %+v", err, st2)
	}
	for _, cur := range []Served{
		{ID: "x", Shares: []Share{{"other", 100}}},
		{ID: "x", Shares: []Share{{"new", 20}, {"old", 80}}},
		{ID: "x", Shares: []Share{{"new", 10}, {"other", 90}}},
	} {
		if err := Locate(newState(t), cur, now); err == nil {
			t.Errorf("%+v located", cur)
		}
	}
}
