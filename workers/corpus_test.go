package workers

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/gittest"
	"github.com/guardcm/guard/internal/gitx"
)

// TestCorpusAsMonorepo lays the 27 real wrangler configurations of
// ../wranglercfg/testdata/corpus (provenance in its PROVENANCE.md) out as
// one monorepo, each in its own folder under the name wrangler would read,
// and loads the one list: every configuration is a worker, each D1
// database's migrations folder is resolved beside its configuration.
func TestCorpusAsMonorepo(t *testing.T) {
	gittest.Isolate(t, gittest.Options{})
	dir := gittest.Repo(t)
	src := filepath.Join("..", "wranglercfg", "testdata", "corpus")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		ext := filepath.Ext(name)
		if ext != ".toml" && ext != ".json" && ext != ".jsonc" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		folder := strings.TrimSuffix(name, ext)
		gittest.WriteFile(t, filepath.Join(dir, "workers", folder, "wrangler"+ext), string(data))
		n++
	}
	if n != 27 {
		t.Fatalf("corpus holds %d configurations, want 27", n)
	}
	gittest.Git(t, dir, "add", "-A")
	gittest.Git(t, dir, "commit", "-q", "-m", "corpus")
	repo := gittest.Open(t, gitx.Open, dir)
	l, err := Load(context.Background(), AtRev(repo, "HEAD"), config.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Workers) != 27 {
		t.Fatalf("%d workers, want 27", len(l.Workers))
	}
	// Facts checked by hand against the files.
	w, ok := l.Find("workers/cloudflare__templates__internal-sites-template__wrangler/wrangler.jsonc")
	if !ok || len(w.Names) != 2 || w.Names[1] != (Name{"local", "internal-sites-template-local"}) || len(w.D1) != 2 ||
		w.D1[1].Env != "local" || w.D1[1].MigrationsDir != "workers/cloudflare__templates__internal-sites-template__wrangler/migrations" {
		t.Errorf("internal-sites: %+v", w)
	}
	w, ok = l.Find("workers/beilunyang__moemail__wrangler.example/wrangler.json")
	if !ok || len(w.D1) != 1 || w.D1[0].MigrationsDir != "workers/beilunyang__moemail__wrangler.example/drizzle" {
		t.Errorf("moemail: %+v", w)
	}
	w, ok = l.Find("workers/cloudflare__wildebeest__consumer__wrangler/wrangler.toml")
	if !ok || w.Names[0].Worker != "" {
		t.Errorf("wildebeest consumer has no name: %+v", w)
	}
	if len(l.Deployable()) != 26 {
		t.Errorf("%d deployable, want 26 (the wildebeest consumer has no name)", len(l.Deployable()))
	}
	d1 := 0
	for _, w := range l.Workers {
		d1 += len(w.D1)
	}
	// internal-sites' top level and env.local share their default folder.
	if d1 != 18 || len(l.Folders) != 17 {
		t.Errorf("%d folders for %d databases, want 17 for 18", len(l.Folders), d1)
	}
}
