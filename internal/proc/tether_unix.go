//go:build unix && !linux

package proc

import (
	"os/exec"
	"syscall"
)

// Tether puts cmd in its own process group, which cancelling the context
// kills as a whole. Outside Linux there is no parent-death signal, so a
// `kill -9` of guard leaves the group running; README says so.
func Tether(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
