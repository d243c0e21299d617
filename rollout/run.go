package rollout

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Phases of a rollout as its State records them.
const (
	PhaseUploaded  = "uploaded"  // the new version exists, no deployment names it yet
	PhaseVerifying = "verifying" // a step's deployment exists; its checks run
	PhaseHolding   = "holding"   // a step passed its checks; waiting its hold
	PhaseCompleted = "completed" // the new version serves 100 %, verified
	PhaseFailed    = "failed"    // a check failed; the old version serves 100 % again
	PhaseAborted   = "aborted"   // stopped by the operator (interrupt or --abort); the old version serves 100 %
)

// Duration is a time.Duration that reads and writes JSON as "5m0s".
type Duration time.Duration

// MarshalJSON writes the duration in Go syntax.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("rollout hold %s is not a duration string", b)
	}
	v, err := time.ParseDuration(string(b[1 : len(b)-1]))
	if err != nil {
		return fmt.Errorf("rollout hold: %w", err)
	}
	*d = Duration(v)
	return nil
}

// StepRecord is one deployment a rollout made.
type StepRecord struct {
	// Step is the index in State.Steps; -1 for the return to the old
	// version.
	Step         int       `json:"step"`
	Percent      float64   `json:"percent"`
	DeploymentID string    `json:"deployment_id"`
	Time         time.Time `json:"time"`
	// Verified is good once the step's checks (and those after its hold)
	// passed, bad when one failed, "" while they run.
	Verified string `json:"verified,omitempty"`
}

// State is a rollout as far as it went; guard keeps it in the deploy's
// ledger records so that a crash leaves it for --resume and --abort.
type State struct {
	Source string     `json:"source"`
	Steps  []float64  `json:"steps"`
	Holds  []Duration `json:"holds"`
	// NewVersion is the uploaded version; OldVersion and OldDeployment
	// what served 100 % before the rollout.
	NewVersion    string `json:"new_version"`
	OldVersion    string `json:"old_version"`
	OldDeployment string `json:"old_deployment"`
	Phase         string `json:"phase"`
	// Step is the index of the step whose deployment serves now, -1
	// before the first.
	Step        int          `json:"step"`
	Deployments []StepRecord `json:"deployments"`
	// HoldUntil is when the hold of the current step ends, while holding:
	// a resumed rollout waits only what is left of it.
	HoldUntil *time.Time `json:"hold_until,omitempty"`
	// FailedStep is the index of the step whose checks failed, when one
	// did.
	FailedStep *int `json:"failed_step,omitempty"`
	// Return is the deployment that gave the old version 100 % back.
	Return *StepRecord `json:"return,omitempty"`
}

// NewState starts the state of a rollout of plan, from the version that
// serves 100 % now.
func NewState(p *Plan, oldVersion, oldDeployment string) *State {
	st := &State{Source: p.Source, Steps: append([]float64(nil), p.Steps...), OldVersion: oldVersion, OldDeployment: oldDeployment, Step: -1, Deployments: []StepRecord{}}
	for _, h := range p.Holds {
		st.Holds = append(st.Holds, Duration(h))
	}
	return st
}

// Clone is a deep copy, for records that must not change under the caller.
func (st *State) Clone() *State {
	if st == nil {
		return nil
	}
	c := *st
	c.Steps = append([]float64(nil), st.Steps...)
	c.Holds = append([]Duration(nil), st.Holds...)
	c.Deployments = append([]StepRecord{}, st.Deployments...)
	if st.FailedStep != nil {
		f := *st.FailedStep
		c.FailedStep = &f
	}
	if st.Return != nil {
		r := *st.Return
		c.Return = &r
	}
	if st.HoldUntil != nil {
		h := *st.HoldUntil
		c.HoldUntil = &h
	}
	return &c
}

// Percent is the share of traffic the new version has now.
func (st *State) Percent() float64 {
	if st.Return != nil || st.Step < 0 {
		return 0
	}
	return st.Steps[st.Step]
}

// MaxPercent is the largest share of traffic the new version ever had:
// above 0, users saw it.
func (st *State) MaxPercent() float64 {
	m := 0.0
	for _, d := range st.Deployments {
		if d.Step >= 0 {
			m = max(m, d.Percent)
		}
	}
	return m
}

// Where says which step production is at: "step 2 of 4 (10%)".
func (st *State) Where() string {
	if st.Step < 0 {
		return "its upload (no deployment yet)"
	}
	return fmt.Sprintf("step %d of %d (%s%%)", st.Step+1, len(st.Steps), FormatPercent(st.Steps[st.Step]))
}

// Version is the new version's ID, or a note that it was not uploaded.
func (st *State) Version() string {
	if st.NewVersion == "" {
		return "(not uploaded)"
	}
	return st.NewVersion
}

// Share is one version's part of a deployment.
type Share struct {
	VersionID string
	Percent   float64
}

// Shares is the deployment of step i: the new version alone at 100 %,
// else new@P% and old@(100-P)%.
func (st *State) Shares(i int) []Share {
	p := st.Steps[i]
	if p >= 100 {
		return []Share{{st.NewVersion, 100}}
	}
	return []Share{{st.NewVersion, p}, {st.OldVersion, 100 - p}}
}

// Check says which step is being verified, for the checks' environment.
type Check struct {
	// Step is the index in the plan, Of the number of steps.
	Step, Of int
	Percent  float64
	// AfterHold is set for the checks run once the step's hold is over.
	AfterHold bool
}

// Driver is what Run acts through; guard deploy implements it with
// wrangler, the Cloudflare API and the ledger.
type Driver interface {
	// Deploy creates the deployment of shares, confirms through the API
	// that it serves, and returns its ID. label says which step it is
	// ("step 2 of 4 (10%)"), for the deployment's message.
	Deploy(ctx context.Context, shares []Share, label string) (string, error)
	// Verify runs the checks against the new version; ok false means one
	// failed. An error means they could not be judged (ctx ended).
	Verify(ctx context.Context, c Check) (ok bool, err error)
	// Save persists the state (a pending ledger record).
	Save(st *State) error
	// Sleep waits d or until ctx ends.
	Sleep(ctx context.Context, d time.Duration) error
	// Now is the clock of the records.
	Now() time.Time
	// Say tells the operator what happens.
	Say(format string, args ...any)
}

// ErrInterrupted is returned by Run when its context ended mid-rollout;
// the State says where it stopped.
var ErrInterrupted = errors.New("rollout interrupted")

// Outcome is how Run ended.
type Outcome struct {
	// Completed: the new version serves 100 % and passed every check.
	Completed bool
	// FailedStep is the index of the step whose checks failed (-1: none).
	FailedStep int
	// Returned: the old version serves 100 % again.
	Returned bool
}

// DeployError is a Deploy that failed; Run stops there (and, after the
// first step, returns to the old version).
type DeployError struct {
	Step int
	Err  error
}

func (e *DeployError) Error() string {
	return fmt.Sprintf("the deployment of step %d failed: %v", e.Step+1, e.Err)
}
func (e *DeployError) Unwrap() error { return e.Err }

// Run carries st from its current step to the end. A fresh rollout has
// st.Step == -1; a resumed one starts with the checks of st.Step. It saves
// st after every change. See the package contract.
func Run(ctx context.Context, st *State, d Driver) (Outcome, error) {
	out := Outcome{FailedStep: -1}
	first := st.Step + 1
	var resumeHold *time.Time
	if st.Step >= 0 && st.Phase != PhaseCompleted {
		first = st.Step // resume: check the step that serves now again
		if st.Phase == PhaseHolding {
			resumeHold = st.HoldUntil
		}
	}
	for i := first; i < len(st.Steps); i++ {
		if ctx.Err() != nil {
			return out, ErrInterrupted
		}
		if i != st.Step {
			msg := fmt.Sprintf("step %d of %d (%s%%)", i+1, len(st.Steps), FormatPercent(st.Steps[i]))
			d.Say("step %d of %d: %s", i+1, len(st.Steps), describeShares(st.Shares(i)))
			id, err := d.Deploy(ctx, st.Shares(i), msg)
			if err != nil {
				if ctx.Err() != nil {
					return out, ErrInterrupted
				}
				return out, &DeployError{Step: i, Err: err}
			}
			st.Step = i
			st.Deployments = append(st.Deployments, StepRecord{Step: i, Percent: st.Steps[i], DeploymentID: id, Time: d.Now()})
		}
		st.Phase = PhaseVerifying
		if err := d.Save(st); err != nil {
			return out, err
		}
		ok, err := d.Verify(ctx, Check{Step: i, Of: len(st.Steps), Percent: st.Steps[i]})
		if err != nil || ctx.Err() != nil {
			return out, ErrInterrupted
		}
		if ok && st.Holds[i] > 0 {
			hold := time.Duration(st.Holds[i])
			until := d.Now().Add(hold)
			if i == first && resumeHold != nil {
				// Resumed during this hold: only what is left of it.
				until = *resumeHold
				hold = max(0, until.Sub(d.Now()))
			}
			st.Phase, st.HoldUntil = PhaseHolding, &until
			if err := d.Save(st); err != nil {
				return out, err
			}
			d.Say("holding at %s%% for %s", FormatPercent(st.Steps[i]), hold.Round(time.Millisecond))
			if err := d.Sleep(ctx, hold); err != nil || ctx.Err() != nil {
				return out, ErrInterrupted
			}
			st.HoldUntil = nil
			ok, err = d.Verify(ctx, Check{Step: i, Of: len(st.Steps), Percent: st.Steps[i], AfterHold: true})
			if err != nil || ctx.Err() != nil {
				return out, ErrInterrupted
			}
		}
		last := &st.Deployments[len(st.Deployments)-1]
		if !ok {
			last.Verified = "bad"
			f := i
			st.FailedStep = &f
			out.FailedStep = i
			d.Say("step %d of %d (%s%%) failed its checks: back to version %s at 100%%", i+1, len(st.Steps), FormatPercent(st.Steps[i]), st.OldVersion)
			if err := Return(ctx, st, d, PhaseFailed); err != nil {
				return out, err
			}
			out.Returned = true
			return out, nil
		}
		last.Verified = "good"
	}
	st.Phase = PhaseCompleted
	if err := d.Save(st); err != nil {
		return out, err
	}
	out.Completed = true
	return out, nil
}

// Return gives the old version 100 % of the traffic again and records it
// in st with phase (PhaseFailed or PhaseAborted). It runs even when ctx
// has ended (an interrupted rollout must still be able to go back): the
// caller passes a context it wants honoured, e.g. one without the
// interrupt's cancellation but with a timeout.
func Return(ctx context.Context, st *State, d Driver, phase string) error {
	if st.Return != nil {
		st.Phase = phase
		return d.Save(st)
	}
	if st.Step < 0 {
		// No deployment names the new version: nothing to undo.
		st.Phase = phase
		return d.Save(st)
	}
	id, err := d.Deploy(ctx, []Share{{st.OldVersion, 100}}, fmt.Sprintf("rollout stopped at %s%%, back to %s", FormatPercent(st.Steps[st.Step]), shortID(st.OldVersion)))
	if err != nil {
		return fmt.Errorf("returning to version %s at 100%%: %w", st.OldVersion, err)
	}
	st.Return = &StepRecord{Step: -1, Percent: 0, DeploymentID: id, Time: d.Now()}
	st.Phase = phase
	return d.Save(st)
}

func describeShares(shares []Share) string {
	if len(shares) == 1 {
		return fmt.Sprintf("version %s at 100%%", shares[0].VersionID)
	}
	return fmt.Sprintf("version %s at %s%%, version %s at %s%%", shares[0].VersionID, FormatPercent(shares[0].Percent), shares[1].VersionID, FormatPercent(shares[1].Percent))
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// Served is a deployment as the API lists it, for Locate.
type Served struct {
	ID     string
	Shares []Share
}

// Locate tells where production is in the rollout st describes, from the
// deployment that serves now, and brings st up to date: a step whose
// deployment was created but not recorded (guard died in between) is
// added. It returns an error when production serves something the rollout
// did not make: someone deployed in between, and neither resuming nor
// aborting may act on a guess.
func Locate(st *State, cur Served, now time.Time) error {
	if len(cur.Shares) == 1 && cur.Shares[0].Percent == 100 {
		switch cur.Shares[0].VersionID {
		case st.OldVersion:
			if st.Step >= 0 && st.Return == nil {
				if cur.ID == st.OldDeployment {
					return fmt.Errorf("deployment %s (the one before the rollout) serves again although the rollout's records name a later one", cur.ID)
				}
				// Returned but not recorded: the return deployment exists.
				st.Return = &StepRecord{Step: -1, DeploymentID: cur.ID, Time: now}
			}
			return nil
		case st.NewVersion:
			last := len(st.Steps) - 1
			if st.Step != last {
				st.Step = last
				st.Deployments = append(st.Deployments, StepRecord{Step: last, Percent: 100, DeploymentID: cur.ID, Time: now})
			}
			return nil
		}
	}
	if len(cur.Shares) == 2 {
		a, b := cur.Shares[0], cur.Shares[1]
		if a.VersionID == st.OldVersion {
			a, b = b, a // the API need not keep the order guard sent
		}
		for i, p := range st.Steps {
			if a.VersionID == st.NewVersion && b.VersionID == st.OldVersion && p == a.Percent {
				if st.Step != i {
					st.Step = i
					st.Deployments = append(st.Deployments, StepRecord{Step: i, Percent: p, DeploymentID: cur.ID, Time: now})
				}
				return nil
			}
		}
	}
	var parts []string
	for _, s := range cur.Shares {
		parts = append(parts, fmt.Sprintf("%s at %s%%", s.VersionID, FormatPercent(s.Percent)))
	}
	return fmt.Errorf("deployment %s serves %v, which this rollout (version %s from %s) did not make", cur.ID, parts, st.NewVersion, st.OldVersion)
}
