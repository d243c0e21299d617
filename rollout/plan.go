// Package rollout is guard's progressive deploy: a new version is uploaded
// without traffic, proves itself at 0 % through health checks pinned to it
// (Cloudflare's version-override header), then takes a growing share of the
// traffic step by step, and goes back to the previous version at 100 % by
// itself when any check fails.
//
// Contract:
//   - A Plan is a list of steps (percentages of traffic for the new version)
//     and a hold per step. Steps are strictly increasing numbers from 0 to
//     100 that end at 100; a hold is a non-negative duration. Plans come from
//     guard.toml ([deploy.rollout]), from --steps, or from the YAML front
//     matter of a rollout plan under the rollout folder (ParseFrontMatter);
//     every error is located (file:line:col where there is a file).
//   - Run drives a State through a Driver: for each step it creates the
//     deployment <new>@P% <old>@(100-P)% (the new version alone at 100 %),
//     which the Driver confirms through the API, verifies, holds, verifies
//     again, and saves the State after every change so that a crash leaves
//     a record naming the step reached. A failed check makes Run create the
//     deployment <old>@100% at once and report the step it failed at.
//   - Run never sleeps or verifies after its context ends: it returns
//     ErrInterrupted with the State as far as it got, and the caller decides
//     (return to the old version, or leave the rollout for --resume/--abort).
//   - Locate is pure: from the State and the deployment the API shows now
//     it tells which step production is at, so --resume and --abort act on
//     what Cloudflare serves rather than on what the record hoped.
//
// Cloudflare facts relied on (documented: "Gradual deployments" and
// "Version overrides"): a deployment splits traffic between at most two
// versions by percentage; a request carrying
// `Cloudflare-Workers-Version-Overrides: <worker>="<version-id>"` reaches that
// version when it belongs to the current deployment, even at 0 %.
package rollout

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// DefaultSteps are the steps when none are configured: a smoke test at 0 %,
// then 10 %, 50 % and everyone.
var DefaultSteps = []float64{0, 10, 50, 100}

// Plan is a validated rollout plan.
type Plan struct {
	// Steps are the new version's percentages, strictly increasing, ending
	// at 100.
	Steps []float64
	// Holds has one duration per step: how long to wait after the step's
	// checks passed before checking again and going on.
	Holds []time.Duration
	// Source says where the plan came from ("guard.toml [deploy.rollout]",
	// "--steps", a rollout plan's path), for messages and the record.
	Source string
}

// NewPlan validates steps and holds. holds may be empty (no holds), one
// duration (after every step below 100 %) or one per step.
func NewPlan(steps []float64, holds []time.Duration, source string) (*Plan, error) {
	if err := ValidateSteps(steps); err != nil {
		return nil, err
	}
	p := &Plan{Steps: append([]float64(nil), steps...), Holds: make([]time.Duration, len(steps)), Source: source}
	switch len(holds) {
	case 0:
	case 1:
		// One hold for all: the time each partial step bakes. At 100 % the
		// rollout is over; a per-step list can still hold there.
		for i := range steps {
			if steps[i] < 100 {
				p.Holds[i] = holds[0]
			}
		}
	case len(steps):
		copy(p.Holds, holds)
	default:
		return nil, fmt.Errorf("hold: %d durations for %d steps (give one for every step, or one for all)", len(holds), len(steps))
	}
	for _, h := range p.Holds {
		if h < 0 {
			return nil, fmt.Errorf("hold: negative duration %s", h)
		}
	}
	return p, nil
}

// ValidateSteps checks a step list: at least one step, each a percentage
// from 0 to 100 with at most three decimals, strictly increasing, the last
// 100 (a rollout that stops short would leave a split nobody finishes).
func ValidateSteps(steps []float64) error {
	if len(steps) == 0 {
		return errors.New("steps: at least one step is needed (the last one 100)")
	}
	for i, s := range steps {
		if math.IsNaN(s) || s < 0 || s > 100 {
			return fmt.Errorf("steps: %s is not a percentage from 0 to 100", FormatPercent(s))
		}
		if math.Abs(s*1000-math.Round(s*1000)) > 1e-6 {
			return fmt.Errorf("steps: %s has more than three decimals", FormatPercent(s))
		}
		if i > 0 && s <= steps[i-1] {
			return fmt.Errorf("steps: %s after %s; steps must increase", FormatPercent(s), FormatPercent(steps[i-1]))
		}
	}
	if last := steps[len(steps)-1]; last != 100 {
		return fmt.Errorf("steps: the last step is %s%%; a rollout ends with the new version at 100%%", FormatPercent(last))
	}
	return nil
}

// ParseSteps reads --steps: comma-separated percentages ("0,25,100", a "%"
// after a number is allowed).
func ParseSteps(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSuffix(strings.TrimSpace(f), "%")
		if f == "" {
			return nil, fmt.Errorf("--steps %q: empty step", s)
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || math.IsInf(v, 0) {
			return nil, fmt.Errorf("--steps %q: %q is not a number", s, f)
		}
		out = append(out, v)
	}
	if err := ValidateSteps(out); err != nil {
		return nil, fmt.Errorf("--steps %q: %w", s, err)
	}
	return out, nil
}

// FormatPercent writes a percentage without trailing zeros ("12.5", "0").
func FormatPercent(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) }

// Describe renders the plan for messages: "0% → 10% (hold 5m) → 100%".
func (p *Plan) Describe() string {
	parts := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		parts[i] = FormatPercent(s) + "%"
		if p.Holds[i] > 0 {
			parts[i] += fmt.Sprintf(" (hold %s)", p.Holds[i])
		}
	}
	return strings.Join(parts, " → ")
}

// FrontMatterError is a located error in a rollout plan's front matter.
type FrontMatterError struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *FrontMatterError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// ParseFrontMatter reads the YAML front matter of a rollout plan (a block
// between two "---" lines at the very top of the file) and returns its
// plan, or nil when the file has no front matter. Known keys: steps (a
// list of percentages) and hold (a duration, or a list of one per step);
// anything else is an error, so a typo cannot silently drop a hold.
func ParseFrontMatter(name string, data []byte) (*Plan, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	lines := strings.SplitAfter(string(data), "\n")
	if len(lines) == 0 || strings.TrimRight(lines[0], "\r\n") != "---" {
		return nil, nil
	}
	end := -1
	for i := 1; i < len(lines); i++ {
		if t := strings.TrimRight(lines[i], "\r\n"); t == "---" || t == "..." {
			end = i
			break
		}
	}
	if end < 0 {
		return nil, &FrontMatterError{File: name, Line: 1, Col: 1, Msg: "front matter opened with --- is never closed"}
	}
	body := strings.Join(lines[1:end], "")
	bad := func(n *yaml.Node, format string, args ...any) error {
		return &FrontMatterError{File: name, Line: n.Line + 1, Col: n.Column, Msg: fmt.Sprintf(format, args...)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(body), &doc); err != nil {
		return nil, &FrontMatterError{File: name, Msg: "front matter: " + shiftYAMLLines(err.Error(), 1)}
	}
	if len(doc.Content) == 0 {
		return nil, nil // "---\n---": empty front matter
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, bad(root, "front matter must be a mapping with steps and hold")
	}
	var steps []float64
	var holds []time.Duration
	var stepsNode, holdList *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "steps":
			stepsNode = k
			if v.Kind != yaml.SequenceNode {
				return nil, bad(v, "steps must be a list of percentages, like [0, 10, 50, 100]")
			}
			for _, it := range v.Content {
				f, err := strconv.ParseFloat(strings.TrimSuffix(it.Value, "%"), 64)
				if it.Kind != yaml.ScalarNode || err != nil || math.IsInf(f, 0) {
					return nil, bad(it, "step %q is not a percentage", it.Value)
				}
				steps = append(steps, f)
			}
		case "hold":
			items := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				items, holdList = v.Content, v
			}
			for _, it := range items {
				d, err := time.ParseDuration(it.Value)
				if it.Kind != yaml.ScalarNode || err != nil || d < 0 {
					return nil, bad(it, "hold %q is not a duration like \"10m\"", it.Value)
				}
				holds = append(holds, d)
			}
		default:
			return nil, bad(k, "unknown key %q (known: steps, hold)", k.Value)
		}
	}
	if stepsNode == nil {
		if len(holds) > 0 {
			// A hold without steps applies to the default steps.
			steps = DefaultSteps
		} else {
			return nil, nil
		}
	}
	if holdList != nil && len(holds) != len(steps) {
		return nil, bad(holdList, "hold lists %d durations for %d steps (give one for every step, or a single duration for all)", len(holds), len(steps))
	}
	p, err := NewPlan(steps, holds, name)
	if err != nil {
		at := root
		if stepsNode != nil {
			at = stepsNode
		}
		return nil, bad(at, "%v", err)
	}
	return p, nil
}

// shiftYAMLLines adds off to the "line N" yaml.v3 puts in its messages, so
// they count lines of the whole file.
func shiftYAMLLines(msg string, off int) string {
	const marker = "line "
	var b strings.Builder
	for {
		i := strings.Index(msg, marker)
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		b.WriteString(msg[:i+len(marker)])
		msg = msg[i+len(marker):]
		j := 0
		for j < len(msg) && msg[j] >= '0' && msg[j] <= '9' {
			j++
		}
		if n, err := strconv.Atoi(msg[:j]); err == nil {
			b.WriteString(strconv.Itoa(n + off))
		} else {
			b.WriteString(msg[:j])
		}
		msg = msg[j:]
	}
}
