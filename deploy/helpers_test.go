package deploy

import (
	"testing"

	"github.com/guardcm/guard/internal/gittest"
	"github.com/guardcm/guard/internal/gitx"
)

// gitEnv isolates git from the machine's configuration.
func gitEnv(t testing.TB) {
	t.Helper()
	gittest.Isolate(t, gittest.Options{Date: "2026-11-02T10:00:00Z"})
}

// cloneWithRemote makes a bare remote with one commit on main and a clone of
// it; it returns the clone's root and the remote's path.
func cloneWithRemote(t testing.TB) (string, string) {
	t.Helper()
	remote, _ := gittest.Remote(t, "init\n\nChange-Category: normal",
		"src/index.js", "export default {}\n",
		".gitignore", "node_modules/\n.wrangler/\n",
		"README.md", "hello\n")
	return gittest.Clone(t, remote), remote
}

func openRepo(t testing.TB, dir string) *gitx.Repo {
	t.Helper()
	return gittest.Open(t, gitx.Open, dir)
}
