package pristine

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guardcm/guard/internal/gittest"
	"github.com/guardcm/guard/internal/gitx"
)

func repoWith(t *testing.T, files ...string) (*gitx.Repo, string) {
	t.Helper()
	gittest.Isolate(t, gittest.Options{})
	dir := gittest.Repo(t)
	commit := gittest.Commit(t, dir, "init", files...)
	return gittest.Open(t, gitx.Open, dir), commit
}

func TestCreateChecksOutExactlyTheCommit(t *testing.T) {
	ctx := context.Background()
	repo, commit := repoWith(t, "wrangler.toml", "name = \"api\"\n", "src/index.js", "export default {}\n", ".gitignore", "gen.js\n")
	// The working directory is poisoned: an ignored file, an untracked
	// file, an excluded file, a local edit, and a post-checkout hook.
	gittest.WriteFile(t, filepath.Join(repo.Root, "gen.js"), "poisoned\n")
	gittest.WriteFile(t, filepath.Join(repo.Root, "untracked.js"), "poisoned\n")
	gittest.WriteFile(t, filepath.Join(repo.Root, "src", "index.js"), "poisoned\n")
	gittest.WriteFile(t, filepath.Join(repo.GitDir, "hooks", "post-checkout"), "#!/bin/sh\ntouch \"$PWD/hook-ran\"\n")
	os.Chmod(filepath.Join(repo.GitDir, "hooks", "post-checkout"), 0o755)
	gittest.Git(t, repo.Root, "config", "core.autocrlf", "true")

	co, err := Create(ctx, repo, commit)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(co.Dir, filepath.Join(repo.CommonDir, "guard", "checkouts")+string(filepath.Separator)) {
		t.Errorf("checkout at %s, not under the git directory", co.Dir)
	}
	for _, absent := range []string{"gen.js", "untracked.js", "hook-ran"} {
		if _, err := os.Lstat(filepath.Join(co.Dir, absent)); err == nil {
			t.Errorf("%s is in the checkout", absent)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(co.Dir, "src", "index.js")); string(b) != "export default {}\n" {
		t.Errorf("src/index.js = %q, want the commit's bytes", b)
	}
	p, err := co.Path(filepath.Join(repo.Root, "wrangler.toml"))
	if err != nil || p != filepath.Join(co.Dir, "wrangler.toml") {
		t.Errorf("Path = %q, %v", p, err)
	}
	if _, err := co.Path("/etc/passwd"); err == nil {
		t.Error("a path outside the repository was mapped")
	}
	if err := co.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(co.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("checkout left behind: %v", err)
	}
	if out := gittest.Git(t, repo.Root, "worktree", "list", "--porcelain"); strings.Count(out, "worktree ") != 1 {
		t.Errorf("worktree still registered:\n%s", out)
	}
	if err := co.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCreateRemovesAbandonedCheckouts(t *testing.T) {
	ctx := context.Background()
	repo, commit := repoWith(t, "a.txt", "a\n")
	co, err := Create(ctx, repo, commit)
	if err != nil {
		t.Fatal(err)
	}
	// The holder "dies": its flock goes, its checkout stays.
	co.lock.Release()
	co.lock = nil
	next, err := Create(ctx, repo, commit)
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	if _, err := os.Stat(co.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("abandoned checkout %s not removed: %v", co.Dir, err)
	}
	// A live one is left alone.
	third, err := Create(ctx, repo, commit)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if _, err := os.Stat(next.Dir); err != nil {
		t.Errorf("live checkout removed: %v", err)
	}
}

func TestCheckSymlinks(t *testing.T) {
	ctx := context.Background()
	outside := filepath.Join(t.TempDir(), "outside.js")
	os.WriteFile(outside, []byte("x"), 0o644)
	cases := []struct {
		name  string
		links map[string]string
		bad   []string
	}{
		{"inside", map[string]string{"src/a.js": "../lib/b.js", "dangling.js": "nowhere.js"}, nil},
		{"absolute", map[string]string{"src/extra.js": outside}, []string{"src/extra.js"}},
		{"relative out", map[string]string{"src/up.js": "../../../../etc/passwd"}, []string{"src/up.js"}},
		{"chain", map[string]string{"src/a.js": "b.js", "src/b.js": outside}, []string{"src/a.js", "src/b.js"}},
		{"folder", map[string]string{"vendor": filepath.Dir(outside)}, []string{"vendor"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			repo, _ := repoWith(t, "lib/b.js", "b\n")
			for l, target := range c.links {
				os.MkdirAll(filepath.Dir(filepath.Join(repo.Root, l)), 0o755)
				if err := os.Symlink(target, filepath.Join(repo.Root, l)); err != nil {
					t.Fatal(err)
				}
			}
			gittest.Git(t, repo.Root, "add", "-A")
			gittest.Git(t, repo.Root, "commit", "--quiet", "-m", "links")
			commit := gittest.Git(t, repo.Root, "rev-parse", "HEAD")
			co, err := Create(ctx, repo, commit)
			if err != nil {
				t.Fatal(err)
			}
			defer co.Close()
			err = co.CheckSymlinks(ctx)
			if c.bad == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var esc *EscapeError
			if !errors.As(err, &esc) {
				t.Fatalf("err = %v, want *EscapeError", err)
			}
			var got []string
			for _, l := range esc.Links {
				got = append(got, l.Path)
			}
			if strings.Join(got, ",") != strings.Join(c.bad, ",") {
				t.Errorf("refused %v, want %v (%v)", got, c.bad, err)
			}
			if !strings.Contains(err.Error(), "nothing was deployed") {
				t.Errorf("message: %v", err)
			}
		})
	}
}

// tinyPackage writes an npm package tarball (package/ prefix, as npm pack
// makes it) that installs without a registry.
func tinyPackage(t *testing.T, path, version string) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range map[string]string{
		"package/package.json": fmt.Sprintf(`{"name":"tiny","version":%q,"main":"index.js"}`, version),
		"package/index.js":     "module.exports = 'tiny " + version + "';\n",
	} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))})
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func npm(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("npm", append(args, "--no-audit", "--no-fund", "--offline", "--loglevel=error")...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm %v: %v\n%s", args, err, out)
	}
}

func TestInstallDepsFromLockfileCached(t *testing.T) {
	if _, err := exec.LookPath("npm"); err != nil {
		t.Fatal("npm is required (it installs wrangler for the end-to-end tests too)")
	}
	ctx := context.Background()
	repo, _ := repoWith(t, "README.md", "x\n")
	tinyPackage(t, filepath.Join(repo.Root, "vendor", "tiny-1.0.0.tgz"), "1.0.0")
	gittest.WriteFile(t, filepath.Join(repo.Root, "package.json"), `{"name":"w","version":"1.0.0","dependencies":{"tiny":"file:vendor/tiny-1.0.0.tgz"}}`)
	npm(t, repo.Root, "install")
	gittest.WriteFile(t, filepath.Join(repo.Root, ".gitignore"), "node_modules/\n")
	gittest.Git(t, repo.Root, "add", "-A")
	gittest.Git(t, repo.Root, "commit", "--quiet", "-m", "deps")
	commit := gittest.Git(t, repo.Root, "rev-parse", "HEAD")
	// The working directory's node_modules is poisoned: never used.
	gittest.WriteFile(t, filepath.Join(repo.Root, "node_modules", "tiny", "index.js"), "module.exports = 'poisoned';\n")

	install := func() *Deps {
		co, err := Create(ctx, repo, commit)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { co.Close() })
		var out bytes.Buffer
		d, err := co.InstallDeps(ctx, co.Dir, &out, &out)
		if err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		b, err := os.ReadFile(filepath.Join(co.Dir, "node_modules", "tiny", "index.js"))
		if err != nil || string(b) != "module.exports = 'tiny 1.0.0';\n" {
			t.Fatalf("installed tiny = %q, %v", b, err)
		}
		return d
	}
	first := install()
	if first.Manager != "npm" || first.Lockfile != "package-lock.json" || first.Cached || first.NotCached != "" || strings.Join(first.Command, " ") != "npm ci --no-audit --no-fund" {
		t.Fatalf("first install = %+v", first)
	}
	second := install()
	if !second.Cached || second.Digest != first.Digest || second.NodeModules != first.NodeModules {
		t.Fatalf("second install = %+v, want the cache of %+v", second, first)
	}
	// Another lockfile, another digest.
	tinyPackage(t, filepath.Join(repo.Root, "vendor", "tiny-2.0.0.tgz"), "2.0.0")
	gittest.WriteFile(t, filepath.Join(repo.Root, "package.json"), `{"name":"w","version":"1.0.0","dependencies":{"tiny":"file:vendor/tiny-2.0.0.tgz"}}`)
	os.RemoveAll(filepath.Join(repo.Root, "node_modules"))
	npm(t, repo.Root, "install")
	d, err := digestInstall(repo.Root, "npm", "package-lock.json", "package-lock.json")
	if err != nil || d == first.Digest {
		t.Fatalf("digest after a lockfile change = %s (%v), first %s", d, err, first.Digest)
	}
}

func TestInstallDepsRefusals(t *testing.T) {
	ctx := context.Background()
	repo, commit := repoWith(t, "package.json", `{"dependencies":{"left-pad":"^1"}}`, "README.md", "x\n")
	co, err := Create(ctx, repo, commit)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	if _, err := co.InstallDeps(ctx, co.Dir, nil, nil); err == nil || !strings.Contains(err.Error(), "package.json declares dependencies but the commit has no lockfile") {
		t.Fatalf("no lockfile: %v", err)
	}
	repo2, commit2 := repoWith(t, "package.json", `{}`, "package-lock.json", "{}", "yarn.lock", "")
	co2, err := Create(ctx, repo2, commit2)
	if err != nil {
		t.Fatal(err)
	}
	defer co2.Close()
	if _, err := co2.InstallDeps(ctx, co2.Dir, nil, nil); err == nil || !strings.Contains(err.Error(), "has both package-lock.json and yarn.lock") {
		t.Fatalf("two lockfiles: %v", err)
	}
	repo3, commit3 := repoWith(t, "package.json", `{"scripts":{"x":"y"}}`)
	co3, err := Create(ctx, repo3, commit3)
	if err != nil {
		t.Fatal(err)
	}
	defer co3.Close()
	if d, err := co3.InstallDeps(ctx, co3.Dir, nil, nil); d != nil || err != nil {
		t.Fatalf("no dependencies: %+v, %v", d, err)
	}
}

func TestReadBundle(t *testing.T) {
	root := t.TempDir()
	out := filepath.Join(root, "dist")
	files := map[string]string{"index.js": "export default 1;\n", "index.js.map": "{}", "lib/extra.wasm": "\x00asm", "README.md": "generated at noon"}
	for n, c := range files {
		gittest.WriteFile(t, filepath.Join(out, n), c)
	}
	// sha256sum's manifest, sorted by path, README.md left out.
	var manifest strings.Builder
	for _, n := range []string{"index.js", "index.js.map", "lib/extra.wasm"} {
		sum := sha256.Sum256([]byte(files[n]))
		fmt.Fprintf(&manifest, "%s  %s\n", hex.EncodeToString(sum[:]), n)
	}
	want := sha256.Sum256([]byte(manifest.String()))

	project := filepath.Join(root, "project")
	gittest.WriteFile(t, filepath.Join(project, "src", "index.js"), "x")
	gittest.WriteFile(t, filepath.Join(root, "deps", "tiny", "index.js"), "x")
	gittest.WriteFile(t, filepath.Join(root, "elsewhere", "evil.js"), "x")
	os.Symlink(filepath.Join(root, "elsewhere", "evil.js"), filepath.Join(project, "src", "link.js"))
	meta := filepath.Join(root, "meta.json")
	gittest.WriteFile(t, meta, `{"inputs":{"src/index.js":{},"../deps/tiny/index.js":{},"src/link.js":{},"../elsewhere/evil.js":{},"wrangler:virtual":{}},"outputs":{}}`)

	b, err := ReadBundle(out, meta, project, []string{project, filepath.Join(root, "deps")})
	if err != nil {
		t.Fatal(err)
	}
	if b.SHA256 != hex.EncodeToString(want[:]) || len(b.Files) != 3 || b.Files["README.md"] != "" {
		t.Errorf("bundle = %+v, want sha %x", b, want)
	}
	evil, _ := filepath.EvalSymlinks(filepath.Join(root, "elsewhere", "evil.js"))
	if len(b.Outside) != 1 || b.Outside[0] != evil {
		t.Errorf("outside = %v, want [%s] (once, through the link or not)", b.Outside, evil)
	}
	if _, err := ReadBundle(t.TempDir(), "", project, nil); err == nil {
		t.Error("an empty outdir was accepted")
	}
}
