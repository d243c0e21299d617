// Package demo is `guard demo`: the whole change-management flow, run for
// real in a throw-away sandbox.
//
// The sandbox is a temporary folder with a bare "remote", a developer's
// clone of a small Worker with a D1 migrations folder and guard's hooks
// installed, a second clone standing in for the hosting provider that
// merges pull requests, guard's Cloudflare API emulator on loopback, and
// the real wrangler. Each step narrates what it shows in a line or two,
// runs the real commands (git with its hooks, guard, wrangler) as a user
// would, and checks that they behaved as narrated. Run returns an error
// naming the first step that did not; it leaves nothing running and
// removes the sandbox unless asked to keep it.
package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/guardcm/guard/internal/cfemu"
)

// Options configure a demo run.
type Options struct {
	// Guard is the guard binary the sandbox's hooks and commands run.
	Guard string
	// Wrangler is the wrangler command (absolute path of the binary).
	Wrangler string
	// Keep leaves the sandbox on disk and says where.
	Keep bool
	// Out receives the narration.
	Out io.Writer
}

// StepError names the step that did not behave as narrated.
type StepError struct {
	Step  int
	Title string
	Err   error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("step %d (%s) did not behave as narrated: %v", e.Step, e.Title, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// demoToken is the API token the sandbox uses; the emulator accepts only it.
const demoToken = "demo-token-not-a-secret"

type sandbox struct {
	ctx      context.Context
	o        Options
	root     string
	work     string // the developer's clone
	merger   string // the hosting provider's clone
	remote   string
	env      []string
	emu      *cfemu.Emulator
	baseURL  string
	lastOut  string
	lastErr  string
	lastCode int
}

type step struct {
	title string
	say   string
	run   func(s *sandbox) error
}

// Run builds the sandbox and walks through the steps.
func Run(ctx context.Context, o Options) (err error) {
	root, err := os.MkdirTemp("", "guard-demo-")
	if err != nil {
		return err
	}
	s := &sandbox{ctx: ctx, o: o, root: root,
		work: filepath.Join(root, "work"), merger: filepath.Join(root, "provider"), remote: filepath.Join(root, "remote.git")}
	defer func() {
		if o.Keep {
			fmt.Fprintf(o.Out, "\nThe sandbox is kept in %s\n", root)
			return
		}
		os.RemoveAll(root)
	}()
	s.emu = cfemu.New(cfemu.WithToken(demoToken))
	baseURL, stop, err := s.emu.Start("127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("starting the Cloudflare API emulator: %w", err)
	}
	defer stop()
	if err := s.setup(baseURL); err != nil {
		return &StepError{Step: 0, Title: "set up the sandbox", Err: err}
	}
	fmt.Fprintf(o.Out, "guard demo: a sandbox in %s\n", root)
	fmt.Fprintf(o.Out, "  a bare remote, a developer's clone of a small Worker with guard's hooks installed,\n")
	fmt.Fprintf(o.Out, "  the Cloudflare API emulator on %s, and wrangler at %s\n", strings.TrimSuffix(baseURL, "/client/v4"), o.Wrangler)
	for i, st := range steps() {
		if err := ctx.Err(); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "\n%d. %s\n", i+1, st.title)
		for _, line := range strings.Split(st.say, "\n") {
			fmt.Fprintf(o.Out, "   %s\n", line)
		}
		start := time.Now()
		if err := st.run(s); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.dumpLast()
			return &StepError{Step: i + 1, Title: st.title, Err: err}
		}
		fmt.Fprintf(o.Out, "   ✓ as narrated (%.1fs)\n", time.Since(start).Seconds())
	}
	fmt.Fprintf(o.Out, "\nguard demo: every step behaved as narrated.\n")
	return nil
}

func (s *sandbox) setup(baseURL string) error {
	s.baseURL = baseURL
	home := filepath.Join(s.root, "home")
	bin := filepath.Join(s.root, "bin")
	for _, d := range []string{home, bin, s.work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// The hooks bake in the guard binary's path: give them a copy inside
	// the sandbox, which outlives a `go run` build folder.
	guard := filepath.Join(bin, "guard")
	if err := copyFile(s.o.Guard, guard, 0o755); err != nil {
		return fmt.Errorf("copying guard into the sandbox: %w", err)
	}
	s.o.Guard = guard
	gitconfig := filepath.Join(home, ".gitconfig")
	if err := os.WriteFile(gitconfig, []byte("[init]\n\tdefaultBranch = main\n[user]\n\tname = Dana Developer\n\temail = dana@example.com\n[advice]\n\tdetachedHead = false\n"), 0o644); err != nil {
		return err
	}
	s.env = append(sandboxEnviron(),
		"GUARD=1",
		"HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+gitconfig,
		"GIT_TERMINAL_PROMPT=0",
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"CLOUDFLARE_API_BASE_URL="+baseURL,
		"CLOUDFLARE_BASE_URL="+baseURL,
		"CLOUDFLARE_API_TOKEN="+demoToken,
		"CLOUDFLARE_ACCOUNT_ID="+cfemu.DefaultAccountID,
		"GITHUB_TOKEN=", "GITHUB_EVENT_NAME=", "CI=",
	)
	if err := writeTree(s.work, workerFiles); err != nil {
		return err
	}
	// The project's own node_modules, as `npm install` would leave it.
	if err := os.MkdirAll(filepath.Join(s.work, "node_modules", ".bin"), 0o755); err != nil {
		return err
	}
	if err := os.Symlink(s.o.Wrangler, filepath.Join(s.work, "node_modules", ".bin", "wrangler")); err != nil {
		return err
	}
	for _, c := range [][]string{
		{"init", "-q", "--bare", s.remote},
	} {
		if err := s.git(s.root, c...); err != nil {
			return err
		}
	}
	for _, c := range [][]string{
		{"init", "-q"},
		{"add", "-A"},
		{"commit", "-q", "-m", "feat: the demo worker", "-m", "Change-Category: major"},
		{"remote", "add", "origin", s.remote},
		{"push", "-q", "origin", "main"},
	} {
		if err := s.git(s.work, c...); err != nil {
			return err
		}
	}
	if err := s.git(s.root, "clone", "-q", s.remote, s.merger); err != nil {
		return err
	}
	code, err := s.guard(s.work, "install")
	if err != nil || code != 0 {
		return fmt.Errorf("guard install: exit %d: %v", code, err)
	}
	return nil
}

// git runs git in dir and fails on a non-zero exit.
func (s *sandbox) git(dir string, args ...string) error {
	code, err := s.run(dir, "git", args...)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("git %s: exit %d: %s", strings.Join(args, " "), code, strings.TrimSpace(s.lastErr))
	}
	return nil
}

// guard runs the sandbox's guard in dir.
func (s *sandbox) guard(dir string, args ...string) (int, error) {
	return s.run(dir, s.o.Guard, args...)
}

// run runs a command in the sandbox's environment and records its output
// and exit code; err is only for commands that could not run at all.
func (s *sandbox) run(dir, name string, args ...string) (int, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(s.ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = s.env
	cmd.Stdout = &out
	cmd.Stderr = &errb
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	s.lastOut, s.lastErr = out.String(), errb.String()
	s.lastCode = 0
	var xe *exec.ExitError
	if errors.As(err, &xe) {
		s.lastCode = xe.ExitCode()
		return s.lastCode, nil
	}
	if err != nil {
		return -1, fmt.Errorf("%s: %w", name, err)
	}
	return 0, nil
}

// show prints the user-facing command and guard's lines of its output.
func (s *sandbox) show(command string) {
	fmt.Fprintf(s.o.Out, "   $ %s\n", command)
	n := 0
	for _, l := range strings.Split(s.lastErr+s.lastOut, "\n") {
		if strings.HasPrefix(l, "guard: ") && n < 6 {
			fmt.Fprintf(s.o.Out, "     %s\n", l)
			n++
		}
	}
}

func (s *sandbox) dumpLast() {
	fmt.Fprintf(s.o.Out, "   last command's exit code: %d\n", s.lastCode)
	for _, l := range strings.Split(strings.TrimSpace(s.lastErr+"\n"+s.lastOut), "\n") {
		fmt.Fprintf(s.o.Out, "   | %s\n", l)
	}
}

// expect checks the last command's exit code and that its output matches
// every pattern.
func (s *sandbox) expect(code int, patterns ...string) error {
	if s.lastCode != code {
		return fmt.Errorf("exit code %d, want %d", s.lastCode, code)
	}
	all := s.lastErr + s.lastOut
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(all) {
			return fmt.Errorf("output does not match %q", p)
		}
	}
	return nil
}

// step runs git or the sandbox's guard with args, shows display and guard's lines, and
// checks its exit code and output.
func (s *sandbox) step(dir string, display string, code int, name string, args []string, patterns ...string) error {
	var err error
	if name == "guard" {
		_, err = s.guard(dir, args...)
	} else {
		_, err = s.run(dir, name, args...)
	}
	if err != nil {
		return err
	}
	s.show(display)
	return s.expect(code, patterns...)
}

// sandboxEnviron is the caller's environment without git's own variables
// (GIT_DIR, GIT_AUTHOR_DATE, ... set by a hook or a test harness), which
// would reach into the sandbox's repositories.
func sandboxEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	return env
}

func writeTree(root string, files map[string]string) error {
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string, mode os.FileMode) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, mode)
}
