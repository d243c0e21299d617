package deploy

import (
	"bytes"
	"context"
	"github.com/guardcm/guard/internal/gitx"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/cfemu"
	"github.com/guardcm/guard/internal/gittest"
	"github.com/guardcm/guard/internal/wrangler"
	"github.com/guardcm/guard/internal/wrangler/wranglertest"
)

// BenchmarkPristineDeploy puts the real wrangler's deploy beside a whole
// guard deploy of the same worker with the real wrangler, in one run:
// "wrangler-alone" runs `wrangler deploy` in the project; "guard-deploy"
// runs guard deploy (fetch, team lock, pristine checkout, dependencies from
// the warm cache — the project pins wrangler in its lockfile, as a Worker
// project does —, bundle hash, confirmation, ledger, notes) and reports
// guard's own time around wrangler (guard-ms/op: Timing.Own, cleanup
// included). Goal:
// guard-ms/op <= 1000.
func BenchmarkPristineDeploy(b *testing.B) {
	pinned := wranglertest.Require(b)
	root, err := wranglertest.ModuleRoot()
	if err != nil {
		b.Fatal(err)
	}
	userHome := os.Getenv("HOME")
	gitEnv(b)
	// npm may answer the cold install from the user's cache.
	b.Setenv("npm_config_cache", filepath.Join(userHome, ".npm"))
	b.Setenv("npm_config_prefer_offline", "true")
	b.Setenv("WRANGLER_SEND_METRICS", "false")
	b.Setenv("WRANGLER_HIDE_BANNER", "true")

	work, _ := cloneWithRemote(b)
	for _, f := range []string{"package.json", "package-lock.json"} {
		data, err := os.ReadFile(filepath.Join(root, "tools", "wrangler", f))
		if err != nil {
			b.Fatal(err)
		}
		gittest.WriteFile(b, filepath.Join(work, f), string(data))
	}
	gittest.WriteFile(b, filepath.Join(work, "wrangler.toml"), "name = \"api\"\nmain = \"src/index.js\"\ncompatibility_date = \"2025-01-01\"\nworkers_dev = true\n")
	gittest.Git(b, work, "add", "-A")
	gittest.Git(b, work, "commit", "--quiet", "-m", "worker\n\nChange-Category: normal")
	gittest.Git(b, work, "push", "--quiet", "origin", "main")

	emu := cfemu.New(cfemu.WithToken("bench-token"))
	srv := httptest.NewServer(emu)
	defer srv.Close()
	base := srv.URL + cfemu.APIPrefix
	b.Setenv("CLOUDFLARE_API_BASE_URL", base)
	b.Setenv("CLOUDFLARE_BASE_URL", base)

	ctx := context.Background()
	repo := openRepo(b, work)
	deploy := func() *Result {
		var stderr bytes.Buffer
		res, err := Run(ctx, Options{
			Repo: repo, Config: config.Defaults(),
			Token: "bench-token", AccountID: cfemu.DefaultAccountID,
			APIOptions: []cfapi.Option{cfapi.WithBaseURL(base)},
			Stdout:     io.Discard, Stderr: &stderr,
		})
		if err != nil {
			b.Fatalf("deploy: %v\n%s", err, stderr.String())
		}
		return res
	}
	// The first deploy installs the dependencies into the cache.
	deploy()

	b.Run("wrangler-alone", func(b *testing.B) {
		project := wranglertest.Project(b, "api", "")
		r := wrangler.ForAccount([]string{pinned}, project, "bench-token", cfemu.DefaultAccountID, io.Discard, io.Discard)
		for b.Loop() {
			if _, err := r.Deploy(ctx, wrangler.DeployArgs{Config: filepath.Join(project, "wrangler.toml"), Message: "m", Tag: "t"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("guard-deploy", func(b *testing.B) {
		var own, wr time.Duration
		for b.Loop() {
			gitx.ForgetFixedAnswers() // each deploy is a fresh command
			res := deploy()
			own += res.Timing.Own()
			wr += res.Timing.Wrangler
		}
		n := float64(b.N)
		b.ReportMetric(float64(own.Microseconds())/n/1000, "guard-ms/op")
		b.ReportMetric(float64(wr.Microseconds())/n/1000, "wrangler-ms/op")
	})
}
