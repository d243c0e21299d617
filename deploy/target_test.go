package deploy

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gittest"
)

func TestResolveTarget(t *testing.T) {
	root := t.TempDir()
	gittest.WriteFile(t, filepath.Join(root, "wrangler.toml"), "name = \"api\"\naccount_id = \"acc-from-config\"\n[env.staging]\n[env.production]\nname = \"api-prod\"\n")
	gittest.WriteFile(t, filepath.Join(root, "workers", "cron", "wrangler.jsonc"), "{\n  // the cron worker\n  \"name\": \"cron\",\n}\n")
	cfg := config.Defaults()

	cases := []struct {
		config, env, account string
		worker, wantAccount  string
	}{
		{"", "", "", "api", "acc-from-config"},
		{"", "staging", "", "api-staging", "acc-from-config"},
		{"", "production", "acc-env", "api-prod", "acc-env"},
		{filepath.Join(root, "workers", "cron", "wrangler.jsonc"), "", "acc-env", "cron", "acc-env"},
		{"workers/cron/wrangler.jsonc", "", "acc-env", "cron", "acc-env"},
	}
	for _, c := range cases {
		tg, err := ResolveTarget(root, cfg, c.config, c.env, c.account)
		if err != nil {
			t.Errorf("%+v: %v", c, err)
			continue
		}
		if tg.Worker != c.worker || tg.Account != c.wantAccount || !filepath.IsAbs(tg.ConfigPath) {
			t.Errorf("%+v: got %+v", c, tg)
		}
	}

	bad := []struct{ config, env, account, msg string }{
		{"", "qa", "", `wrangler.toml has no environment "qa" (environments: production, staging)`},
		{"workers/cron/wrangler.jsonc", "", "", "no Cloudflare account ID"},
		{"missing.toml", "", "x", "no such file"},
	}
	for _, c := range bad {
		_, err := ResolveTarget(root, cfg, c.config, c.env, c.account)
		if err == nil || !strings.Contains(err.Error(), c.msg) || fail.KindOf(err) != fail.KindUsage {
			t.Errorf("%+v: got %v (kind %d)", c, err, fail.KindOf(err))
		}
	}
	if _, err := ResolveTarget(t.TempDir(), cfg, "", "", "x"); err == nil || !strings.Contains(err.Error(), "no wrangler configuration") {
		t.Errorf("empty root: %v", err)
	}
}
