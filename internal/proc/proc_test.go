package proc

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sh is the shell the tests drive children with; a missing /bin/sh fails.
func sh(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Fatalf("/bin/sh is required: %v", err)
	}
	return "/bin/sh"
}

func TestGuardReachesChild(t *testing.T) {
	t.Setenv("GUARD", "") // even when the parent's is cleared
	t.Setenv("PROC_TEST_PARENT", "inherited")
	out, err := Run(context.Background(), Cmd{Name: sh(t), Args: []string{"-c", `printf '%s|%s' "$GUARD" "$PROC_TEST_PARENT"`}})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "1|inherited" {
		t.Fatalf("child saw %q, want GUARD=1 and the parent's environment", out)
	}
	// Shell: GUARD=1 too, and extra variables reach the child, later ones
	// winning.
	var stdout bytes.Buffer
	err = Shell(context.Background(), t.TempDir(), `printf '%s|%s' "$GUARD" "$EXTRA"`, &stdout, nil, "EXTRA=first", "EXTRA=second")
	if err != nil {
		t.Fatal(err)
	}
	if stdout.String() != "1|second" {
		t.Fatalf("shell child saw %q", stdout.String())
	}
}

func TestEnv(t *testing.T) {
	env := Env("A=1", "GUARD=0")
	n := len(env)
	if n < 3 || env[n-3] != "GUARD=1" || env[n-2] != "A=1" || env[n-1] != "GUARD=0" {
		t.Fatalf("Env tail = %q; want GUARD=1 then the extras in order", env[max(0, n-3):])
	}
	// Run appends GUARD=1 to whatever environment the caller built, and
	// exec resolves duplicates by the last entry: every child sees GUARD=1.
	out, err := Run(context.Background(), Cmd{Name: sh(t), Args: []string{"-c", `printf %s "$GUARD"`}, Env: env})
	if err != nil || string(out) != "1" {
		t.Fatalf("child GUARD = %q, %v", out, err)
	}
}

func TestRunStdoutDirStdin(t *testing.T) {
	dir := t.TempDir()
	var live bytes.Buffer
	out, err := Run(context.Background(), Cmd{Name: sh(t), Args: []string{"-c", `pwd; cat; echo err >&2`}, Dir: dir, Stdin: strings.NewReader("from stdin\n"), Stderr: &live})
	if err != nil {
		t.Fatal(err)
	}
	want := canon(t, dir) + "\nfrom stdin\n"
	if string(out) != want {
		t.Fatalf("stdout = %q, want %q", out, want)
	}
	if live.String() != "err\n" {
		t.Fatalf("live stderr = %q", live.String())
	}
	// With Stdout set, output goes there and Run returns none.
	var so bytes.Buffer
	out, err = Run(context.Background(), Cmd{Name: sh(t), Args: []string{"-c", "echo hi"}, Stdout: &so})
	if err != nil || len(out) != 0 || so.String() != "hi\n" {
		t.Fatalf("streamed stdout: returned %q, streamed %q, %v", out, so.String(), err)
	}
}

func canon(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestExitErrorCarriesStderrAndCode(t *testing.T) {
	var live bytes.Buffer
	out, err := Run(context.Background(), Cmd{Name: sh(t), Args: []string{"-c", `echo partial; echo "  first line" >&2; echo "fatal: it broke  " >&2; exit 7`}, Stderr: &live})
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("err = %T %v, want *ExitError", err, err)
	}
	if ee.Code != 7 {
		t.Errorf("Code = %d, want 7", ee.Code)
	}
	if ee.Stderr != "first line\nfatal: it broke" {
		t.Errorf("Stderr = %q, want the trimmed stderr", ee.Stderr)
	}
	if ee.Command != "/bin/sh" {
		t.Errorf("Command = %q", ee.Command)
	}
	if got, want := err.Error(), "/bin/sh exited with status 7: first line\nfatal: it broke"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var xe *exec.ExitError
	if !errors.As(err, &xe) {
		t.Errorf("the exec error is not unwrappable: %v", err)
	}
	if string(out) != "partial\n" {
		t.Errorf("stdout of a failing child = %q, want what it printed", out)
	}
	if !strings.Contains(live.String(), "fatal: it broke") {
		t.Errorf("live stderr = %q", live.String())
	}
}

func TestGitCommandIsNamed(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is required: %v", err)
	}
	_, err := Run(context.Background(), Cmd{Name: "git", Args: []string{"frobnicate-nothing"}, Dir: t.TempDir()})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Command != "git frobnicate-nothing" || ee.Code == 0 || !strings.Contains(ee.Stderr, "frobnicate-nothing") {
		t.Fatalf("err = %#v", err)
	}
}

func TestMissingProgram(t *testing.T) {
	_, err := Run(context.Background(), Cmd{Name: "guard-no-such-program-xyz"})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 0 || !errors.Is(err, exec.ErrNotFound) {
		t.Fatalf("err = %#v, want an ExitError wrapping exec.ErrNotFound", err)
	}
	if !strings.HasPrefix(err.Error(), "guard-no-such-program-xyz: ") {
		t.Errorf("Error() = %q does not name the program", err)
	}
	// A missing working folder is reported too, not run elsewhere.
	_, err = Run(context.Background(), Cmd{Name: sh(t), Args: []string{"-c", "true"}, Dir: filepath.Join(t.TempDir(), "missing")})
	if err == nil {
		t.Fatal("a missing Dir ran the child")
	}
}

func TestShellRunsCommandAsWritten(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in file.txt"), []byte("b\na\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := `sort 'in file.txt' | tr 'a-z' 'A-Z'; printf '%s\n' "two  spaces" '$HOME' "a;b"; echo to-stderr >&2 && test -f "in file.txt"`
	if err := Shell(context.Background(), dir, cmd, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if want := "A\nB\nC\ntwo  spaces\n$HOME\na;b\n"; stdout.String() != want {
		t.Errorf("stdout = %q, want %q", stdout.String(), want)
	}
	if stderr.String() != "to-stderr\n" {
		t.Errorf("stderr = %q", stderr.String())
	}

	err := Shell(context.Background(), dir, `echo "bad thing" >&2; exit 3`, &stdout, &stderr)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 || ee.Stderr != "bad thing" {
		t.Fatalf("err = %#v", err)
	}
	// The error names the command the user configured, quoted.
	if want := `"echo \"bad thing\" >&2; exit 3" exited with status 3: bad thing`; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

// A cancelled context stops the child promptly, even when a grandchild it
// started keeps the output pipes open (WaitDelay), and the error is the
// context's.
func TestCancelWithGrandchildHoldingPipe(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	shell := sh(t)
	start := time.Now()
	go func() {
		// The grandchild inherits stdout and stderr and outlives the
		// shell, which is killed on cancellation.
		_, err := Run(ctx, Cmd{Name: shell, Args: []string{"-c", `sleep 60 & echo $! > "$0"; wait`, pidFile}})
		done <- err
	}()
	var pid int
	for deadline := time.Now().Add(10 * time.Second); ; {
		if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the child did not start its grandchild")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		var ee *ExitError
		if errors.As(err, &ee) {
			t.Errorf("a cancellation is reported as a failing child: %v", err)
		}
		if !strings.HasPrefix(err.Error(), "/bin/sh: ") {
			t.Errorf("Error() = %q does not name the child", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("Run did not return %v after cancellation", time.Since(start))
	}
	// Run returned because of WaitDelay, not because the pipe closed:
	// the grandchild still holds it.
	if err := syscall.Kill(pid, 0); err != nil {
		t.Errorf("grandchild %d is gone (%v): the test did not exercise a held pipe", pid, err)
	}
}

func TestDeadlineExceeded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Run(ctx, Cmd{Name: sh(t), Args: []string{"-c", "exec sleep 30"}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Run took %v after its deadline", d)
	}
}

func TestHugeStderrKeepsTail(t *testing.T) {
	// 1 MiB of stderr: a first line that must be dropped, filler, and a
	// last line that must be kept.
	script := `printf 'FIRST-LINE\n' >&2; i=0; while [ $i -lt 16384 ]; do printf '%063d\n' $i; i=$((i+1)); done >&2; printf 'LAST-LINE\n' >&2; exit 2`
	_, err := Run(context.Background(), Cmd{Name: sh(t), Args: []string{"-c", script}})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 2 {
		t.Fatalf("err = %v", err)
	}
	if len(ee.Stderr) > tailSize {
		t.Errorf("Stderr holds %d bytes, more than %d", len(ee.Stderr), tailSize)
	}
	if len(ee.Stderr) < tailSize-100 {
		t.Errorf("Stderr holds only %d bytes of the tail", len(ee.Stderr))
	}
	if !strings.HasSuffix(ee.Stderr, "LAST-LINE") || strings.Contains(ee.Stderr, "FIRST-LINE") {
		t.Errorf("Stderr is not the tail: starts %q, ends %q", ee.Stderr[:40], ee.Stderr[len(ee.Stderr)-40:])
	}
	if !strings.Contains(ee.Stderr, "000000000000000000000000000000000000000000000000000000000016383\nLAST-LINE") {
		t.Errorf("the last filler line is missing from the tail")
	}
}

func TestTailWriter(t *testing.T) {
	var tl tail
	var all []byte
	for i := 0; i < 5000; i++ {
		chunk := []byte(strconv.Itoa(i) + ",")
		if i%97 == 0 {
			chunk = bytes.Repeat([]byte{'x'}, 3*tailSize) // writes larger than the buffer
		}
		if n, err := tl.Write(chunk); n != len(chunk) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		all = append(all, chunk...)
		if len(tl.buf) > 2*tailSize {
			t.Fatalf("tail buffer grew to %d bytes", len(tl.buf))
		}
	}
	want := strings.TrimSpace(string(all[len(all)-tailSize:]))
	if got := tl.String(); got != want {
		t.Fatalf("tail = …%q, want …%q", got[len(got)-30:], want[len(want)-30:])
	}
	var small tail
	small.Write([]byte("  short \n"))
	if small.String() != "short" {
		t.Fatalf("short tail = %q", small.String())
	}
}

// A child's stderr quoting a remote URL never carries its credentials into
// guard's errors.
func TestExitErrorRedactsURLCredentials(t *testing.T) {
	_, err := Run(context.Background(), Cmd{Name: "/bin/sh", Args: []string{"-c",
		`echo "fatal: unable to access 'https://x:tok_SECRET@example.com/a/b.git/'; also user:tok_SECRET@example.com:a/b.git" >&2; exit 128`}})
	if err == nil {
		t.Fatal("want an error")
	}
	if msg := err.Error(); strings.Contains(msg, "tok_SECRET") || !strings.Contains(msg, "https://***@example.com/a/b.git/") || !strings.Contains(msg, "***@example.com:a/b.git") {
		t.Errorf("error %q", msg)
	}
}
