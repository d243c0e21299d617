//go:build unix

package wrangler

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup puts wrangler (node) and the helpers it starts (esbuild)
// in their own process group, and makes cancelling the context signal the
// whole group: killing node alone would leave esbuild holding the output
// pipes until WaitDelay.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
