package policy

import (
	"errors"
	"strings"
	"testing"
)

// content returns a lazy reader of s that counts its reads.
func content(s string, reads *int) func() ([]byte, error) {
	return func() ([]byte, error) {
		if reads != nil {
			*reads++
		}
		return []byte(s), nil
	}
}

// mustNotRead is a reader Infer must never call.
func mustNotRead(t *testing.T, p string) func() ([]byte, error) {
	return func() ([]byte, error) {
		t.Errorf("Infer read the content of %s", p)
		return nil, errors.New("must not be read")
	}
}

func mod(p, old, new string) Change {
	return Change{Path: p, Kind: Modified, Old: content(old, nil), New: content(new, nil)}
}

const pkgBase = `{
  "name": "api",
  "version": "1.4.0",
  "private": true,
  "type": "module",
  "scripts": {
    "dev": "wrangler dev",
    "deploy": "wrangler deploy",
    "test": "vitest run"
  },
  "dependencies": {
    "hono": "^4.4.6",
    "drizzle-orm": "~0.31.2"
  },
  "devDependencies": {
    "@cloudflare/workers-types": "^4.20240614.0",
    "typescript": "5.4.5",
    "vitest": "1.6.0",
    "wrangler": "^3.60.3"
  },
  "packageManager": "pnpm@9.3.0+sha512.ee7b93e0c2bd11409c6424f92b866f31d3ea1bef5fbe47d3c7500cdc3c9668833d2e55681ad66df5b640c61fa9dc25d546efa54d76d7f8bf54b13614ac293631"
}
`

func pkg(repl ...string) string {
	return strings.NewReplacer(repl...).Replace(pkgBase)
}

const goModBase = `module github.com/example/svc

go 1.22

require (
	github.com/hashicorp/go-version v1.6.0
	github.com/pelletier/go-toml/v2 v2.2.2
	golang.org/x/mod v0.18.0
	github.com/old/lib v0.9.3
)

require github.com/davecgh/go-spew v1.1.1 // indirect
`

func gomod(repl ...string) string {
	return strings.NewReplacer(repl...).Replace(goModBase)
}

const wranglerBase = `name = "api"
main = "src/index.ts"
compatibility_date = "2024-06-01"

[[d1_databases]]
binding = "DB"
database_name = "api-db"
database_id = "0f2b6f5e-8f8e-4d3b-9a52-3a1e4c8f9d10"

[env.staging]
name = "api-staging"
vars = { STAGE = "staging" }

[[env.staging.kv_namespaces]]
binding = "CACHE"
id = "6a1f0b0c3c8e4a0e9b7a2d3c4e5f6a7b"
`

func TestInfer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		changes []Change
		rules   *Rules
		want    Category
		why     []string // substrings of the reasons, in order
	}{
		{"no changes", nil, nil, Standard, nil},
		{"docs only", []Change{
			{Path: "README.md", Kind: Modified},
			{Path: "docs/setup/deploy.md", Kind: Added},
			{Path: "docs/diagram.png", Kind: Modified},
			{Path: "LICENSE", Kind: Modified},
			{Path: "docs/old.md", Kind: Deleted},
		}, nil, Standard, []string{`matches "**/*.md"`, `matches "**/*.md"`, `matches "docs/**"`, `matches "LICENSE*"`, "deletes documentation"}},
		{"lockfiles", []Change{
			{Path: "pnpm-lock.yaml", Kind: Modified},
			{Path: "apps/web/package-lock.json", Kind: Modified},
			{Path: "go.sum", Kind: Modified},
		}, nil, Standard, []string{"lockfile", "lockfile", "lockfile"}},
		{"docs and code", []Change{
			{Path: "README.md", Kind: Modified},
			{Path: "src/index.ts", Kind: Modified},
			{Path: "src/new.ts", Kind: Added},
		}, nil, Normal, []string{"not documentation, a lockfile or a dependency version bump", "adds a file"}},
		{"package.json minor bumps", []Change{
			mod("package.json", pkgBase, pkg(`"^3.60.3"`, `"^3.61.0"`, `"5.4.5"`, `"5.5.2"`, `"~0.31.2"`, `"~0.31.4"`)),
			{Path: "pnpm-lock.yaml", Kind: Modified},
		}, nil, Standard, []string{"only bumps dependency versions: drizzle-orm ~0.31.2 -> ~0.31.4, typescript 5.4.5 -> 5.5.2, wrangler ^3.60.3 -> ^3.61.0", "lockfile"}},
		{"package.json major crossing", []Change{
			mod("package.json", pkgBase, pkg(`"^3.60.3"`, `"^4.0.0"`, `"5.4.5"`, `"5.5.2"`)),
		}, nil, Normal, []string{"bumps across a major version: wrangler ^3.60.3 -> ^4.0.0"}},
		{"package.json 0.x minor crosses (caret semantics)", []Change{
			mod("package.json", pkgBase, pkg(`"~0.31.2"`, `"~0.32.0"`)),
		}, nil, Normal, []string{"bumps across a major version: drizzle-orm ~0.31.2 -> ~0.32.0"}},
		{"package.json adds a dependency", []Change{
			mod("package.json", pkgBase, pkg(`"hono": "^4.4.6",`, `"hono": "^4.4.6", "zod": "^3.23.8",`)),
		}, nil, Normal, []string{`changes package.json beyond dependency versions: adds dependencies "zod"`}},
		{"package.json removes a dependency", []Change{
			mod("package.json", pkgBase, pkg(`"vitest": "1.6.0",`, ``)),
		}, nil, Normal, []string{`removes devDependencies "vitest"`}},
		{"package.json changes a script", []Change{
			mod("package.json", pkgBase, pkg(`"vitest run"`, `"vitest run --coverage"`)),
		}, nil, Normal, []string{`changes "scripts"`}},
		{"package.json version field", []Change{
			mod("package.json", pkgBase, pkg(`"1.4.0"`, `"1.5.0"`)),
		}, nil, Normal, []string{`changes "version"`}},
		{"package.json reformatted", []Change{
			mod("package.json", pkgBase, strings.ReplaceAll(pkgBase, "\n  ", "\n\t")),
		}, nil, Standard, []string{"no change beyond formatting"}},
		{"package.json packageManager bump", []Change{
			mod("package.json", pkgBase, pkg("pnpm@9.3.0+sha512.ee7b", "pnpm@9.4.0+sha512.aa7b")),
		}, nil, Standard, []string{"packageManager pnpm 9.3.0 -> 9.4.0"}},
		{"package.json bump to a tag", []Change{
			mod("package.json", pkgBase, pkg(`"1.6.0"`, `"beta"`)),
		}, nil, Normal, []string{"bumps to versions that cannot be compared: vitest 1.6.0 -> beta"}},
		{"package.json does not parse", []Change{
			mod("package.json", pkgBase, strings.Replace(pkgBase, `"private": true,`, `"private": true`, 1)),
		}, nil, Normal, []string{"package.json does not parse, so it is not a version bump: package.json:5: invalid character"}},
		{"package.json added", []Change{
			{Path: "apps/web/package.json", Kind: Added, New: content(pkgBase, nil)},
		}, nil, Normal, []string{"adds a file"}},
		{"go.mod bump", []Change{
			mod("go.mod", goModBase, gomod("v0.18.0", "v0.19.0", "v1.6.0", "v1.7.0")),
			{Path: "go.sum", Kind: Modified},
		}, nil, Standard, []string{"only bumps dependency versions: github.com/hashicorp/go-version v1.6.0 -> v1.7.0, golang.org/x/mod v0.18.0 -> v0.19.0", "lockfile"}},
		{"go.mod crossing v0 -> v1", []Change{
			mod("go.mod", goModBase, gomod("v0.9.3", "v1.0.0")),
		}, nil, Normal, []string{"bumps across a major version: github.com/old/lib v0.9.3 -> v1.0.0"}},
		{"go.mod adds a requirement", []Change{
			mod("go.mod", goModBase, gomod("v1.1.1 // indirect", "v1.1.1 // indirect\nrequire github.com/pmezard/go-difflib v1.0.0 // indirect")),
		}, nil, Normal, []string{"adds requirement github.com/pmezard/go-difflib"}},
		{"go.mod go directive", []Change{
			mod("go.mod", goModBase, gomod("go 1.22", "go 1.23")),
		}, nil, Normal, []string{"changes go.mod beyond dependency versions: adds go 1.23, removes go 1.22"}},
		{"go.mod indirect flips", []Change{
			mod("go.mod", goModBase, gomod("go-spew v1.1.1 // indirect", "go-spew v1.1.1")),
		}, nil, Normal, []string{"changes whether github.com/davecgh/go-spew is indirect"}},
		{"go.mod does not parse", []Change{
			mod("go.mod", goModBase, gomod("go 1.22", "go one")),
		}, nil, Normal, []string{"go.mod does not parse, so it is not a version bump: go.mod:3: invalid go version 'one'"}},
		{"wrangler binding in env.staging", []Change{
			mod("wrangler.toml", wranglerBase, wranglerBase+"\n[[env.staging.d1_databases]]\nbinding = \"DB\"\ndatabase_name = \"api-staging-db\"\ndatabase_id = \"1d1d1d1d-0000-4000-8000-000000000001\"\n"),
			{Path: "src/index.ts", Kind: Modified},
		}, nil, Major, []string{"adds binding d1_databases DB in env.staging"}},
		{"wrangler two new bindings", []Change{
			mod("apps/api/wrangler.toml", wranglerBase, strings.Replace(wranglerBase, "[env.staging]", "[ai]\nbinding = \"AI\"\n\n[[r2_buckets]]\nbinding = \"FILES\"\nbucket_name = \"files\"\n\n[env.staging]", 1)),
		}, nil, Major, []string{"adds binding r2_buckets FILES", "adds binding ai AI"}},
		{"wrangler new environment", []Change{
			mod("wrangler.toml", wranglerBase, wranglerBase+"\n[env.production]\nvars = { STAGE = \"production\" }\n"),
		}, nil, Major, []string{`adds environment production (Worker "api-production")`}},
		{"wrangler worker renamed", []Change{
			mod("wrangler.toml", wranglerBase, strings.Replace(wranglerBase, `name = "api"`, `name = "api-v2"`, 1)),
		}, nil, Major, []string{`renames the Worker "api" to "api-v2"`}},
		{"wrangler compatibility date", []Change{
			mod("wrangler.toml", wranglerBase, strings.Replace(wranglerBase, "2024-06-01", "2024-09-23", 1)),
		}, nil, Normal, []string{"changes wrangler configuration without new bindings"}},
		{"wrangler removes a binding", []Change{
			mod("wrangler.toml", wranglerBase, strings.Replace(wranglerBase, "[[env.staging.kv_namespaces]]\nbinding = \"CACHE\"\nid = \"6a1f0b0c3c8e4a0e9b7a2d3c4e5f6a7b\"\n", "", 1)),
		}, nil, Normal, []string{"changes wrangler configuration without new bindings"}},
		{"new wrangler.jsonc", []Change{
			{Path: "workers/mailer/wrangler.jsonc", Kind: Added, New: content("{\n\t// a new service\n\t\"name\": \"mailer\",\n\t\"main\": \"src/index.ts\",\n\t\"send_email\": [{\"name\": \"MAIL\"}],\n}\n", nil)},
			{Path: "workers/mailer/src/index.ts", Kind: Added},
		}, nil, Major, []string{`adds wrangler configuration for Worker "mailer" (a new service)`}},
		{"wrangler.toml converted to wrangler.jsonc", []Change{
			{Path: "wrangler.jsonc", OldPath: "wrangler.toml", Kind: Renamed, Old: content(wranglerBase, nil),
				New: content(`{"name": "api", "main": "src/index.ts", "d1_databases": [{"binding": "DB", "database_name": "api-db"}],
				"env": {"staging": {"name": "api-staging", "kv_namespaces": [{"binding": "CACHE", "id": "x"}]}}}`, nil)},
		}, nil, Normal, []string{"changes wrangler configuration without new bindings"}},
		{"wrangler config moved to a new directory", []Change{
			{Path: "workers/api/wrangler.toml", OldPath: "wrangler.toml", Kind: Renamed, Old: content(wranglerBase, nil), New: content(wranglerBase, nil)},
		}, nil, Major, []string{"a new service"}},
		{"wrangler config deleted", []Change{
			{Path: "wrangler.toml", Kind: Deleted},
		}, nil, Normal, []string{"removes a wrangler configuration"}},
		{"example config is not a config", []Change{
			{Path: "wrangler.example.json", Kind: Added},
		}, nil, Normal, []string{"adds a file"}},
		{"major glob", []Change{
			{Path: "README.md", Kind: Modified},
			{Path: "infra/terraform/main.tf", Kind: Modified},
		}, &Rules{Standard: DefaultRules().Standard, Major: []string{"infra/**"}}, Major, []string{`infra/terraform/main.tf matches major glob "infra/**"`}},
		{"custom standard glob", []Change{
			{Path: ".github/workflows/ci.yml", Kind: Modified},
		}, &Rules{Standard: []string{".github/**"}}, Standard, []string{`matches ".github/**"`}},
		{"rename within docs", []Change{
			{Path: "docs/b.md", OldPath: "docs/a.md", Kind: Renamed},
		}, nil, Standard, nil},
		{"rename code into docs", []Change{
			{Path: "docs/example.ts", OldPath: "src/example.ts", Kind: Renamed},
		}, nil, Normal, []string{"renamed from src/example.ts"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rules := DefaultRules()
			if tc.rules != nil {
				rules = *tc.rules
			}
			// Plain docs and code must never be read.
			for i := range tc.changes {
				c := &tc.changes[i]
				if c.Old == nil {
					c.Old = mustNotRead(t, c.Path+" (old)")
				}
				if c.New == nil {
					c.New = mustNotRead(t, c.Path+" (new)")
				}
			}
			got, err := Infer(tc.changes, rules)
			if err != nil {
				t.Fatalf("Infer: %v", err)
			}
			if got.Category != tc.want {
				t.Errorf("Category = %v, want %v; reasons %v", got.Category, tc.want, got.Reasons)
			}
			if tc.why != nil && len(got.Reasons) != len(tc.why) {
				t.Errorf("reasons %v, want %d", got.Reasons, len(tc.why))
			}
			for i, r := range got.Reasons {
				if r.Category != got.Category {
					t.Errorf("reason %v has category %v, not the final %v", r, r.Category, got.Category)
				}
				if i < len(tc.why) && !strings.Contains(r.Why, tc.why[i]) {
					t.Errorf("reason %d = %q, want it to contain %q", i, r.Why, tc.why[i])
				}
			}
		})
	}
}

func TestInferErrors(t *testing.T) {
	bad := `name = "api"
[[d1_databases]
binding = "DB"
`
	for _, tc := range []struct {
		name    string
		changes []Change
		rules   Rules
		want    string
	}{
		{"unparsable new wrangler config", []Change{mod("apps/api/wrangler.toml", wranglerBase, bad)}, DefaultRules(),
			"apps/api/wrangler.toml:2:15: expected ']]' to close array table name"},
		{"unparsable base wrangler config", []Change{mod("wrangler.toml", bad, wranglerBase)}, DefaultRules(),
			"base version: wrangler.toml:2:15: expected ']]' to close array table name"},
		{"unparsable added wrangler config", []Change{{Path: "wrangler.jsonc", Kind: Added, New: content("{\"name\": \"x\" \"main\": 1}", nil)}}, DefaultRules(),
			"wrangler.jsonc:1:14: invalid character '\"' after object value (expecting ',' or '}')"},
		{"unreadable content", []Change{{Path: "package.json", Kind: Modified, Old: content(pkgBase, nil),
			New: func() ([]byte, error) { return nil, errors.New("object not found") }}}, DefaultRules(),
			"reading new content of package.json: object not found"},
		{"missing content", []Change{{Path: "go.mod", Kind: Modified, New: content(goModBase, nil)}}, DefaultRules(),
			"go.mod: no old content to read"},
		{"unknown kind", []Change{{Path: "x", Kind: 'X'}}, DefaultRules(), `x: unknown change kind "X"`},
		{"invalid glob", nil, Rules{Major: []string{"infra/[a"}}, `invalid major glob "infra/[a"`},
	} {
		_, err := Infer(tc.changes, tc.rules)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

// Only the deciding files are read, each side once.
func TestInferReadsLazily(t *testing.T) {
	var pkgReads, wrReads int
	changes := []Change{
		{Path: "package.json", Kind: Modified, Old: content(pkgBase, &pkgReads), New: content(pkgBase, &pkgReads)},
		{Path: "wrangler.toml", Kind: Modified, Old: content(wranglerBase, &wrReads), New: content(wranglerBase, &wrReads)},
		{Path: "src/a.ts", Kind: Modified, Old: mustNotRead(t, "src/a.ts"), New: mustNotRead(t, "src/a.ts")},
		{Path: "docs/a.md", Kind: Modified, Old: mustNotRead(t, "docs/a.md"), New: mustNotRead(t, "docs/a.md")},
		{Path: "yarn.lock", Kind: Modified, Old: mustNotRead(t, "yarn.lock"), New: mustNotRead(t, "yarn.lock")},
	}
	if _, err := Infer(changes, DefaultRules()); err != nil {
		t.Fatal(err)
	}
	if pkgReads != 2 || wrReads != 2 {
		t.Errorf("reads: package.json %d, wrangler.toml %d; want 2 each", pkgReads, wrReads)
	}
}

func TestCrossesMajor(t *testing.T) {
	for _, tc := range []struct {
		from, to    string
		crosses, ok bool
		goSemantics bool
	}{
		{"^1.2.3", "^1.9.0", false, true, false},
		{"^1.2.3", "^2.0.0", true, true, false},
		{"~1.2.3", "~1.3.0", false, true, false},
		{"1.2.3", "2.0.0-rc.1", true, true, false},
		{">=1.2.3 <2.0.0", ">=2.1.0 <3.0.0", true, true, false},
		{"1.x", "2.x", true, true, false},
		{"1.2.x", "1.3.x", false, true, false},
		{"1.2.3 - 1.9.9", "1.4.0 - 2.0.0", false, true, false},
		{"^1.0.0 || ^2.0.0", "^1.5.0 || ^2.0.0", false, true, false},
		{"npm:string-width@^4.2.0", "npm:string-width@^5.0.0", true, true, false},
		{"v1.2.3", "v1.4.0", false, true, false},
		{"v0.9.3", "v1.0.0", true, true, false},
		{"v2.0.0+incompatible", "v3.0.1+incompatible", true, true, false},
		{"v0.0.0-20240101000000-abcdefabcdef", "v0.0.0-20240601000000-123456123456", false, true, true},
		{"v0.18.0", "v0.19.0", false, true, true}, // go get -u territory
		{"v0.9.3", "v1.0.0", true, true, true},
		{"v1.9.3", "v2.0.0+incompatible", true, true, true},
		{"v0.0.3", "v0.0.4", false, true, true},
		{"^0.2.1", "^0.2.9", false, true, false},
		{"^0.2.1", "^0.3.0", true, true, false},
		{"0.0.3", "0.0.4", true, true, false},
		{"=1.0.0", "1.0.1", false, true, false},
		{"workspace:*", "workspace:^", false, false, false},
		{"latest", "next", false, false, false},
		{"*", "1.0.0", false, false, false},
		{"<2.0.0", "<3.0.0", false, false, false},
		{"github:user/repo#v1.0.0", "github:user/repo#v2.0.0", false, false, false},
		{"file:../lib", "file:../lib2", false, false, false},
	} {
		c, ok := crossesMajor(tc.from, tc.to, !tc.goSemantics)
		if c != tc.crosses || ok != tc.ok {
			t.Errorf("crossesMajor(%q, %q) = %v, %v; want %v, %v", tc.from, tc.to, c, ok, tc.crosses, tc.ok)
		}
	}
}

func BenchmarkInfer10Files(b *testing.B) {
	newPkg := pkg(`"^3.60.3"`, `"^3.61.0"`)
	newWrangler := strings.Replace(wranglerBase, "2024-06-01", "2024-09-23", 1)
	changes := []Change{
		{Path: "src/index.ts", Kind: Modified},
		{Path: "src/routes/users.ts", Kind: Modified},
		{Path: "src/routes/orders.ts", Kind: Added},
		{Path: "src/lib/db.ts", Kind: Modified},
		{Path: "test/users.test.ts", Kind: Modified},
		{Path: "README.md", Kind: Modified},
		{Path: "docs/api.md", Kind: Modified},
		{Path: "pnpm-lock.yaml", Kind: Modified},
		{Path: "package.json", Kind: Modified, Old: content(pkgBase, nil), New: content(newPkg, nil)},
		{Path: "wrangler.toml", Kind: Modified, Old: content(wranglerBase, nil), New: content(newWrangler, nil)},
	}
	rules := DefaultRules()
	b.ReportAllocs()
	for b.Loop() {
		inf, err := Infer(changes, rules)
		if err != nil || inf.Category != Normal {
			b.Fatal(inf, err)
		}
	}
}

func TestInferConfiguredAndIgnoredConfigs(t *testing.T) {
	base := "name = \"web\"\n"
	head := "name = \"web\"\n[[kv_namespaces]]\nbinding = \"SESSIONS\"\nid = \"1\"\n"
	rules := DefaultRules()
	// Without guard.toml naming it, wrangler.kv.toml is just a file.
	inf, err := Infer([]Change{mod("apps/web/wrangler.kv.toml", base, head)}, rules)
	if err != nil || inf.Category != Normal {
		t.Fatalf("unnamed kv config: %v %v", inf, err)
	}
	rules.Configs = []string{"apps/web/wrangler.kv.toml"}
	inf, err = Infer([]Change{mod("apps/web/wrangler.kv.toml", base, head)}, rules)
	if err != nil || inf.Category != Major || !strings.Contains(inf.Reasons[0].Why, "adds binding kv_namespaces SESSIONS") {
		t.Fatalf("configured kv config: %+v %v", inf, err)
	}
	// A new configured configuration is a new service.
	inf, err = Infer([]Change{{Path: "apps/web/wrangler.kv.toml", Kind: Added, New: content(head, nil)}}, rules)
	if err != nil || inf.Category != Major {
		t.Fatalf("new configured kv config: %+v %v", inf, err)
	}
	// A vendored configuration under node_modules is not one of ours.
	inf, err = Infer([]Change{{Path: "node_modules/pkg/wrangler.toml", Kind: Added, New: mustNotRead(t, "node_modules/pkg/wrangler.toml")}}, DefaultRules())
	if err != nil || inf.Category != Normal {
		t.Fatalf("node_modules config: %+v %v", inf, err)
	}
	// A binding added in a sub-folder's configuration is major, at any depth.
	inf, err = Infer([]Change{mod("apps/api/wrangler.toml", base, head)}, DefaultRules())
	if err != nil || inf.Category != Major {
		t.Fatalf("sub-folder config: %+v %v", inf, err)
	}
}
