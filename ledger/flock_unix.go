//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package ledger

import (
	"errors"
	"os"
	"syscall"
)

// errWouldBlock reports that another open file description holds the lock.
var errWouldBlock = errors.New("lock is held")

// flockWait takes an exclusive lock on f, waiting for it.
func flockWait(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// flockTry takes an exclusive lock on f or returns errWouldBlock at once.
func flockTry(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EWOULDBLOCK):
			return errWouldBlock
		case !errors.Is(err, syscall.EINTR):
			return err
		}
	}
}
