//go:build linux

package proc

import (
	"os/exec"
	"syscall"
)

// tetherScript runs its arguments as a child of a shell that kills its
// whole process group when it gets SIGTERM; the kernel sends it that
// signal when guard dies (PR_SET_PDEATHSIG), however guard dies.
const tetherScript = `trap 'kill -s KILL 0' TERM HUP INT
"$@" &
wait $!`

// Tether makes cmd and every process it starts die with guard, even with
// `kill -9 guard`: Linux only signals a dying process's direct children
// (Pdeathsig), and wrangler's helpers (esbuild) or a build command's
// children are grandchildren, so cmd runs under a small shell, in a new
// process group, that turns guard's death into a SIGKILL of the group.
// Cancelling the context kills the group too. The program and its
// arguments reach the shell as positional parameters, never as script
// text. Call it after setting cmd.Path and cmd.Args, before Start.
func Tether(cmd *exec.Cmd) {
	if cmd.Err != nil {
		return // not found: let Start report it as such
	}
	if _, err := exec.LookPath(cmd.Path); err != nil {
		return // the same for a path that names no executable
	}
	args := append([]string{"/bin/sh", "-c", tetherScript, "guard-tether", cmd.Path}, cmd.Args[1:]...)
	cmd.Path = "/bin/sh"
	cmd.Args = args
	cmd.Err = nil // the program is looked up by the shell now
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Cancel = func() error { return killGroup(cmd) }
}

func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
