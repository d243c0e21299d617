package main

import (
	"bytes"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/guardcm/guard/internal/benchrepo"
	"github.com/guardcm/guard/internal/cfemu"
	"github.com/guardcm/guard/internal/gittest"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/ledger"
)

// BenchmarkRollbackToWrangler measures guard rollback's own time during an
// incident: from the command's start (Main) to the moment wrangler starts
// (issue 5's goal: at most 300 ms), against the Cloudflare API emulator on
// loopback. Everything guard does before wrangler is real: configuration,
// lock, the notes fetch from a bare remote, the API's deployments and
// versions, the ledger join, the target choice, the plan with the D1
// migration check (a drop-column between target and serving commits, so
// SQLite replays), the pending ledger record. Only here wrangler is a
// stand-in that records when it started and exits at once, so its own
// start-up (about a second of node) does not hide guard's. The reported
// metrics are the mean (ms-to-wrangler/op), median, 95th percentile and
// maximum; ns/op also includes the failure path after the stand-in exits.
//
// Run: go test ./cmd/guard -run '^$' -bench RollbackToWrangler -benchtime 20x
func BenchmarkRollbackToWrangler(b *testing.B) {
	root := b.TempDir()
	// Main's -C changes this process's directory into the fixture, which
	// is removed once this run of the benchmark ends: the next run (the
	// testing package calls the function again with a larger b.N) must
	// not start inside a deleted folder.
	b.Chdir(root)
	// The stand-in wrangler: it notes when it started, then fails.
	stamp := filepath.Join(root, "wrangler-started")
	standIn := filepath.Join(root, "fake-wrangler")
	fixtureFile(b, standIn, "#!/bin/bash\necho \"$EPOCHREALTIME\" > \"$GUARD_BENCH_STAMP\"\nexit 1\n")
	if err := os.Chmod(standIn, 0o755); err != nil {
		b.Fatal(err)
	}
	b.Setenv("GUARD_BENCH_STAMP", stamp)
	repo, _, good := rollbackFixture(b, standIn)

	var total time.Duration
	var all []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = os.Remove(stamp)
		gitx.ForgetFixedAnswers() // each run is a fresh command
		var stdout, stderr bytes.Buffer
		start := time.Now()
		code := Main([]string{"-C", repo, "rollback", "--yes", "--reason", "bench"}, strings.NewReader(""), &stdout, &stderr)
		if code != 3 {
			b.Fatalf("guard rollback exited %d, want 3 (the stand-in wrangler fails)\n%s%s", code, stdout.String(), stderr.String())
		}
		if !strings.Contains(stdout.String(), "to    version "+good) || !strings.Contains(stdout.String(), "error drop-column") {
			b.Fatalf("unexpected plan:\n%s", stdout.String())
		}
		data, err := os.ReadFile(stamp)
		if err != nil {
			b.Fatalf("the stand-in wrangler did not run: %v\n%s", err, stderr.String())
		}
		secs, err := strconv.ParseFloat(strings.TrimSpace(string(data)), 64)
		if err != nil {
			b.Fatalf("stamp %q: %v", data, err)
		}
		started := time.Unix(0, int64(secs*1e9))
		d := started.Sub(start)
		total += d
		all = append(all, d)
	}
	b.StopTimer()
	slices.Sort(all)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(total)/float64(b.N), "ms-to-wrangler/op")
	b.ReportMetric(ms(all[len(all)/2]), "p50-ms")
	b.ReportMetric(ms(all[(len(all)*95)/100]), "p95-ms")
	b.ReportMetric(ms(all[len(all)-1]), "max-ms")
}

// rollbackFixture builds what the rollback benchmark and the terminal
// test run against: a repository with three commits (the second drops a
// column) pushed to a bare remote, and the emulator (env pointed at it)
// holding the worker's history — v1 deployed and verified good, 40
// uploaded versions, v2 deployed and verified bad, v3 serving — with
// guard's records of it in the ledger. wranglerCmd is [deploy] wrangler.
// It returns the repository, the emulator and v1's version ID.
func rollbackFixture(tb testing.TB, wranglerCmd string) (string, *cfemu.Emulator, string) {
	tb.Helper()
	// guard runs in this process: it and the git it starts get the
	// benchmarks' identity (the commits below also their fixed date).
	home := gittest.Isolate(tb, gittest.Options{Author: benchrepo.Options.Author})
	root := tb.TempDir()
	repo := filepath.Join(root, "repo")
	remote := filepath.Join(root, "remote.git")
	for _, d := range []string{repo, filepath.Join(repo, "migrations"), filepath.Join(repo, "src")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	env := benchrepo.Env(home)
	benchrepo.Git(tb, env, root, "init", "-q", "--bare", remote)
	benchrepo.Git(tb, env, repo, "init", "-q")
	benchrepo.Git(tb, env, repo, "remote", "add", "origin", remote)

	fixtureFile(tb, filepath.Join(repo, "guard.toml"), "[deploy]\nwrangler = \""+wranglerCmd+"\"\n")
	fixtureFile(tb, filepath.Join(repo, "wrangler.toml"), "name = \"api\"\nmain = \"src/index.js\"\ncompatibility_date = \"2025-01-01\"\n\n"+
		"[[d1_databases]]\nbinding = \"DB\"\ndatabase_name = \"app\"\ndatabase_id = \"11111111-2222-4333-8444-555555555555\"\n")
	commit := func(msg string, files map[string]string) string {
		for p, c := range files {
			fixtureFile(tb, filepath.Join(repo, p), c)
		}
		benchrepo.Git(tb, env, repo, "add", "-A")
		benchrepo.Git(tb, env, repo, "commit", "-q", "-m", msg, "-m", "Change-Category: normal")
		return benchrepo.Git(tb, env, repo, "rev-parse", "HEAD")
	}
	c1 := commit("Add the api worker", map[string]string{
		"src/index.js":             "export default { fetch() { return new Response('v1'); } };\n",
		"migrations/0001_init.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, legacy TEXT);\nCREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id), total INTEGER);\n",
	})
	c2 := commit("Drop the legacy column", map[string]string{
		"src/index.js":                    "export default { fetch() { return new Response('v2'); } };\n",
		"migrations/0002_drop_legacy.sql": "ALTER TABLE users DROP COLUMN legacy;\n",
	})
	c3 := commit("Index emails", map[string]string{
		"src/index.js":                    "export default { fetch() { return new Response('v3'); } };\n",
		"migrations/0003_email_index.sql": "CREATE INDEX users_email ON users (email);\n",
	})
	benchrepo.Git(tb, env, repo, "push", "-q", "origin", "main")

	// The worker's history: v1 verified good, v2 bad, v3 serving; 40
	// uploaded versions in between so the version list takes a real page.
	token, account := "bench-token", cfemu.DefaultAccountID
	emu := cfemu.New(cfemu.WithToken(token))
	srv := httptest.NewServer(emu)
	tb.Cleanup(srv.Close)
	base := srv.URL + cfemu.APIPrefix
	tb.Setenv("CLOUDFLARE_API_TOKEN", token)
	tb.Setenv("CLOUDFLARE_ACCOUNT_ID", account)
	tb.Setenv("CLOUDFLARE_BASE_URL", base)
	tb.Setenv("CLOUDFLARE_API_BASE_URL", base)
	tb.Setenv("GUARD_NOW", "")

	led := ledger.Open(filepath.Join(repo, ".git", "guard", "ledger.jsonl"))
	deployVersion := func(commit, verified string) string {
		// guard's annotation, which the trust rules look for.
		message := "deploy [guard " + commit[:12] + " normal]"
		v, err := emu.UploadVersion(account, "api", map[string]string{"workers/tag": commit, "workers/message": message})
		if err != nil {
			tb.Fatal(err)
		}
		// The first upload creates the worker and deploys it; later ones
		// are deployed explicitly.
		ds := emu.Snapshot().Accounts[account].Scripts["api"].Deployments
		dep := ds[len(ds)-1].ID
		if ds[len(ds)-1].Versions[0].VersionID != v {
			if dep, err = emu.Deploy(account, "api", message, cfemu.DeploymentVersion{VersionID: v, Percentage: 100}); err != nil {
				tb.Fatal(err)
			}
		}
		if _, err := led.Append(ledger.Record{Kind: ledger.KindDeploy, Status: ledger.StatusSucceeded, Worker: "api", Account: account,
			Commit: commit, VersionID: v, DeploymentID: dep, Verified: verified, Operator: "bench@example.com"}); err != nil {
			tb.Fatal(err)
		}
		return v
	}
	good := deployVersion(c1, ledger.VerifiedGood)
	for i := 0; i < 40; i++ {
		if _, err := emu.UploadVersion(account, "api", map[string]string{"workers/tag": c2}); err != nil {
			tb.Fatal(err)
		}
	}
	deployVersion(c2, ledger.VerifiedBad)
	deployVersion(c3, ledger.VerifiedUnverified)

	return repo, emu, good
}

func fixtureFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}
