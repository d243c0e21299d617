// Package proc is how guard starts every child process.
//
// Contract: every child runs under a context (so Ctrl-C reaches it), with
// GUARD=1 in its environment (so a hook or script can tell it runs under
// guard and a recursive guard can stay quiet), and with its stderr captured
// into the returned error, so a failure says what the tool said. Nothing here
// builds a shell string from data: Shell runs a command the user configured,
// exactly as written, through /bin/sh -c.
package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/guardcm/guard/internal/redact"
)

// Env returns the current environment plus GUARD=1 and extra ("K=V").
// Later entries win, as in exec.Cmd.
func Env(extra ...string) []string {
	env := append(os.Environ(), "GUARD=1")
	return append(env, extra...)
}

// Cmd describes one child process.
type Cmd struct {
	Name  string
	Args  []string
	Dir   string
	Env   []string // nil means Env()
	Stdin io.Reader
	// Stdout and Stderr, when set, receive the output live as well.
	Stdout io.Writer
	Stderr io.Writer
	// Tethered makes the child and everything it starts die with guard
	// (Tether): for long-running tools that act on the outside world.
	Tethered bool
}

// ExitError is a child that ran and failed. Stderr holds the tail of what it
// printed on stderr (at most tailSize bytes), trimmed.
type ExitError struct {
	Command string
	Code    int
	Stderr  string
	Err     error
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s failed", e.Command)
	if e.Code > 0 {
		msg = fmt.Sprintf("%s exited with status %d", e.Command, e.Code)
	} else if e.Err != nil {
		msg = fmt.Sprintf("%s: %v", e.Command, e.Err)
	}
	if e.Stderr != "" {
		// git quotes remote URLs in its errors, credentials included.
		msg += ": " + redact.URLs(e.Stderr)
	}
	return msg
}

func (e *ExitError) Unwrap() error { return e.Err }

const tailSize = 16 << 10

// tail keeps the last tailSize bytes written to it.
type tail struct{ buf []byte }

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*tailSize {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailSize:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	b := t.buf
	if len(b) > tailSize {
		b = b[len(b)-tailSize:]
	}
	return strings.TrimSpace(string(b))
}

// Run starts c and waits. Its stdout is returned when c.Stdout is nil.
func Run(ctx context.Context, c Cmd) ([]byte, error) {
	cmd := exec.CommandContext(ctx, c.Name, c.Args...)
	cmd.Dir = c.Dir
	cmd.Env = c.Env
	if cmd.Env == nil {
		cmd.Env = Env()
	} else {
		// Whatever environment the caller built, the child learns it runs
		// under guard.
		cmd.Env = append(cmd.Env[:len(cmd.Env):len(cmd.Env)], "GUARD=1")
	}
	cmd.Stdin = c.Stdin
	if c.Tethered {
		Tether(cmd)
	}
	// A child's grandchildren may keep its pipes open after it is killed;
	// do not let them hold guard past a cancellation.
	cmd.WaitDelay = 2 * time.Second
	var out bytes.Buffer
	if c.Stdout != nil {
		cmd.Stdout = c.Stdout
	} else {
		cmd.Stdout = &out
	}
	errTail := &tail{}
	if c.Stderr != nil {
		cmd.Stderr = io.MultiWriter(c.Stderr, errTail)
	} else {
		cmd.Stderr = errTail
	}
	err := cmd.Run()
	if err != nil {
		if ctx.Err() != nil {
			return out.Bytes(), fmt.Errorf("%s: %w", describe(c), ctx.Err())
		}
		ee := &ExitError{Command: describe(c), Stderr: errTail.String(), Err: err}
		var xe *exec.ExitError
		if errors.As(err, &xe) {
			ee.Code = xe.ExitCode()
		}
		return out.Bytes(), ee
	}
	return out.Bytes(), nil
}

// Shell runs a command string configured by the user through /bin/sh -c,
// exactly as written, in dir, streaming its output.
func Shell(ctx context.Context, dir, command string, stdout, stderr io.Writer, extraEnv ...string) error {
	_, err := Run(ctx, Cmd{
		Name:     "/bin/sh",
		Args:     []string{"-c", command},
		Dir:      dir,
		Env:      Env(extraEnv...),
		Stdout:   stdout,
		Stderr:   stderr,
		Tethered: true,
	})
	var ee *ExitError
	if errors.As(err, &ee) {
		ee.Command = fmt.Sprintf("%q", command)
	}
	return err
}

func describe(c Cmd) string {
	if len(c.Args) > 0 && (c.Name == "git" || strings.HasSuffix(c.Name, "/git")) {
		return "git " + c.Args[0]
	}
	return c.Name
}
