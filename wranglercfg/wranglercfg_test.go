package wranglercfg

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func mustParse(t *testing.T, path, src string) *Config {
	t.Helper()
	c, err := Parse(path, []byte(src))
	if err != nil {
		t.Fatalf("Parse(%s): %v", path, err)
	}
	return c
}

func TestIsConfigFile(t *testing.T) {
	for p, want := range map[string]bool{
		"wrangler.toml":              true,
		"wrangler.json":              true,
		"wrangler.jsonc":             true,
		"apps/api/wrangler.toml":     true,
		`apps\api\wrangler.jsonc`:    true,
		"wrangler.example.json":      false,
		"wrangler.toml.bak":          false,
		"Wrangler.toml":              false,
		"docs/wrangler.md":           false,
		"wrangler.toml/README.md":    false,
		"mywrangler.toml":            false,
		"":                           false,
		"apps/api/wrangler.dev.toml": false,
	} {
		if got := IsConfigFile(p); got != want {
			t.Errorf("IsConfigFile(%q) = %v, want %v", p, got, want)
		}
	}
}

const envTOML = `
name = "api"
account_id = "acc"
routes = [{ pattern = "api.example.com/*", zone_name = "example.com" }]

[assets]
directory = "public"
binding = "ASSETS"

[[d1_databases]]
binding = "DB"
database_name = "api-db"
database_id = "11111111-1111-1111-1111-111111111111"

[env.staging]
name = "api-stage"

[[env.staging.kv_namespaces]]
binding = "CACHE"
id = "abc"

[env.production]
routes = []
[[env.production.d1_databases]]
binding = "DB"
database_name = "api-prod"
database_id = "22222222-2222-2222-2222-222222222222"
migrations_dir = "db/migrations"
migrations_table = "_migrations"
`

func TestWorkerName(t *testing.T) {
	c := mustParse(t, "wrangler.toml", envTOML)
	for env, want := range map[string]string{
		"":           "api",
		"staging":    "api-stage",      // its own name
		"production": "api-production", // <name>-<env>
		"undefined":  "api-undefined",  // wrangler: fallback to top level, name still suffixed
	} {
		if got := c.WorkerName(env); got != want {
			t.Errorf("WorkerName(%q) = %q, want %q", env, got, want)
		}
	}
	noName := mustParse(t, "wrangler.jsonc", `{"env": {"dev": {}}}`)
	if got := noName.WorkerName("dev"); got != "" {
		t.Errorf("WorkerName without any name = %q, want empty", got)
	}
	if c.AccountID != "acc" || c.Name != "api" {
		t.Errorf("Name, AccountID = %q, %q", c.Name, c.AccountID)
	}
	if !slices.Equal(c.Envs, []string{"production", "staging"}) {
		t.Errorf("Envs = %q", c.Envs)
	}
	if !c.HasEnv("staging") || c.HasEnv("nope") || c.HasEnv("") {
		t.Error("HasEnv wrong")
	}
}

func TestD1DatabasesNotInherited(t *testing.T) {
	c := mustParse(t, "wrangler.toml", envTOML)
	top := []D1Database{{Binding: "DB", DatabaseName: "api-db", DatabaseID: "11111111-1111-1111-1111-111111111111", MigrationsDir: "migrations", MigrationsTable: "d1_migrations"}}
	if got := c.D1Databases(""); !slices.Equal(got, top) {
		t.Errorf("top = %+v", got)
	}
	if got := c.D1Databases("staging"); len(got) != 0 {
		t.Errorf("staging inherits d1_databases: %+v", got)
	}
	prod := []D1Database{{Binding: "DB", DatabaseName: "api-prod", DatabaseID: "22222222-2222-2222-2222-222222222222", MigrationsDir: "db/migrations", MigrationsTable: "_migrations"}}
	if got := c.D1Databases("production"); !slices.Equal(got, prod) {
		t.Errorf("production = %+v", got)
	}
	if got := c.D1Databases("undefined"); !slices.Equal(got, top) {
		t.Errorf("an env without a section should fall back to the top level: %+v", got)
	}
}

func TestBindingsInheritance(t *testing.T) {
	c := mustParse(t, "wrangler.toml", envTOML)
	want := []Binding{
		{Kind: "routes", Name: "api.example.com/*"},
		{Kind: "d1_databases", Name: "DB"},
		{Kind: "assets", Name: "ASSETS"},
		// production sets routes = [] (no inheritance) and its own D1;
		// assets are inherited.
		{Env: "production", Kind: "d1_databases", Name: "DB"},
		{Env: "production", Kind: "assets", Name: "ASSETS"},
		// staging inherits routes and assets, not d1_databases.
		{Env: "staging", Kind: "routes", Name: "api.example.com/*"},
		{Env: "staging", Kind: "kv_namespaces", Name: "CACHE"},
		{Env: "staging", Kind: "assets", Name: "ASSETS"},
	}
	if got := c.Bindings(); !slices.Equal(got, want) {
		t.Errorf("Bindings() =\n%v\nwant\n%v", got, want)
	}
}

func TestEveryBindingKind(t *testing.T) {
	src := `{
	"route": "a.example.com/*",
	"routes": ["b.example.com/*", {"pattern": "c.example.com", "custom_domain": true}, {"pattern": "d.example.com/*", "zone_id": "z", "custom_domain": false}],
	"d1_databases": [{"binding": "D1"}],
	"r2_buckets": [{"binding": "R2", "bucket_name": "b"}],
	"kv_namespaces": [{"binding": "KV", "id": "x"}],
	"durable_objects": {"bindings": [{"name": "DO", "class_name": "C"}]},
	"services": [{"binding": "SVC", "service": "other"}],
	"queues": {"producers": [{"binding": "QP", "queue": "q"}], "consumers": [{"queue": "qc"}]},
	"hyperdrive": [{"binding": "HD", "id": "h"}],
	"vectorize": [{"binding": "VEC", "index_name": "i"}],
	"analytics_engine_datasets": [{"binding": "AE"}],
	"workflows": [{"binding": "WF", "name": "w", "class_name": "W"}],
	"dispatch_namespaces": [{"binding": "DISP", "namespace": "n"}],
	"mtls_certificates": [{"binding": "MTLS", "certificate_id": "c"}],
	"pipelines": [{"binding": "PIPE", "pipeline": "p"}],
	"secrets_store_secrets": [{"binding": "SEC", "store_id": "s", "secret_name": "n"}],
	"send_email": [{"name": "MAIL"}],
	"ratelimits": [{"name": "RL", "namespace_id": "1", "simple": {"limit": 1, "period": 60}}],
	"tail_consumers": [{"service": "tail"}],
	"streaming_tail_consumers": [{"service": "stail"}],
	"containers": [{"class_name": "Box", "image": "./Dockerfile"}],
	"ai_search_namespaces": [{"binding": "AISN", "namespace": "n"}],
	"ai_search": [{"binding": "AIS", "instance_name": "i"}],
	"agent_memory": [{"binding": "MEM", "namespace": "n"}],
	"artifacts": [{"binding": "ART", "namespace": "n"}],
	"flagship": [{"binding": "FLAG"}],
	"worker_loaders": [{"binding": "LOADER"}],
	"vpc_services": [{"binding": "VPCS", "service_id": "s"}],
	"vpc_networks": [{"binding": "VPCN", "network_id": "n"}],
	"unsafe_hello_world": [{"binding": "HELLO"}],
	"constellation": [{"binding": "CONST", "project_id": "p"}],
	"unsafe": {"bindings": [{"name": "UNSAFE", "type": "ratelimit"}]},
	"logfwdr": {"bindings": [{"name": "LOG", "destination": "d"}]},
	"ai": {"binding": "AI"},
	"browser": {"binding": "BROWSER"},
	"images": {"binding": "IMAGES"},
	"media": {"binding": "MEDIA"},
	"stream": {"binding": "STREAM"},
	"websearch": {"binding": "WEB"},
	"version_metadata": {"binding": "VERSION"},
	"assets": {"directory": "public", "binding": "ASSETS"},
	"vars": {"NOT_A_BINDING": "x"},
	"triggers": {"crons": ["* * * * *"]},
}`
	c := mustParse(t, "wrangler.jsonc", src)
	got := map[string]string{}
	for _, b := range c.Bindings() {
		got[b.Kind] += b.Name + " "
	}
	want := map[string]string{
		"route": "a.example.com/* ", "routes": "b.example.com/* d.example.com/* ", "custom_domains": "c.example.com ",
		"d1_databases": "D1 ", "r2_buckets": "R2 ", "kv_namespaces": "KV ", "durable_objects": "DO ",
		"services": "SVC ", "queues.producers": "QP ", "queues.consumers": "qc ", "hyperdrive": "HD ",
		"vectorize": "VEC ", "analytics_engine_datasets": "AE ", "workflows": "WF ", "dispatch_namespaces": "DISP ",
		"mtls_certificates": "MTLS ", "pipelines": "PIPE ", "secrets_store_secrets": "SEC ", "send_email": "MAIL ",
		"ratelimits": "RL ", "tail_consumers": "tail ", "streaming_tail_consumers": "stail ", "containers": "Box ",
		"ai_search_namespaces": "AISN ", "ai_search": "AIS ", "agent_memory": "MEM ", "artifacts": "ART ",
		"flagship": "FLAG ", "worker_loaders": "LOADER ", "vpc_services": "VPCS ", "vpc_networks": "VPCN ",
		"unsafe_hello_world": "HELLO ", "constellation": "CONST ", "unsafe.bindings": "UNSAFE ", "logfwdr": "LOG ",
		"ai": "AI ", "browser": "BROWSER ", "images": "IMAGES ", "media": "MEDIA ", "stream": "STREAM ",
		"websearch": "WEB ", "version_metadata": "VERSION ", "assets": "ASSETS ",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("kind %s: got %q, want %q", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected kind %s: %q", k, got[k])
		}
	}
	if len(BindingKinds()) != len(want) {
		t.Errorf("BindingKinds() has %d kinds, the test covers %d", len(BindingKinds()), len(want))
	}
	// An assets section without a binding binds nothing.
	c = mustParse(t, "wrangler.toml", "[assets]\ndirectory = \"public\"\n")
	if b := c.Bindings(); len(b) != 0 {
		t.Errorf("assets without binding: %v", b)
	}
}

func TestAddedBindings(t *testing.T) {
	base := mustParse(t, "wrangler.toml", envTOML)
	// staging gains a D1 database; a route moves from routes to route.
	head := mustParse(t, "wrangler.toml", strings.Replace(envTOML, `[[env.staging.kv_namespaces]]`,
		"[[env.staging.d1_databases]]\nbinding = \"DB\"\ndatabase_name = \"api-stage\"\n\n[[env.staging.kv_namespaces]]", 1))
	want := []Binding{{Env: "staging", Kind: "d1_databases", Name: "DB"}}
	if got := AddedBindings(base, head); !slices.Equal(got, want) {
		t.Errorf("AddedBindings = %v, want %v", got, want)
	}
	if got := AddedBindings(head, base); len(got) != 0 {
		t.Errorf("removing a binding is not an addition: %v", got)
	}
	if got := AddedBindings(nil, base); !slices.Equal(got, base.Bindings()) {
		t.Errorf("nil base: %v", got)
	}
	if got := AddedBindings(base, nil); got != nil {
		t.Errorf("nil head: %v", got)
	}

	a := mustParse(t, "wrangler.json", `{"name": "w", "route": "x.example.com/*"}`)
	b := mustParse(t, "wrangler.json", `{"name": "w", "routes": ["x.example.com/*"]}`)
	if got := AddedBindings(a, b); len(got) != 0 {
		t.Errorf("route -> routes is not new: %v", got)
	}
	// Turning a route into a custom domain is new exposure.
	cd := mustParse(t, "wrangler.json", `{"name": "w", "routes": [{"pattern": "x.example.com", "custom_domain": true}]}`)
	if got := AddedBindings(b, cd); !slices.Equal(got, []Binding{{Kind: "custom_domains", Name: "x.example.com"}}) {
		t.Errorf("custom domain: %v", got)
	}
	// A new environment brings its bindings (and inherited routes) as new.
	e := mustParse(t, "wrangler.json", `{"name": "w", "routes": ["x.example.com/*"], "env": {"dev": {"kv_namespaces": [{"binding": "KV"}]}}}`)
	want = []Binding{{Env: "dev", Kind: "routes", Name: "x.example.com/*"}, {Env: "dev", Kind: "kv_namespaces", Name: "KV"}}
	if got := AddedBindings(b, e); !slices.Equal(got, want) {
		t.Errorf("new env: %v, want %v", got, want)
	}
}

func TestSyntaxErrorsAreLocated(t *testing.T) {
	for _, tc := range []struct {
		path, src, want string
	}{
		// TOML: go-toml's own positions.
		{"wrangler.toml", "name = \"x\"\nmain = \n", "wrangler.toml:2:8: unexpected character U+000A at start of value"},
		{"wrangler.toml", "name = \"x\"\n[[d1_databases]\nbinding = \"DB\"\n", "wrangler.toml:2:15: expected ']]' to close array table name"},
		{"apps/api/wrangler.toml", "a = 1\nb = 2\na = 3\n", "apps/api/wrangler.toml:3:1: key a is already defined"},
		{"wrangler.toml", "name = \"unterminated\n", "wrangler.toml:1:21: basic strings cannot have new lines"},
		// JSONC: comments are fine, a missing comma is not.
		{"wrangler.jsonc", "{\n  // comment\n  \"name\": \"x\"\n  \"main\": \"y\"\n}\n", "wrangler.jsonc:4:3: invalid character '\"' after object value (expecting ',' or '}')"},
		{"wrangler.jsonc", "{\n\t\"name\": \"x\",\n\t\"d1_databases\": [\n\t\t{ \"binding\": \"DB\", },\n\t],\n}\n", ""}, // trailing commas: valid
		{"wrangler.jsonc", "{\n\t\"name\": \"x\" /* unterminated comment\n}\n", "wrangler.jsonc:2:14: parsing comment: unexpected EOF"},
		{"wrangler.json", "{\"name\": tru}", "wrangler.json:1:10: invalid literal: tru"},
		{"wrangler.json", "", "wrangler.json:1:1: parsing value: unexpected EOF"},
		{"wrangler.json", "[1, 2]", "wrangler.json:1:1: the configuration must be a JSON object"},
		{"wrangler.json", "{} {}", "wrangler.json:1:4: invalid character '{' after top-level value"},
		{"wrangler.json", "{\"a\": \"\\x\"}", `wrangler.json:1:7: invalid literal: "\x"`},
		{"wrangler.json", "{\"a\": 1e999,\n\"b\": 1e999}", ""}, // numbers stay json.Number: no float overflow
		{"wrangler.yaml", "name: x", "wrangler.yaml: unsupported wrangler configuration format (want .toml, .json or .jsonc)"},
	} {
		_, err := Parse(tc.path, []byte(tc.src))
		if tc.want == "" {
			if err != nil {
				t.Errorf("Parse(%q): unexpected error %v", tc.src, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("Parse(%q): no error, want %q", tc.src, tc.want)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("Parse(%q)\n error %q\n want  %q", tc.src, err, tc.want)
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("error %T is not *Error", err)
		} else if e.Msg == "" {
			t.Errorf("error without message: %v", err)
		}
	}
}

func TestTypeErrorsAreLocated(t *testing.T) {
	for _, tc := range []struct {
		path, src, want string
	}{
		{"wrangler.toml", "name = 5\n", `wrangler.toml:1:1: name: must be a string, not a number`},
		{"wrangler.toml", "name = \"x\"\n\n[[d1_databases]]\ndatabase_name = \"db\"\n", `wrangler.toml:3:3: d1_databases[0]: missing "binding"`},
		{"wrangler.toml", "[env.staging]\nname = \"s\"\n[[env.staging.d1_databases]]\nbinding = 7\n", `wrangler.toml:4:1: env.staging.d1_databases[0].binding: must be a string, not a number`},
		{"wrangler.toml", "kv_namespaces = { binding = \"KV\" }\n", `wrangler.toml:1:1: kv_namespaces: must be an array, not a table`},
		{"wrangler.toml", "routes = [\"a/*\", 3]\n", `wrangler.toml:1:18: routes[1]: must be a route pattern string or a table, not a number`},
		{"wrangler.toml", "[[queues.producers]]\nbinding = \"Q\"\n[[queues.producers]]\nqueue = \"q\"\n", `wrangler.toml:3:3: queues.producers[1]: missing "binding"`},
		{"wrangler.toml", "env = 3\n", `wrangler.toml:1:1: env: must be a table of environments, not a number`},
		{"wrangler.toml", "[env]\nstaging = \"x\"\n", `wrangler.toml:2:1: env.staging: must be a table, not a string`},
		{"wrangler.toml", "services = [\n  { binding = \"A\", service = \"a\" },\n  { service = \"b\" },\n]\n", `wrangler.toml:3:3: services[1]: missing "binding"`},
		{"wrangler.jsonc", "{\n  \"name\": \"x\",\n  \"env\": {\n    \"staging\": {\n      \"d1_databases\": [{\"binding\": 1}]\n    }\n  }\n}\n", `wrangler.jsonc:5:36: env.staging.d1_databases[0].binding: must be a string, not a number`},
		{"wrangler.json", "{\"env\": {\"\": {\"route\": []}}}", `wrangler.json:1:9: env: an environment name must not be empty`},
		{"wrangler.json", "{\"ai\": \"AI\"}", `wrangler.json:1:8: ai: must be a table, not a string`},
		{"wrangler.json", "{\"routes\": [{\"pattern\": \"x\", \"custom_domain\": \"yes\"}]}", `wrangler.json:1:47: routes[0].custom_domain: must be a boolean, not a string`},
		{"wrangler.json", "{\"durable_objects\": {\"bindings\": [{\"class_name\": \"C\"}]}}", `wrangler.json:1:35: durable_objects.bindings[0]: missing "name"`},
		{"wrangler.json", "{\"d1_databases\": [{\"binding\": \"DB\", \"migrations_dir\": false}]}", `wrangler.json:1:55: d1_databases[0].migrations_dir: must be a string, not a boolean`},
	} {
		_, err := Parse(tc.path, []byte(tc.src))
		if err == nil {
			t.Errorf("Parse(%q): no error, want %q", tc.src, tc.want)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("Parse(%q)\n error %q\n want  %q", tc.src, err, tc.want)
		}
	}
}

func TestBOMAndCRLF(t *testing.T) {
	c := mustParse(t, "wrangler.toml", "\xef\xbb\xbfname = \"w\"\r\n[[kv_namespaces]]\r\nbinding = \"KV\"\r\n")
	if c.Name != "w" || len(c.Bindings()) != 1 {
		t.Errorf("BOM/CRLF TOML: %q %v", c.Name, c.Bindings())
	}
	_, err := Parse("wrangler.jsonc", []byte("\xef\xbb\xbf{\r\n\"name\": x\r\n}"))
	if err == nil || !strings.HasPrefix(err.Error(), "wrangler.jsonc:2:9: ") {
		t.Errorf("BOM JSONC error = %v", err)
	}
}
