package wranglercfg

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// corpusExpect holds a few facts per real configuration, checked by hand
// against the file.
type corpusExpect struct {
	name     string
	envs     []string
	d1       []string  // top-level D1 binding names
	bindings []Binding // must all be present (a subset of Bindings())
	count    int       // len(Bindings())
}

var corpus = map[string]corpusExpect{
	"13734315__email-temp-inbox__wrangler.toml": {
		name: "email-temp-inbox", d1: []string{"DB"}, count: 1,
		bindings: []Binding{{Kind: "d1_databases", Name: "DB"}},
	},
	"MutinyWallet__blastr__wrangler.toml": {
		name: "blastr", count: 23,
		bindings: []Binding{
			{Kind: "routes", Name: "nostr.mutinywallet.com/event"},
			{Kind: "kv_namespaces", Name: "PUBLISHED_NOTES"},
			{Kind: "queues.producers", Name: "nostr-events-pub-10-b"},
			{Kind: "queues.consumers", Name: "nostr-events-pub-1-b"},
		},
	},
	"beilunyang__moemail__wrangler.cleanup.example.json": {
		name: "cleanup-worker", d1: []string{"DB"}, count: 1,
		bindings: []Binding{{Kind: "d1_databases", Name: "DB"}},
	},
	"beilunyang__moemail__wrangler.email.example.json": {
		name: "email-receiver-worker", d1: []string{"DB"}, count: 1,
	},
	"beilunyang__moemail__wrangler.example.json": {
		name: "moemail", d1: []string{"DB"}, count: 2,
		bindings: []Binding{{Kind: "kv_namespaces", Name: "SITE_CONFIG"}},
	},
	"cloudflare__templates__ai-brand-visibility-template__wrangler.jsonc": {
		name: "ai-brand-visibility-template", count: 4,
		bindings: []Binding{
			{Kind: "ai", Name: "AI"},
			{Kind: "queues.producers", Name: "BRAND_VISIBILITY_QUEUE"},
			{Kind: "queues.consumers", Name: "brand-visibility-jobs"},
		},
	},
	"cloudflare__templates__containers-template__wrangler.jsonc": {
		name: "containers-template", count: 2,
		bindings: []Binding{{Kind: "durable_objects", Name: "MY_CONTAINER"}, {Kind: "containers", Name: "MyContainer"}},
	},
	"cloudflare__templates__d1-template__wrangler.json": {
		name: "d1-template", d1: []string{"DB"}, count: 1,
	},
	"cloudflare__templates__internal-sites-template__wrangler.jsonc": {
		name: "internal-sites-template", envs: []string{"local"}, d1: []string{"DB"}, count: 4,
		bindings: []Binding{
			{Kind: "dispatch_namespaces", Name: "dispatcher"},
			{Env: "local", Kind: "d1_databases", Name: "DB"},
			{Env: "local", Kind: "dispatch_namespaces", Name: "dispatcher"},
		},
	},
	"cloudflare__templates__microfrontend-template__wrangler.jsonc": {
		name: "microfrontend-template", count: 3,
		bindings: []Binding{{Kind: "routes", Name: "example.com/*"}, {Kind: "services", Name: "APP2"}},
	},
	"cloudflare__templates__newsletter-template@1dc32a0__wrangler.json": {
		name: "newsletter-template", d1: []string{"DB"}, count: 1,
	},
	"cloudflare__templates__nlweb-template__wrangler.jsonc": {
		name: "nlweb-template", count: 4,
		bindings: []Binding{
			{Kind: "assets", Name: "ASSETS"},
			{Kind: "unsafe.bindings", Name: "RATE_LIMITER"},
			{Kind: "durable_objects", Name: "MCP_OBJECT"},
		},
	},
	"cloudflare__templates__openauth-template__wrangler.json": {
		name: "openauth-template", d1: []string{"AUTH_DB"}, count: 2,
		bindings: []Binding{{Kind: "kv_namespaces", Name: "AUTH_STORAGE"}},
	},
	"cloudflare__templates__postgres-hyperdrive-template__wrangler.jsonc": {
		name: "postgres-hyperdrive-template", count: 2,
		bindings: []Binding{{Kind: "hyperdrive", Name: "HYPERDRIVE"}},
	},
	"cloudflare__templates__r2-explorer-template__wrangler.json": {
		name: "r2-explorer-template", count: 2,
		bindings: []Binding{{Kind: "r2_buckets", Name: "bucket"}},
	},
	"cloudflare__templates__saas-admin-template__wrangler.jsonc": {
		name: "saas-admin-template", d1: []string{"DB"}, count: 2,
		bindings: []Binding{{Kind: "workflows", Name: "CUSTOMER_WORKFLOW"}},
	},
	"cloudflare__templates__workers-for-platforms-template__wrangler.jsonc": {
		name: "workers-for-platforms-template", d1: []string{"DB"}, count: 2,
		bindings: []Binding{{Kind: "dispatch_namespaces", Name: "dispatcher"}},
	},
	"cloudflare__templates__workflows-starter-template__wrangler.jsonc": {
		name: "workflows-starter-template", count: 2,
		bindings: []Binding{{Kind: "workflows", Name: "MY_WORKFLOW"}, {Kind: "durable_objects", Name: "WORKFLOW_STATUS"}},
	},
	"cloudflare__vibesdk__wrangler.jsonc": {
		name: "vibesdk-production", d1: []string{"DB"}, count: 21,
		bindings: []Binding{
			{Kind: "custom_domains", Name: "build.cloudflare.dev"},
			{Kind: "routes", Name: "*build-preview.cloudflare.dev/*"},
			{Kind: "version_metadata", Name: "CF_VERSION_METADATA"},
			{Kind: "worker_loaders", Name: "LOADER"},
			{Kind: "artifacts", Name: "ARTIFACTS"},
			{Kind: "browser", Name: "BROWSER"},
			{Kind: "durable_objects", Name: "SPACE_DO"},
			{Kind: "unsafe.bindings", Name: "AUTH_RATE_LIMITER"},
		},
	},
	"cloudflare__wildebeest__consumer__wrangler.toml": {name: "", count: 0},
	"cloudflare__wildebeest__do__wrangler.toml":       {name: "wildebeest-do", count: 0},
	"cloudflare__wildebeest__wrangler.toml": {
		name: "wildebeest", d1: []string{"DATABASE"}, count: 1,
	},
	"cloudflare__workers-sdk__fixtures__get-platform-proxy__wrangler.toml": {
		name: "get-bindings-proxy-fixture", envs: []string{"production"}, d1: []string{"MY_D1"}, count: 9,
		bindings: []Binding{
			{Kind: "services", Name: "MY_RPC"},
			{Kind: "durable_objects", Name: "MY_DO_B"},
			{Kind: "r2_buckets", Name: "MY_BUCKET"},
			{Env: "production", Kind: "kv_namespaces", Name: "MY_KV_PROD"},
		},
	},
	// The "messy" part: tail_consumers sits under [[d1_databases]], so it is
	// a field of the database entry, not a tail consumer.
	"cloudflare__workers-sdk__fixtures__messy-config__wrangler.toml": {
		name: "messy-config", d1: []string{"MY_DB"}, count: 1,
	},
	"cloudflare__workers-sdk__fixtures__vitest-pool-workers-examples__d1__wrangler.toml": {
		name: "d1", d1: []string{"DATABASE"}, count: 1,
	},
	"mizchi__remix-d1-bullets@72e8970__wrangler.toml": {
		name: "remix-d1-drizzle", d1: []string{"DB"}, count: 2,
		bindings: []Binding{{Kind: "kv_namespaces", Name: "SESSION_KV"}},
	},
	"shashwatkumar9__pressscape-d1-cloudflare__wrangler.toml": {
		name: "pressscape-d1-cloudflare", d1: []string{"DB"}, count: 2,
		bindings: []Binding{{Kind: "r2_buckets", Name: "BUCKET"}},
	},
}

func TestCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/corpus/*")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, f := range files {
		base := filepath.Base(f)
		if base == "PROVENANCE.md" {
			continue
		}
		seen++
		t.Run(base, func(t *testing.T) {
			want, ok := corpus[base]
			if !ok {
				t.Fatalf("no expectations for %s: add it to the corpus table", base)
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(base, data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if c.Name != want.name {
				t.Errorf("Name = %q, want %q", c.Name, want.name)
			}
			if !slices.Equal(c.Envs, want.envs) {
				t.Errorf("Envs = %q, want %q", c.Envs, want.envs)
			}
			var d1 []string
			for _, db := range c.D1Databases("") {
				d1 = append(d1, db.Binding)
			}
			if !slices.Equal(d1, want.d1) {
				t.Errorf("D1Databases(\"\") = %q, want %q", d1, want.d1)
			}
			got := c.Bindings()
			if len(got) != want.count {
				t.Errorf("len(Bindings()) = %d, want %d: %v", len(got), want.count, got)
			}
			for _, b := range want.bindings {
				if !slices.Contains(got, b) {
					t.Errorf("Bindings() lacks %v: %v", b, got)
				}
			}
			// Every binding is new against nothing, none against itself.
			if n := len(AddedBindings(nil, c)); n != len(got) {
				t.Errorf("AddedBindings(nil, c) has %d, want %d", n, len(got))
			}
			if a := AddedBindings(c, c); len(a) != 0 {
				t.Errorf("AddedBindings(c, c) = %v, want none", a)
			}
		})
	}
	if seen != len(corpus) {
		t.Errorf("corpus has %d files, table has %d entries", seen, len(corpus))
	}
	if seen != 27 {
		t.Errorf("corpus has %d files, want the 27 shared ones", seen)
	}
}

// The d1 corpus entries carry migrations_dir and database ids the D1
// checks rely on.
func TestCorpusD1Fields(t *testing.T) {
	data, err := os.ReadFile("testdata/corpus/beilunyang__moemail__wrangler.cleanup.example.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse("wrangler.json", data)
	if err != nil {
		t.Fatal(err)
	}
	want := []D1Database{{Binding: "DB", DatabaseName: "moemail", DatabaseID: "${DATABASE_ID}", MigrationsDir: "drizzle", MigrationsTable: "d1_migrations"}}
	if got := c.D1Databases(""); !slices.Equal(got, want) {
		t.Errorf("D1Databases = %+v, want %+v", got, want)
	}
}
