package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
	yaml "go.yaml.in/yaml/v3"
)

// cmdGHRun runs one job of a GitHub Actions workflow the way a runner
// would, as far as a test can: each step's `run` script with bash -e and
// the step's env, where ${{ secrets.X }} and ${{ vars.X }} read the
// script's $X and ${{ inputs.x }} its $INPUT_X. Steps that `uses:` an
// action (checkout, setup-go) and the step that installs guard are
// skipped: the script's clone and guard stand in for them. Any other
// ${{ }} expression fails the script, so the workflow stays runnable.
// With !, the job must fail: it stops at the first failing step, as a
// runner does.
// The steps' output, in order, is left in $WORK/ghrun.stdout and
// $WORK/ghrun.stderr (a script's stdout and stderr hold the last step's).
//
//	ghrun WORKFLOW JOB
func cmdGHRun(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: ghrun WORKFLOW JOB")
	}
	data, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Name string            `yaml:"name"`
				Uses string            `yaml:"uses"`
				Env  map[string]string `yaml:"env"`
				Run  string            `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	ts.Check(yaml.Unmarshal(data, &wf))
	job, ok := wf.Jobs[args[1]]
	if !ok {
		ts.Fatalf("ghrun: no job %q", args[1])
	}
	var stdout, stderr strings.Builder
	defer func() {
		ts.Check(os.WriteFile(filepath.Join(ts.Getenv("WORK"), "ghrun.stdout"), []byte(stdout.String()), 0o644))
		ts.Check(os.WriteFile(filepath.Join(ts.Getenv("WORK"), "ghrun.stderr"), []byte(stderr.String()), 0o644))
	}()
	expr := regexp.MustCompile(`\$\{\{\s*(secrets|vars|inputs)\.([A-Za-z0-9_]+)\s*\}\}`)
	for _, step := range job.Steps {
		if step.Uses != "" || strings.HasPrefix(strings.TrimSpace(step.Run), "go install ") {
			continue
		}
		saved := map[string]string{}
		for k, v := range step.Env {
			val := expr.ReplaceAllStringFunc(v, func(m string) string {
				p := expr.FindStringSubmatch(m)
				if p[1] == "inputs" {
					return ts.Getenv("INPUT_" + strings.ToUpper(p[2]))
				}
				return ts.Getenv(p[2])
			})
			if strings.Contains(val, "${{") {
				ts.Fatalf("ghrun: step %q: unsupported expression in %s: %s", step.Name, k, v)
			}
			saved[k] = ts.Getenv(k)
			ts.Setenv(k, val)
		}
		ts.Logf("ghrun: step %q", step.Name)
		err := ts.Exec("bash", "-e", "-c", step.Run)
		stdout.WriteString(ts.ReadFile("stdout"))
		stderr.WriteString(ts.ReadFile("stderr"))
		for k, v := range saved {
			ts.Setenv(k, v)
		}
		if err != nil {
			if neg {
				return
			}
			ts.Fatalf("ghrun: step %q failed: %v", step.Name, err)
		}
	}
	if neg {
		ts.Fatalf("ghrun: job %s passed", args[1])
	}
}
