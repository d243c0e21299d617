package config

import (
	"errors"
	"strings"
	"testing"
)

func TestDefaultsWithoutFile(t *testing.T) {
	c, err := Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if c.Remote != "origin" || c.Branch != "main" || !c.IsProtected("main") || c.IsProtected("feature/x") {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if c.Migrations.Dir != "" || len(c.Workers) != 0 || c.Rollback.RecordsDir != "docs/changes/emergency" || !c.EmergencySkips() {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestParseOverridesOnlyWhatIsSet(t *testing.T) {
	c, err := Parse("guard.toml", []byte(`
branch = "trunk"
protected = ["trunk", "release/*"]
[categories]
major = ["infra/**"]
[pre_push]
commands = ["bun run typecheck:all", "bun run test:all"]
emergency_skips_commands = false
[migrations.severity]
drop-index = "error"
[deploy]
verify = ["bun run compliance:dev"]
[[deploy.health]]
url = "https://example.com/health"
[[deploy.d1]]
binding = "DB"
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Remote != "origin" || c.Branch != "trunk" || !c.IsProtected("release/1.2") {
		t.Fatalf("got %+v", c)
	}
	if len(c.Categories.Standard) != 3 || c.Categories.Major[0] != "infra/**" {
		t.Fatalf("categories: %+v", c.Categories)
	}
	if c.EmergencySkips() || len(c.PrePush.Commands) != 2 {
		t.Fatalf("pre_push: %+v", c.PrePush)
	}
	if h := c.Deploy.Health[0]; h.Status != 200 || h.Retries == 0 || h.Timeout.Duration == 0 {
		t.Fatalf("health defaults not filled: %+v", h)
	}
	if c.Deploy.D1[0].Binding != "DB" || c.Migrations.Severity["drop-index"] != "error" {
		t.Fatalf("deploy: %+v", c.Deploy)
	}
}

func TestEvidenceKeys(t *testing.T) {
	c, err := Parse("guard.toml", []byte("[deploy]\nevidence = \"r2://audit-evidence/deploys\"\n[evidence]\nstore = \"r2://audit-evidence/guard\"\nretention = \"30d\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Deploy.Evidence != "r2://audit-evidence/deploys" || c.Evidence.Store != "r2://audit-evidence/guard" || c.Evidence.Retention.Hours() != 30*24 {
		t.Fatalf("evidence: %+v %+v", c.Deploy, c.Evidence)
	}
	if d := Defaults().Evidence.Retention.Hours(); d != 400*24 {
		t.Fatalf("default retention %v h", d)
	}
	out, err := c.Marshal()
	if err != nil || !strings.Contains(string(out), "retention = '30d'") {
		t.Fatalf("marshal: %s %v", out, err)
	}
}

func TestLocatedErrors(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"unknown key", "remote = \"origin\"\n[pre_push]\ncomands = []\n", "guard.toml:3:1: pre_push.comands: unknown key"},
		{"wrong type", "branch = 3\n", "guard.toml:1:"},
		{"bad severity", "[migrations.severity]\ndrop-table = \"fatal\"\n", "guard.toml:2:1: migrations.severity.drop-table: unknown severity"},
		{"bad glob", "[categories]\nmajor = [\"a/[\"]\n", "guard.toml:2:1: categories.major: invalid glob"},
		{"syntax", "remote = \n", "guard.toml:1:"},
		{"bad duration", "[deploy]\nfetch_timeout = \"soon\"\n", "guard.toml:2:"},
		{"unterminated quote", "[deploy]\nwrangler = \"'npx wrangler\"\n", "guard.toml:2:1: deploy.wrangler: unterminated"},
		{"retention without unit", "[evidence]\nretention = \"400\"\n", "guard.toml:2:"},
		{"retention as a number", "[evidence]\nretention = 400\n", "guard.toml:2:13: evidence.retention: must be a number of days like \"400d\""},
		{"bad bucket", "[deploy]\nevidence = \"r2://Audit_Evidence/x\"\n", "guard.toml:2:1: deploy.evidence: \"r2://Audit_Evidence/x\": the bucket name must be"},
		{"other scheme", "[evidence]\nstore = \"s3://bucket/x\"\n", "guard.toml:2:1: evidence.store: \"s3://bucket/x\": an evidence store is a folder or r2://BUCKET/PREFIX"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("guard.toml", []byte(tc.in))
			if err == nil {
				t.Fatal("no error")
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("not a located error: %T %v", err, err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("got %q, want prefix %q", err, tc.want)
			}
		})
	}
}

func TestWorkersEntries(t *testing.T) {
	c, err := Parse("guard.toml", []byte("[[workers]]\nconfig = \"./apps/kv/wrangler.kv.toml\"\n[[workers]]\nconfig = \"wrangler.staging.json\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Workers) != 2 || c.Workers[0].Config != "apps/kv/wrangler.kv.toml" || c.Workers[1].Config != "wrangler.staging.json" {
		t.Fatalf("workers = %+v", c.Workers)
	}
	for _, tc := range []struct{ body, want string }{
		{"[[workers]]\nconfig = \"../other/wrangler.toml\"\n", `guard.toml:1:1: workers: entry 1: config must be a path inside the repository, not "../other/wrangler.toml"`},
		{"[[workers]]\nconfig = \"wrangler.yaml\"\n", `guard.toml:1:1: workers: entry 1: config "wrangler.yaml" is not a .toml, .json or .jsonc file`},
		{"[[workers]]\nconfg = \"wrangler.kv.toml\"\n", `guard.toml:2:1: workers.confg: unknown key "confg"`},
		{"[migrations]\ndir = \"/abs/migrations\"\n", `guard.toml:2:1: migrations.dir: must be a folder inside the repository, not "/abs/migrations"`},
	} {
		_, err := Parse("guard.toml", []byte(tc.body))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: err = %v, want %s", tc.body, err, tc.want)
		}
	}
}

func TestMigrationsBaseline(t *testing.T) {
	c, err := Parse("guard.toml", []byte("[migrations]\nbaseline = [\"sql/schema.sql\"]\n[migrations.baseline_for]\n\"apps/api/migrations\" = [\"apps/api/schema.sql\", \"apps/api/seed.sql\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Migrations.BaselineOf("migrations"); len(got) != 1 || got[0] != "sql/schema.sql" {
		t.Errorf("BaselineOf(migrations) = %v", got)
	}
	if got := c.Migrations.BaselineOf("apps/api/migrations"); len(got) != 2 || got[1] != "apps/api/seed.sql" {
		t.Errorf("BaselineOf(apps/api/migrations) = %v", got)
	}
	for _, tc := range []struct{ body, want string }{
		{"[migrations]\nbaseline = [\"../schema.sql\"]\n", `guard.toml:2:1: migrations.baseline: must list .sql files inside the repository, not "../schema.sql"`},
		{"[migrations]\nbaseline = [\"schema.txt\"]\n", `guard.toml:2:1: migrations.baseline: must list .sql files inside the repository, not "schema.txt"`},
	} {
		_, err := Parse("guard.toml", []byte(tc.body))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: err = %v, want %s", tc.body, err, tc.want)
		}
	}
}

func TestDeployD1Config(t *testing.T) {
	c, err := Parse("guard.toml", []byte("[[deploy.d1]]\nbinding = \"DB\"\nconfig = \"./apps/api/wrangler.toml\"\n"))
	if err != nil || c.Deploy.D1[0].Config != "apps/api/wrangler.toml" {
		t.Fatalf("%+v %v", c, err)
	}
	_, err = Parse("guard.toml", []byte("[[deploy.d1]]\nbinding = \"DB\"\nconfig = \"../x/wrangler.toml\"\n"))
	if err == nil || !strings.Contains(err.Error(), "deploy.d1: entry 1: config must be a path inside the repository") {
		t.Errorf("outside: %v", err)
	}
}
