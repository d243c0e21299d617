package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/guardcm/guard/demo"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/proc"
)

// DemoCmd runs the whole flow in a sandbox.
type DemoCmd struct {
	Keep     bool   `help:"Keep the sandbox folder and print where it is."`
	Wrangler string `help:"The wrangler binary to use (default: guard's pinned install, else wrangler on PATH)." placeholder:"PATH" type:"path"`
}

// guardModule is the module path, to recognise guard's own source tree.
const guardModule = "module github.com/guardcm/guard"

// Run finds (or installs) wrangler, then walks through the demo.
func (c *DemoCmd) Run(env *Env) error {
	self, err := os.Executable()
	if err != nil {
		return fail.External(fmt.Errorf("cannot find the guard binary: %w", err))
	}
	wr := c.Wrangler
	if wr == "" {
		if wr, err = c.findWrangler(env); err != nil {
			return err
		}
	}
	err = demo.Run(env.Ctx, demo.Options{Guard: self, Wrangler: wr, Keep: c.Keep, Out: env.Stdout})
	var se *demo.StepError
	if errors.As(err, &se) {
		return fail.Refused(err)
	}
	if err != nil && env.Ctx.Err() == nil {
		return fail.External(err)
	}
	return err
}

// findWrangler looks for guard's pinned wrangler (tools/wrangler in guard's
// source tree, where `go run ./cmd/guard demo` runs), installs it with npm
// from the lockfile when it is missing, and falls back to wrangler on PATH.
func (c *DemoCmd) findWrangler(env *Env) (string, error) {
	src := guardSource()
	if src != "" {
		bin := filepath.Join(src, "tools", "wrangler", "node_modules", ".bin", "wrangler")
		if isExecutable(bin) {
			return bin, nil
		}
		if _, err := exec.LookPath("npm"); err == nil {
			fmt.Fprintln(env.Stderr, "guard: installing the pinned wrangler for the demo (npm ci --prefix tools/wrangler, about 200 MB, once)")
			_, err := proc.Run(env.Ctx, proc.Cmd{
				Name: "npm", Args: []string{"ci", "--prefix", filepath.Join(src, "tools", "wrangler"), "--no-audit", "--no-fund"},
				Dir: src, Stdout: env.Stderr, Stderr: env.Stderr,
			})
			if err != nil {
				return "", fail.External(fmt.Errorf("installing wrangler: %w", err), "install Node.js 20+ with npm, then run: npm ci --prefix tools/wrangler")
			}
			if isExecutable(bin) {
				return bin, nil
			}
		}
	}
	if p, err := exec.LookPath("wrangler"); err == nil {
		return p, nil
	}
	return "", fail.External(errors.New("the demo needs wrangler, and none was found"),
		"install Node.js 20+ with npm, then run 'npm ci --prefix tools/wrangler' in guard's source tree, or 'npm install -g wrangler@4'")
}

// guardSource walks up from the working directory to guard's own go.mod.
func guardSource() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(data), guardModule+"\n") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}
