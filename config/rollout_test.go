package config

import (
	"strings"
	"testing"
	"time"
)

func TestRolloutTable(t *testing.T) {
	c, err := Parse("guard.toml", []byte("[deploy.rollout]\nsteps = [0, 25, 100]\nhold = \"5m\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Deploy.Rollout.Plan
	if p == nil || len(p.Steps) != 3 || p.Holds[0] != 5*time.Minute || p.Holds[2] != 0 {
		t.Fatalf("plan = %+v", p)
	}
	c, err = Parse("guard.toml", []byte("[deploy.rollout]\n"))
	if err != nil || len(c.Deploy.Rollout.Plan.Steps) != 4 {
		t.Fatalf("empty table: %+v %v", c.Deploy.Rollout, err)
	}
	c, err = Parse("guard.toml", []byte("[deploy.rollout]\nsteps = [0, 100]\nhold = [\"1m\", \"0s\"]\n"))
	if err != nil || c.Deploy.Rollout.Plan.Holds[0] != time.Minute {
		t.Fatalf("per-step holds: %v", err)
	}
	if c, _ := Parse("guard.toml", []byte("[deploy]\nverify = []\n")); c.Deploy.Rollout != nil {
		t.Fatal("no table, yet a rollout")
	}
	for in, want := range map[string]string{
		"[deploy.rollout]\nsteps = [0, 50]\n":            "guard.toml:2:1: deploy.rollout.steps: steps: the last step is 50%",
		"[deploy.rollout]\nsteps = [0, 100]\nhold = 5\n": "guard.toml:3:1: deploy.rollout.hold: must be a duration string",
		"[deploy.rollout]\nhold = \"soon\"\n":            `guard.toml:2:1: deploy.rollout.hold: invalid duration "soon"`,
		"[deploy.rollout]\nhold = [\"1m\"]\n":            "lists 1 durations for 4 steps",
		"[deploy.rollout]\nstep = [0, 100]\n":            "guard.toml:2:1: deploy.rollout.step: unknown key",
		"[deploy.rollout]\nsteps = [\"0\", \"100\"]\n":   "guard.toml:2",
	} {
		_, err := Parse("guard.toml", []byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}
