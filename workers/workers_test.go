package workers

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gittest"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/wranglercfg"
)

// monorepo writes a repository laid out like cloudflare/templates: workers
// in sub-folders, one with D1 and an env, a second configuration with a
// name guard cannot guess, and decoys that must not count.
func monorepo(t *testing.T) (string, *gitx.Repo) {
	t.Helper()
	gittest.Isolate(t, gittest.Options{})
	dir := gittest.Repo(t)
	files := map[string]string{
		"apps/api/wrangler.toml": `name = "api"
main = "src/index.js"
[[d1_databases]]
binding = "DB"
database_name = "api-db"
database_id = "00000000-0000-0000-0000-000000000001"
[env.staging]
name = "api-staging"
[[env.staging.d1_databases]]
binding = "DB"
database_name = "api-db-staging"
database_id = "00000000-0000-0000-0000-000000000002"
migrations_dir = "../../db/staging"
`,
		"apps/api/migrations/0001_init.sql": "CREATE TABLE t (id INTEGER PRIMARY KEY);\n",
		"apps/web/wrangler.jsonc":           "// the site\n{\"name\": \"web\", \"kv_namespaces\": [{\"binding\": \"CACHE\", \"id\": \"1\"}],}\n",
		"apps/web/wrangler.kv.toml":         "name = \"web-kv\"\n[[kv_namespaces]]\nbinding = \"SESSIONS\"\nid = \"2\"\n",
		"node_modules/pkg/wrangler.toml":    "name = \"not-ours\"\n",
		"build/wrangler.json":               "{\"name\": \"generated\"}\n",
		".gitignore":                        "build/\nnode_modules/\n",
	}
	for p, c := range files {
		gittest.WriteFile(t, filepath.Join(dir, filepath.FromSlash(p)), c)
	}
	gittest.Git(t, dir, "add", "-A")
	gittest.Git(t, dir, "commit", "-q", "-m", "init")
	return dir, gittest.Open(t, gitx.Open, dir)
}

func TestLoadMonorepo(t *testing.T) {
	_, repo := monorepo(t)
	ctx := context.Background()
	cfg := config.Defaults()
	cfg.Workers = []config.Worker{{Config: "apps/web/wrangler.kv.toml"}}
	for _, src := range []Source{WorkTree(repo), AtRev(repo, "HEAD")} {
		l, err := Load(ctx, src, cfg)
		if err != nil {
			t.Fatalf("%s: %v", src.Name(), err)
		}
		var configs []string
		for _, w := range l.Workers {
			configs = append(configs, w.Config)
		}
		if want := []string{"apps/api/wrangler.toml", "apps/web/wrangler.jsonc", "apps/web/wrangler.kv.toml"}; !reflect.DeepEqual(configs, want) {
			t.Fatalf("%s: configs = %v, want %v (node_modules and ignored build/ skipped)", src.Name(), configs, want)
		}
		api := l.Workers[0]
		if want := []Name{{"", "api"}, {"staging", "api-staging"}}; !reflect.DeepEqual(api.Names, want) {
			t.Errorf("names = %v", api.Names)
		}
		if want := []D1{
			{Binding: "DB", Database: "api-db", MigrationsDir: "apps/api/migrations"},
			{Env: "staging", Binding: "DB", Database: "api-db-staging", MigrationsDir: "db/staging"},
		}; !reflect.DeepEqual(api.D1, want) {
			t.Errorf("d1 = %+v", api.D1)
		}
		if !l.Workers[2].Configured || l.Workers[1].Configured {
			t.Errorf("configured flags wrong: %+v", l.Workers)
		}
		if got := l.Workers[2].Bindings; len(got) != 1 || got[0].Name != "SESSIONS" {
			t.Errorf("kv config bindings = %v", got)
		}
		if len(l.Folders) != 2 || l.Folders[0].Dir != "apps/api/migrations" || !l.Folders[0].Exists ||
			l.Folders[1].Dir != "db/staging" || l.Folders[1].Exists {
			t.Errorf("folders = %+v", l.Folders)
		}
		if m := l.ByName("api-staging"); len(m) != 1 || m[0].Env != "staging" || m[0].Worker.Config != "apps/api/wrangler.toml" {
			t.Errorf("ByName(api-staging) = %+v", m)
		}
	}
}

// FoldersOf is one configuration's folders (every env's), plus
// guard.toml's [migrations] dir unless another configuration uses it.
func TestFoldersOf(t *testing.T) {
	dir, repo := monorepo(t)
	gittest.WriteFile(t, filepath.Join(dir, "shared", "sql", "0001_init.sql"), "CREATE TABLE s (id INTEGER);\n")
	gittest.Git(t, dir, "add", "-A")
	gittest.Git(t, dir, "commit", "-q", "-m", "shared")
	ctx := context.Background()
	for _, tc := range []struct {
		dir    string // guard.toml [migrations] dir
		config string
		want   []string
		ok     bool
	}{
		{"", "apps/api/wrangler.toml", []string{"apps/api/migrations", "db/staging"}, true},
		{"", "apps/web/wrangler.jsonc", nil, true},
		{"", "apps/nope/wrangler.toml", nil, false},
		{"shared/sql", "apps/web/wrangler.jsonc", []string{"shared/sql"}, true},
		{"apps/api/migrations", "apps/web/wrangler.jsonc", nil, true},
		{"apps/api/migrations", "apps/api/wrangler.toml", []string{"apps/api/migrations", "db/staging"}, true},
	} {
		cfg := config.Defaults()
		cfg.Migrations.Dir = tc.dir
		list, err := Load(ctx, AtRev(repo, "HEAD"), cfg)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := list.FoldersOf(tc.config)
		if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("dir %q: FoldersOf(%s) = %v, %v; want %v, %v", tc.dir, tc.config, got, ok, tc.want, tc.ok)
		}
	}
}

func TestLoadFromSubfolderIsTheSame(t *testing.T) {
	dir, repo := monorepo(t)
	sub := gittest.Open(t, gitx.Open, filepath.Join(dir, "apps", "api"))
	ctx := context.Background()
	a, err := Load(ctx, WorkTree(repo), config.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load(ctx, WorkTree(sub), config.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Folders, b.Folders) || len(a.Workers) != len(b.Workers) {
		t.Fatalf("root %+v\nsub  %+v", a, b)
	}
}

func TestLoadErrors(t *testing.T) {
	dir, repo := monorepo(t)
	ctx := context.Background()

	cfg := config.Defaults()
	cfg.Workers = []config.Worker{{Config: "apps/web/wrangler.gone.toml"}}
	_, err := Load(ctx, WorkTree(repo), cfg)
	if fail.KindOf(err) != fail.KindUsage || !strings.Contains(err.Error(), `[[workers]] config "apps/web/wrangler.gone.toml" does not exist in the work tree`) {
		t.Errorf("missing configured worker: %v", err)
	}

	cfg = config.Defaults()
	cfg.Migrations.Dir = "db/nowhere"
	_, err = Load(ctx, AtRev(repo, "HEAD"), cfg)
	if fail.KindOf(err) != fail.KindUsage || !strings.Contains(err.Error(), `migrations.dir "db/nowhere" does not exist in commit`) {
		t.Errorf("missing configured folder: %v", err)
	}

	gittest.WriteFile(t, filepath.Join(dir, "apps", "api", "wrangler.toml"), "name = \"api\"\n[[d1_databases]]\nbinding = 3\n")
	_, err = Load(ctx, WorkTree(repo), config.Defaults())
	var located *wranglercfg.Error
	if !errors.As(err, &located) || located.Path != "apps/api/wrangler.toml" || located.Line != 3 {
		t.Errorf("unparsable configuration: %v", err)
	}
}

func TestIsConfig(t *testing.T) {
	cfg := config.Defaults()
	cfg.Workers = []config.Worker{{Config: "wrangler.kv.toml"}}
	for p, want := range map[string]bool{
		"wrangler.toml":                          true,
		"apps/api/wrangler.jsonc":                true,
		"node_modules/x/wrangler.toml":           false,
		"apps/node_modules/x/wrangler.json":      false,
		"wrangler.kv.toml":                       true,
		"apps/wrangler.kv.toml":                  false,
		"wrangler.example.json":                  false,
		"apps/api/wrangler.toml.bak":             false,
		"apps/node_modules_backup/wrangler.toml": true,
	} {
		if got := IsConfig(cfg, p); got != want {
			t.Errorf("IsConfig(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestResolve(t *testing.T) {
	for _, tc := range []struct{ dir, mig, want string }{
		{".", "", "migrations"},
		{"apps/api", "", "apps/api/migrations"},
		{"apps/api", "./db/", "apps/api/db"},
		{"apps/api", "../../shared/migrations", "shared/migrations"},
		{".", "drizzle", "drizzle"},
	} {
		if got := Resolve(tc.dir, tc.mig); got != tc.want {
			t.Errorf("Resolve(%q, %q) = %q, want %q", tc.dir, tc.mig, got, tc.want)
		}
	}
}
