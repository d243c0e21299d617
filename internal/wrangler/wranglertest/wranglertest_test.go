package wranglertest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBinaryMissing(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/x\n"), 0o644)
	sub := filepath.Join(dir, "a", "b")
	os.MkdirAll(sub, 0o755)
	t.Chdir(sub)
	root, err := ModuleRoot()
	if err != nil || root != dir {
		t.Fatalf("ModuleRoot = %q, %v; want %q", root, err, dir)
	}
	_, err = Binary()
	if err == nil || !strings.Contains(err.Error(), InstallHint) {
		t.Fatalf("Binary without an install: %v", err)
	}
}

func TestBinaryPresent(t *testing.T) {
	// The repository's own pinned install: the tests that need wrangler
	// fail, not skip, when it is absent, and so does this one.
	bin := Require(t)
	if !filepath.IsAbs(bin) || !strings.HasSuffix(bin, filepath.Join("tools", "wrangler", "node_modules", ".bin", "wrangler")) {
		t.Fatalf("Binary = %q", bin)
	}
}

func TestProject(t *testing.T) {
	dir := Project(t, "w", "[env.staging]\n")
	b, err := os.ReadFile(filepath.Join(dir, "wrangler.toml"))
	if err != nil || !strings.Contains(string(b), `name = "w"`) || !strings.Contains(string(b), "[env.staging]") {
		t.Fatalf("wrangler.toml = %q, %v", b, err)
	}
	WriteCode(t, dir, "v9")
	code, _ := os.ReadFile(filepath.Join(dir, "src", "index.js"))
	if !strings.Contains(string(code), `"v9"`) {
		t.Fatalf("index.js = %q", code)
	}
}
