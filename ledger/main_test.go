package ledger

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// The test binary doubles as the other processes the tests need: with
// LEDGER_TEST_HELPER set it runs one helper instead of the tests.
const helperEnv = "LEDGER_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "append":
		os.Exit(helperAppend())
	case "lock":
		os.Exit(helperLock())
	default:
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", os.Getenv(helperEnv))
		os.Exit(2)
	}
}

// helperAppend appends LEDGER_COUNT records to LEDGER_PATH, labelled with
// LEDGER_WORKER, once its stdin closes.
func helperAppend() int {
	n, err := strconv.Atoi(os.Getenv("LEDGER_COUNT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	l := Open(os.Getenv("LEDGER_PATH"))
	// Start together: wait until the parent closes stdin.
	io.Copy(io.Discard, os.Stdin)
	for i := range n {
		_, err := l.Append(Record{Kind: KindDeploy, Status: StatusPending,
			Worker: os.Getenv("LEDGER_WORKER"), VersionID: strconv.Itoa(i)})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

// helperLock takes LOCK_DIR/LOCK_NAME, says "locked" on stdout and holds the
// lock until its stdin closes (or it is killed).
func helperLock() int {
	l, err := AcquireLock(os.Getenv("LOCK_DIR"), os.Getenv("LOCK_NAME"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("locked")
	io.Copy(io.Discard, os.Stdin)
	if err := l.Release(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startHelper starts the test binary in helper mode with extra environment.
func startHelper(t *testing.T, mode string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=" + mode, "GUARD=1"}, env...)...)
	cmd.Stderr = &testWriter{t: t, prefix: mode + " helper: "}
	return cmd
}

type testWriter struct {
	t      *testing.T
	prefix string
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(w.prefix + string(p))
	return len(p), nil
}

// startLockHolder starts a helper that holds dir/name and waits until it
// reports that it does.
func startLockHolder(t *testing.T, dir, name string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := startHelper(t, "lock", "LOCK_DIR="+dir, "LOCK_NAME="+name)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("lock holder: read %q, %v", line, err)
	}
	return cmd, stdin
}
