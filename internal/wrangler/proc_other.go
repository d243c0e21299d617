//go:build !unix

package wrangler

import "os/exec"

// ownProcessGroup is a no-op where process groups do not exist; os/exec
// kills the process and WaitDelay bounds the wait for its helpers.
func ownProcessGroup(cmd *exec.Cmd) {}
