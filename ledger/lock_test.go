package ledger

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func wantHeld(t *testing.T, err error, pid int) *HeldError {
	t.Helper()
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("want *HeldError, got %v", err)
	}
	host, _ := os.Hostname()
	if held.Holder.PID != pid || held.Holder.Host != host {
		t.Errorf("holder = %+v, want pid %d on %s", held.Holder, pid, host)
	}
	if time.Since(held.Holder.Started) > time.Minute || held.Holder.Started.After(time.Now()) {
		t.Errorf("holder started %v", held.Holder.Started)
	}
	want := fmt.Sprintf("another deploy of api is running: pid %d on %s since ", pid, host)
	if !strings.HasPrefix(held.Error(), want) {
		t.Errorf("message %q, want prefix %q", held.Error(), want)
	}
	return held
}

func TestLockSameProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "locks")
	l1, err := AcquireLock(dir, "api")
	if err != nil {
		t.Fatal(err)
	}
	if l1.Abandoned != nil {
		t.Errorf("fresh lock reports an abandoned holder %+v", l1.Abandoned)
	}
	_, err = AcquireLock(dir, "api")
	held := wantHeld(t, err, os.Getpid())
	if held.Path != filepath.Join(dir, "api.lock") {
		t.Errorf("path %q", held.Path)
	}
	// Another worker of the same repository is independent.
	other, err := AcquireLock(dir, "web")
	if err != nil {
		t.Fatalf("lock of another worker: %v", err)
	}
	if err := other.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l1.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l1.Release(); err != nil {
		t.Fatalf("second release: %v", err)
	}
	l2, err := AcquireLock(dir, "api")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	if l2.Abandoned != nil {
		t.Errorf("a released lock reported as abandoned: %+v", l2.Abandoned)
	}
	l2.Release()
}

func TestLockInvalidName(t *testing.T) {
	for _, name := range []string{"", ".", "..", "a/b", `a\b`} {
		if _, err := AcquireLock(t.TempDir(), name); err == nil {
			t.Errorf("AcquireLock(%q) succeeded", name)
		}
	}
}

func TestLockAcrossProcesses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "locks")
	holder, stdin := startLockHolder(t, dir, "api")

	_, err := AcquireLock(dir, "api")
	wantHeld(t, err, holder.Process.Pid)

	// A holder that ends normally releases the lock.
	stdin.Close()
	if err := holder.Wait(); err != nil {
		t.Fatalf("holder: %v", err)
	}
	l, err := AcquireLock(dir, "api")
	if err != nil {
		t.Fatalf("after the holder released: %v", err)
	}
	if l.Abandoned != nil {
		t.Errorf("released lock reported abandoned: %+v", l.Abandoned)
	}
	l.Release()
}

func TestLockHolderKilled(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "locks")
	holder, _ := startLockHolder(t, dir, "api")
	pid := holder.Process.Pid

	_, err := AcquireLock(dir, "api")
	wantHeld(t, err, pid)

	if err := holder.Process.Kill(); err != nil { // SIGKILL: no chance to clean up
		t.Fatal(err)
	}
	holder.Wait()
	data, err := os.ReadFile(filepath.Join(dir, "api.lock"))
	if err != nil || !strings.Contains(string(data), fmt.Sprintf(`"pid":%d`, pid)) {
		t.Fatalf("the dead holder's file should still name it: %q, %v", data, err)
	}

	l, err := AcquireLock(dir, "api")
	if err != nil {
		t.Fatalf("lock left by a killed process: %v", err)
	}
	defer l.Release()
	if l.Abandoned == nil || l.Abandoned.PID != pid {
		t.Errorf("abandoned holder = %+v, want pid %d", l.Abandoned, pid)
	}
	_, err = AcquireLock(dir, "api")
	wantHeld(t, err, os.Getpid())
}
