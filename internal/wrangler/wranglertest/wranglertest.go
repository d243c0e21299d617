// Package wranglertest helps tests run the real, pinned wrangler against
// the Cloudflare API emulator.
//
// The pinned wrangler is installed by `npm ci --prefix tools/wrangler`
// (tools/wrangler/package.json and its lockfile). A test that needs it calls
// Require, which fails the test, never skips it, when the install is missing:
// a CI that cannot install wrangler must go red.
package wranglertest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// InstallHint is the command that installs the pinned wrangler.
const InstallHint = "npm ci --prefix tools/wrangler"

// ModuleRoot walks up from the working directory to the directory holding
// go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Binary returns the absolute path of the pinned wrangler,
// <module root>/tools/wrangler/node_modules/.bin/wrangler.
func Binary() (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, "tools", "wrangler", "node_modules", ".bin", "wrangler")
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() {
		return "", fmt.Errorf("pinned wrangler not installed at %s: run `%s` in %s", bin, InstallHint, root)
	}
	return bin, nil
}

// Require returns the pinned wrangler's path or fails the test.
func Require(tb testing.TB) string {
	tb.Helper()
	bin, err := Binary()
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// Env returns the environment for running wrangler against the emulator at
// baseURL with an isolated HOME (wrangler writes its config and caches
// there) and the given token and account.
func Env(tb testing.TB, baseURL, token, accountID string) []string {
	tb.Helper()
	home := tb.TempDir()
	return []string{
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"CLOUDFLARE_API_BASE_URL=" + baseURL,
		"CLOUDFLARE_BASE_URL=" + baseURL,
		"CLOUDFLARE_API_TOKEN=" + token,
		"CLOUDFLARE_ACCOUNT_ID=" + accountID,
		// Never reach Cloudflare's real hosts from a test.
		"WRANGLER_SEND_METRICS=false",
		"WRANGLER_SEND_ERROR_REPORTS=false",
		"WRANGLER_HIDE_BANNER=true",
		"CLOUDFLARE_ENV=",
		"NO_COLOR=1",
	}
}

// Project writes a minimal worker project (wrangler.toml, src/index.js) in a
// new temporary directory and returns it. extraTOML is appended to the
// configuration (e.g. "[env.staging]\n").
func Project(tb testing.TB, name, extraTOML string) string {
	tb.Helper()
	dir := tb.TempDir()
	toml := fmt.Sprintf("name = %q\nmain = \"src/index.js\"\ncompatibility_date = \"2025-01-01\"\nworkers_dev = true\n%s", name, extraTOML)
	if err := os.WriteFile(filepath.Join(dir, "wrangler.toml"), []byte(toml), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
		tb.Fatal(err)
	}
	WriteCode(tb, dir, "v1")
	return dir
}

// WriteCode replaces the project's worker code with one that answers body,
// so each deploy uploads different content.
func WriteCode(tb testing.TB, dir, body string) {
	tb.Helper()
	code := fmt.Sprintf("export default {\n  async fetch() {\n    return new Response(%q);\n  },\n};\n", body)
	if err := os.WriteFile(filepath.Join(dir, "src", "index.js"), []byte(code), 0o644); err != nil {
		tb.Fatal(err)
	}
}
