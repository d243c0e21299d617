//go:build !unix

package proc

import "os/exec"

// Tether does nothing where process groups do not exist: os/exec kills the
// process when the context ends and WaitDelay bounds the wait.
func Tether(cmd *exec.Cmd) {}
