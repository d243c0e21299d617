package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/guardcm/guard/internal/gitx"
)

// Holder says who holds a deploy lock.
type Holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Started time.Time `json:"started"`
	Command string    `json:"command"`
}

// HeldError is AcquireLock's answer when another process holds the lock.
type HeldError struct {
	// Name is the lock's name (the worker).
	Name   string
	Holder Holder
	Path   string
}

func (e *HeldError) Error() string {
	if e.Holder.PID == 0 {
		return fmt.Sprintf("another deploy of %s is running (its holder has not recorded itself in %s yet)", e.Name, e.Path)
	}
	return fmt.Sprintf("another deploy of %s is running: pid %d on %s since %s",
		e.Name, e.Holder.PID, e.Holder.Host, e.Holder.Started.UTC().Format(time.RFC3339))
}

// Lock is a held deploy lock.
type Lock struct {
	// Abandoned is the holder recorded by a process that died holding the
	// lock (it never released it), or nil. A deploy that finds one should
	// look for a pending ledger record to reconcile.
	Abandoned *Holder

	f    *os.File
	path string
}

// LockDir is where a repository keeps its deploy locks: the common git
// directory, so every clone has its own and linked worktrees share them.
func LockDir(repo *gitx.Repo) string {
	return filepath.Join(repo.CommonDir, "guard", "locks")
}

// AcquireLock takes the lock <dir>/<name>.lock without waiting. It is a
// flock on an open file, so the kernel releases it when the holder exits,
// however it dies; the file only carries the holder's description for the
// error message. When the lock is held it returns a *HeldError.
func AcquireLock(dir, name string) (*Lock, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`+"\x00") {
		return nil, fmt.Errorf("deploy lock: invalid name %q", name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("deploy lock: %w", err)
	}
	path := filepath.Join(dir, name+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("deploy lock: %w", err)
	}
	if err := flockTry(f); err != nil {
		f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, &HeldError{Name: name, Holder: readHolder(path), Path: path}
		}
		return nil, fmt.Errorf("deploy lock %s: %w", path, err)
	}
	l := &Lock{f: f, path: path}
	// Release empties the file, so content here means the last holder died
	// while holding the lock.
	if old, err := readHolderFile(f); err == nil && old.PID != 0 {
		l.Abandoned = &old
	}
	host, _ := os.Hostname()
	h := Holder{PID: os.Getpid(), Host: host, Started: time.Now().UTC(), Command: CommandLine()}
	data, err := json.Marshal(h)
	if err == nil {
		err = f.Truncate(0)
	}
	if err == nil {
		_, err = f.WriteAt(append(data, '\n'), 0)
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("deploy lock %s: %w", path, err)
	}
	return l, nil
}

// Path is the lock file.
func (l *Lock) Path() string { return l.path }

// Release empties the lock file and unlocks it. Releasing twice is harmless.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	terr := f.Truncate(0)
	cerr := f.Close() // closing the last descriptor releases the flock
	if terr != nil {
		return fmt.Errorf("deploy lock %s: %w", l.path, terr)
	}
	if cerr != nil {
		return fmt.Errorf("deploy lock %s: %w", l.path, cerr)
	}
	return nil
}

// CommandLine describes this process for a lock's holder. Arguments after
// "--" are passed through to wrangler and may carry values that are nobody's
// business, so they are left out.
func CommandLine() string {
	if len(os.Args) == 0 {
		return ""
	}
	parts := []string{filepath.Base(os.Args[0])}
	for _, a := range os.Args[1:] {
		if a == "--" {
			break
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

func readHolderFile(f *os.File) (Holder, error) {
	st, err := f.Stat()
	if err != nil {
		return Holder{}, err
	}
	buf := make([]byte, min(st.Size(), 64<<10))
	n, err := f.ReadAt(buf, 0)
	if err != nil && n != len(buf) {
		return Holder{}, err
	}
	return parseHolder(buf[:n])
}

func parseHolder(data []byte) (Holder, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return Holder{}, errors.New("empty lock file")
	}
	var h Holder
	if err := json.Unmarshal(data, &h); err != nil {
		return Holder{}, err
	}
	return h, nil
}

// readHolder reads the holder of a lock held by someone else. The holder
// writes its description just after taking the flock, so an empty file is
// retried briefly.
func readHolder(path string) Holder {
	for range 20 {
		data, err := os.ReadFile(path)
		if err == nil {
			if h, err := parseHolder(data); err == nil {
				return h
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return Holder{}
}

// lockCtx takes an exclusive flock of path, waiting until ctx is done. It
// serialises updates of the notes ref within one repository.
func lockCtx(ctx context.Context, path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	delay := 5 * time.Millisecond
	for {
		err := flockTry(f)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, errWouldBlock) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for %s: %w", path, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(delay*2, 200*time.Millisecond)
	}
}
