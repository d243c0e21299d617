//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/guardcm/guard/internal/cfemu"
	"github.com/guardcm/guard/internal/wrangler/wranglertest"
)

// openPTY opens a pseudo-terminal pair: guard reads its answer from the
// terminal side, the test types into the other.
func openPTY(t *testing.T) (typer, term *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

func latestServes(t *testing.T, emu *cfemu.Emulator) string {
	t.Helper()
	ds := emu.Snapshot().Accounts[cfemu.DefaultAccountID].Scripts["api"].Deployments
	d := ds[len(ds)-1]
	if len(d.Versions) != 1 || d.Versions[0].Percentage != 100 {
		t.Fatalf("latest deployment %+v", d)
	}
	return d.Versions[0].VersionID
}

// TestRollbackAsksOnATerminal: on a terminal guard rollback prints the plan
// and asks; anything but yes changes nothing, yes rolls back (the real
// wrangler against the emulator).
func TestRollbackAsksOnATerminal(t *testing.T) {
	bin := wranglertest.Require(t)
	repo, emu, good := rollbackFixture(t, bin)
	t.Chdir(repo)
	serving := latestServes(t, emu)
	typer, term := openPTY(t)
	if !isTerminal(term) {
		t.Fatal("the pseudo-terminal is not seen as a terminal")
	}

	if _, err := typer.WriteString("n\n"); err != nil {
		t.Fatal(err)
	}
	emu.ClearRequests()
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"rollback", "--reason", "tty test"}, term, &stdout, &stderr); code != 1 {
		t.Fatalf("answered no: exit %d, want 1\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "to    version "+good) ||
		!strings.Contains(stderr.String(), "guard: roll api back to version "+good+"? [y/N] ") ||
		!strings.Contains(stderr.String(), "rollback cancelled: nothing was changed") {
		t.Fatalf("plan or prompt missing:\n%s%s", stdout.String(), stderr.String())
	}
	for _, r := range emu.Requests() {
		if r.Method != "GET" {
			t.Errorf("answered no, yet %s %s reached the API", r.Method, r.Path)
		}
	}
	if got := latestServes(t, emu); got != serving {
		t.Fatalf("answered no, yet %s serves", got)
	}

	if _, err := typer.WriteString("yes\n"); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := Main([]string{"rollback", "--reason", "tty test"}, term, &stdout, &stderr); code != 0 {
		t.Fatalf("answered yes: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if got := latestServes(t, emu); got != good {
		t.Fatalf("after yes %s serves, want %s", got, good)
	}
}

func TestConfirmAnswers(t *testing.T) {
	for in, want := range map[string]bool{"y\n": true, "YES\r\n": true, " yes \n": true, "yes": true, "n\n": false, "\n": false, "": false, "yess\n": false} {
		var out bytes.Buffer
		got, err := confirm(strings.NewReader(in), &out, "q? ")
		if err != nil || got != want || !strings.HasPrefix(out.String(), "q? ") {
			t.Errorf("confirm(%q) = %v, %v (printed %q), want %v", in, got, err, out.String(), want)
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(r) || isTerminal(strings.NewReader("y\n")) {
		t.Error("a pipe or a reader taken for a terminal")
	}
}
