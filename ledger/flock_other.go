//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package ledger

import (
	"errors"
	"os"
)

var errWouldBlock = errors.New("lock is held")

var errNoFlock = errors.New("file locking (flock) is not supported on this platform")

func flockWait(f *os.File) error { return errNoFlock }

func flockTry(f *os.File) error { return errNoFlock }
