package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/guardcm/guard/internal/wrangler/wranglertest"
)

// TestMain registers guard as a command of the test binary, so scripts run
// the real CLI in a child process — exactly what git's hooks do.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"guard": func() { os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs testdata/script/*.txtar end to end with the real git.
// Every script starts isolated: its own HOME, no system or global git
// configuration but the one it writes, fixed identities and dates.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("..", "..", "testdata", "script"),
		RequireExplicitExec: false,
		// UPDATE_GOLDEN=1 rewrites the golden files that scripts compare with cmp.
		UpdateScripts: os.Getenv("UPDATE_GOLDEN") != "",
		Setup:         setupScript,
		Cmds:          deployScriptCmds(),
	})
}

func setupScript(e *testscript.Env) error {
	home := filepath.Join(e.WorkDir, ".home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		return err
	}
	gitconfig := filepath.Join(home, ".gitconfig")
	if err := os.WriteFile(gitconfig, []byte("[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n[push]\n\tdefault = simple\n[user]\n\tname = Ada Lovelace\n\temail = ada@example.com\n"), 0o644); err != nil {
		return err
	}
	for k, v := range map[string]string{
		"HOME":                  home,
		"XDG_CONFIG_HOME":       filepath.Join(home, ".config"),
		"GIT_CONFIG_NOSYSTEM":   "1",
		"GIT_CONFIG_GLOBAL":     gitconfig,
		"GIT_AUTHOR_NAME":       "Ada Lovelace",
		"GIT_AUTHOR_EMAIL":      "ada@example.com",
		"GIT_AUTHOR_DATE":       "2026-11-02T10:00:00Z",
		"GIT_COMMITTER_NAME":    "Ada Lovelace",
		"GIT_COMMITTER_EMAIL":   "ada@example.com",
		"GIT_COMMITTER_DATE":    "2026-11-02T10:00:00Z",
		"GIT_TERMINAL_PROMPT":   "0",
		"TZ":                    "UTC",
		"LANG":                  "C.UTF-8",
		"CI":                    "",
		"GITHUB_EVENT_NAME":     "",
		"GITHUB_EVENT_PATH":     "",
		"GITHUB_STEP_SUMMARY":   "",
		"GITHUB_TOKEN":          "",
		"GITHUB_REPOSITORY":     "",
		"GITHUB_API_URL":        "http://127.0.0.1:9",
		"GITHUB_SERVER_URL":     "",
		"CLOUDFLARE_API_TOKEN":  "",
		"CLOUDFLARE_ACCOUNT_ID": "",
		// Nothing reaches Cloudflare from a test: until a script starts the
		// emulator (cfemu start), the API is a closed loopback port.
		"CLOUDFLARE_API_BASE_URL":     "http://127.0.0.1:9/client/v4",
		"CLOUDFLARE_BASE_URL":         "http://127.0.0.1:9/client/v4",
		"WRANGLER_SEND_METRICS":       "false",
		"WRANGLER_SEND_ERROR_REPORTS": "false",
		"WRANGLER_HIDE_BANNER":        "true",
		"CLOUDFLARE_ENV":              "",
	} {
		e.Setenv(k, v)
	}
	// Scripts run the repository's own shell scripts (deploy-guarded.sh)
	// from here.
	scripts, err := filepath.Abs(filepath.Join("..", "..", "scripts"))
	if err != nil {
		return err
	}
	e.Setenv("GUARD_SCRIPTS", scripts)
	// The pinned wrangler, for scripts that pass it explicitly (the demo);
	// a script that needs it fails when it is missing.
	if bin, err := wranglertest.Binary(); err == nil {
		e.Setenv("WRANGLER_BIN", bin)
	}
	return nil
}
