package wrangler

// End-to-end tests: the real wrangler pinned in tools/wrangler against the
// Cloudflare API emulator on loopback. They fail (never skip) when the
// pinned wrangler is not installed.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/cfemu"
	"github.com/guardcm/guard/internal/wrangler/wranglertest"
)

const (
	sentinel = "SENTINEL-TOKEN-5f1e"
	account  = cfemu.DefaultAccountID
	d1ID     = "7c0d1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
)

type e2e struct {
	emu            *cfemu.Emulator
	base           string
	dir            string
	runner         *Runner
	stdout, stderr *bytes.Buffer
	api            *cfapi.Client
}

func newE2E(t *testing.T, name, extraTOML string) *e2e {
	t.Helper()
	bin := wranglertest.Require(t)
	emu := cfemu.New(cfemu.WithToken(sentinel), cfemu.WithD1Database(account, d1ID, "appdb"))
	base, stop, err := emu.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop() })
	x := &e2e{emu: emu, base: base, dir: wranglertest.Project(t, name, extraTOML), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	x.runner = &Runner{
		Command: []string{bin},
		Dir:     x.dir,
		Env:     wranglertest.Env(t, base, sentinel, account),
		Stdout:  x.stdout,
		Stderr:  x.stderr,
	}
	x.api = cfapi.New(sentinel, account, cfapi.WithBaseURL(base), cfapi.WithRetries(0))
	t.Cleanup(func() { x.assertNoSentinel(t) })
	return x
}

// assertNoSentinel checks everything wrangler printed through the runner,
// the emulator's request log and the project directory for the token.
func (x *e2e) assertNoSentinel(t *testing.T) {
	t.Helper()
	for what, s := range map[string]string{"stdout": x.stdout.String(), "stderr": x.stderr.String()} {
		if strings.Contains(s, sentinel) {
			t.Errorf("the API token appears in wrangler's %s", what)
		}
	}
	reqs, _ := json.Marshal(x.emu.Requests())
	if bytes.Contains(reqs, []byte(sentinel)) {
		t.Error("the API token appears in the emulator's request log")
	}
	filepath.WalkDir(x.dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(sentinel)) {
			t.Errorf("the API token was written to %s", p)
		}
		return nil
	})
}

func TestE2EDeployRollback(t *testing.T) {
	x := newE2E(t, "hello", "")
	ctx := context.Background()

	v, err := x.runner.CheckVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v.String() != "4.86.0" {
		t.Fatalf("pinned wrangler reports %s, want 4.86.0", v)
	}

	const (
		sha1 = "1111111111111111111111111111111111111111"
		sha2 = "2222222222222222222222222222222222222222"
		msg1 = "feat: first [guard 1111111 normal]"
		msg2 = "-fix: second starts with a dash [guard 2222222 normal]"
	)
	start := time.Now()
	d1, err := x.runner.Deploy(ctx, DeployArgs{Message: msg1, Tag: sha1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first deploy (new worker) took %v", time.Since(start))
	if d1.VersionID == "" || d1.WorkerName != "hello" || d1.WorkerTag != "" || len(d1.Targets) != 1 || !strings.Contains(d1.Targets[0], "hello.") {
		t.Fatalf("first deploy result = %+v", d1)
	}
	if !strings.Contains(x.stdout.String(), "Current Version ID: "+d1.VersionID) {
		t.Fatalf("wrangler's output was not streamed: %q", x.stdout.String())
	}

	wranglertest.WriteCode(t, x.dir, "v2")
	start = time.Now()
	d2, err := x.runner.Deploy(ctx, DeployArgs{Message: msg2, Tag: sha2})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second deploy (existing worker) took %v", time.Since(start))
	if d2.VersionID == "" || d2.VersionID == d1.VersionID || d2.WorkerTag == "" {
		t.Fatalf("second deploy result = %+v", d2)
	}

	// wrangler's own listings agree with what the emulator recorded.
	res, err := x.runner.run(ctx, "wrangler versions list", append([]string{"versions", "list", "--json"}, common("", "")...)...)
	if err != nil {
		t.Fatal(err)
	}
	var versions []struct {
		ID          string            `json:"id"`
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &versions); err != nil {
		t.Fatalf("versions list --json: %v\n%s", err, res.stdout)
	}
	if len(versions) != 2 {
		t.Fatalf("versions list: %d versions", len(versions))
	}
	tags := map[string]string{}
	for _, v := range versions {
		tags[v.ID] = v.Annotations["workers/tag"]
	}
	if tags[d1.VersionID] != sha1 || tags[d2.VersionID] != sha2 {
		t.Fatalf("versions list tags = %v", tags)
	}
	res, err = x.runner.run(ctx, "wrangler deployments list", append([]string{"deployments", "list", "--json"}, common("", "")...)...)
	if err != nil {
		t.Fatal(err)
	}
	var deps []struct {
		ID       string `json:"id"`
		Versions []struct {
			VersionID  string  `json:"version_id"`
			Percentage float64 `json:"percentage"`
		} `json:"versions"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &deps); err != nil {
		t.Fatalf("deployments list --json: %v\n%s", err, res.stdout)
	}
	if len(deps) != 2 || deps[1].Versions[0].VersionID != d2.VersionID {
		t.Fatalf("deployments list = %+v", deps)
	}

	longReason := "incident 42: " + strings.Repeat("x", 200)
	start = time.Now()
	back, err := x.runner.Rollback(ctx, RollbackArgs{VersionID: d1.VersionID, Message: longReason})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rollback took %v", time.Since(start))
	if back != d1.VersionID {
		t.Fatalf("rollback reports %s, want %s", back, d1.VersionID)
	}

	// The API now serves version 1 at 100%, with guard's annotations.
	latest, err := x.api.LatestDeployment(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if !latest.Serves(d1.VersionID) {
		t.Fatalf("latest deployment serves %+v, want %s at 100%%", latest.Versions, d1.VersionID)
	}
	if latest.TriggeredBy != "rollback" || latest.Message != TruncateMessage(longReason, MaxRollbackMessage) || len(latest.Message) != MaxRollbackMessage {
		t.Fatalf("rollback deployment = %+v", latest)
	}
	ver, err := x.api.Version(ctx, "hello", d1.VersionID)
	if err != nil {
		t.Fatal(err)
	}
	if ver.Tag != sha1 || ver.Message != msg1 {
		t.Fatalf("version 1 annotations: tag %q message %q", ver.Tag, ver.Message)
	}
	ds, err := x.api.Deployments(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 3 || ds[1].Message != msg2 || !ds[1].Serves(d2.VersionID) {
		t.Fatalf("deployments = %+v", ds)
	}
}

func TestE2EEnvironments(t *testing.T) {
	x := newE2E(t, "hello", "\n[env.staging]\n\n[env.preview]\nname = \"hello-preview-custom\"\n")
	ctx := context.Background()
	d, err := x.runner.Deploy(ctx, DeployArgs{Env: "staging", Message: "m", Tag: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if d.WorkerName != "hello-staging" {
		t.Fatalf("--env staging deployed %q, want hello-staging", d.WorkerName)
	}
	d, err = x.runner.Deploy(ctx, DeployArgs{Env: "preview"})
	if err != nil {
		t.Fatal(err)
	}
	if d.WorkerName != "hello-preview-custom" {
		t.Fatalf("--env preview deployed %q, want the env's own name", d.WorkerName)
	}
	// An empty Env is the top level even when the caller's environment
	// names another one.
	x.runner.Env = append(x.runner.Env, "CLOUDFLARE_ENV=staging")
	d, err = x.runner.Deploy(ctx, DeployArgs{})
	if err != nil {
		t.Fatal(err)
	}
	if d.WorkerName != "hello" {
		t.Fatalf("top-level deploy went to %q", d.WorkerName)
	}
	scripts := x.emu.Snapshot().Accounts[account].Scripts
	for _, n := range []string{"hello", "hello-staging", "hello-preview-custom"} {
		if scripts[n] == nil || len(scripts[n].Deployments) != 1 {
			t.Errorf("worker %s not deployed exactly once", n)
		}
	}
	if len(scripts) != 3 {
		t.Errorf("%d workers, want 3", len(scripts))
	}
}

func TestE2EUploadFault(t *testing.T) {
	x := newE2E(t, "hello", "")
	ctx := context.Background()
	// A 5xx on the upload, both for a new worker (PUT) and for an existing
	// one (POST versions); its message echoes the token, which must be
	// scrubbed from everything guard keeps or shows.
	for _, f := range []cfemu.Fault{
		{Method: "PUT", Path: "/accounts/*/workers/scripts/*", Status: 503, Message: "upstream busy (token " + sentinel + ")"},
		{Method: "POST", Path: "/accounts/*/workers/scripts/*/versions", Status: 503, Message: "upstream busy (token " + sentinel + ")"},
	} {
		if err := x.emu.AddFault(f); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	_, err := x.runner.Deploy(ctx, DeployArgs{Message: "m", Tag: "t"})
	t.Logf("failing deploy (wrangler retries the upload) took %v", time.Since(start))
	var we *Error
	if !errors.As(err, &we) {
		t.Fatalf("deploy against a failing upload: %v", err)
	}
	if we.ExitCode != 1 || !strings.Contains(we.Message, "[code: 10013]") || !strings.Contains(we.Message, "upstream busy") {
		t.Fatalf("error = %+v", we)
	}
	if strings.Contains(err.Error(), sentinel) || strings.Contains(we.Stderr, sentinel) || !strings.Contains(err.Error(), "[REDACTED]") {
		t.Fatalf("token not scrubbed from the error: %v", err)
	}
	if we.LogDir == "" {
		t.Fatal("failed run kept no log directory")
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(we.LogDir)) })
	if logs, _ := os.ReadDir(we.LogDir); len(logs) == 0 {
		t.Fatalf("no wrangler log in %s", we.LogDir)
	}
	uploads := 0
	for _, r := range x.emu.Requests() {
		if r.Method == "PUT" && r.Status == 503 {
			uploads++
		}
	}
	if uploads < 2 {
		t.Fatalf("wrangler tried the upload %d times", uploads)
	}
	if x.emu.Snapshot().Accounts[account] != nil && len(x.emu.Snapshot().Accounts[account].Scripts) != 0 {
		t.Fatal("a worker was created despite the failing upload")
	}
}

func TestE2EUnauthorized(t *testing.T) {
	x := newE2E(t, "hello", "")
	x.runner.Env = append(x.runner.Env, "CLOUDFLARE_API_TOKEN=wrong-token-0000")
	_, err := x.runner.Deploy(context.Background(), DeployArgs{})
	var we *Error
	if !errors.As(err, &we) || !strings.Contains(we.Message, "[code: 10000]") {
		t.Fatalf("deploy with a refused token: %v", err)
	}
	if strings.Contains(err.Error()+x.stderr.String()+x.stdout.String(), "wrong-token-0000") {
		t.Fatal("the refused token appears in the output")
	}
}

func TestE2ECanceled(t *testing.T) {
	x := newE2E(t, "hello", "")
	x.emu.AddFault(cfemu.Fault{Path: "/**", Delay: cfemu.Duration(20 * time.Second)})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	_, err := x.runner.Deploy(ctx, DeployArgs{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deploy past its deadline: %v", err)
	}
	var we *Error
	if !errors.As(err, &we) || we.ExitCode != -1 {
		t.Fatalf("error = %#v", err)
	}
	// The process group is killed at the deadline: no wait for WaitDelay.
	if d := time.Since(start); d > 4500*time.Millisecond {
		t.Fatalf("deploy returned %v after start, deadline was 3s", d)
	}
}

func TestE2ED1MigrationsApply(t *testing.T) {
	x := newE2E(t, "hello", "\n[[d1_databases]]\nbinding = \"DB\"\ndatabase_name = \"appdb\"\ndatabase_id = \""+d1ID+"\"\n")
	ctx := context.Background()
	mig := filepath.Join(x.dir, "migrations")
	os.MkdirAll(mig, 0o755)
	os.WriteFile(filepath.Join(mig, "0001_users.sql"), []byte("-- Migration number: 0001\nCREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);\n"), 0o644)
	os.WriteFile(filepath.Join(mig, "0002_names.sql"), []byte("-- Migration number: 0002\nALTER TABLE users ADD COLUMN name TEXT;\nCREATE INDEX users_email ON users(email);\n"), 0o644)

	if err := x.runner.D1MigrationsApply(ctx, D1Args{Database: "DB", Remote: true}); err != nil {
		t.Fatal(err)
	}
	if got := appliedMigrations(t, x); got != "0001_users.sql,0002_names.sql" {
		t.Fatalf("applied = %s", got)
	}
	// Applying again is a no-op.
	if err := x.runner.D1MigrationsApply(ctx, D1Args{Database: "appdb", Remote: true}); err != nil {
		t.Fatal(err)
	}

	os.WriteFile(filepath.Join(mig, "0003_broken.sql"), []byte("CREATE TABLE broken (id INTEGER PRIMARY KEY,;\n"), 0o644)
	err := x.runner.D1MigrationsApply(ctx, D1Args{Database: "DB", Remote: true})
	var we *Error
	if !errors.As(err, &we) || we.ExitCode != 1 || !strings.Contains(we.Message, "0003_broken.sql") || !strings.Contains(we.Message, "[code: 7500]") {
		t.Fatalf("broken migration: %v", err)
	}
	if we.LogDir != "" {
		t.Cleanup(func() { os.RemoveAll(filepath.Dir(we.LogDir)) })
	}
	if got := appliedMigrations(t, x); got != "0001_users.sql,0002_names.sql" {
		t.Fatalf("after the broken file, applied = %s", got)
	}

	// Remote D1 refuses transactions that local SQLite would accept.
	os.Remove(filepath.Join(mig, "0003_broken.sql"))
	os.WriteFile(filepath.Join(mig, "0003_tx.sql"), []byte("BEGIN TRANSACTION;\nCREATE TABLE t (x);\nCOMMIT;\n"), 0o644)
	if err := x.runner.D1MigrationsApply(ctx, D1Args{Database: "DB", Remote: true}); err == nil || !strings.Contains(err.Error(), "BEGIN TRANSACTION") {
		t.Fatalf("migration with BEGIN TRANSACTION: %v", err)
	}
}

// appliedMigrations reads d1_migrations through the emulator's D1 API.
func appliedMigrations(t *testing.T, x *e2e) string {
	t.Helper()
	body := strings.NewReader(`{"sql":"SELECT group_concat(name, ',') AS names FROM (SELECT name FROM d1_migrations ORDER BY id)"}`)
	req, _ := http.NewRequest("POST", x.base+"/accounts/"+account+"/d1/database/"+d1ID+"/query", body)
	req.Header.Set("Authorization", "Bearer "+sentinel)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Result []struct {
			Results []struct {
				Names string `json:"names"`
			} `json:"results"`
		} `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || len(env.Result) != 1 || len(env.Result[0].Results) != 1 {
		t.Fatalf("d1_migrations query: %v %+v", err, env)
	}
	return env.Result[0].Results[0].Names
}

// BenchmarkDeploy measures one `wrangler deploy` of an existing worker
// through Runner against the emulator: wrangler's own wall time plus guard's
// wrapping.
func BenchmarkDeploy(b *testing.B) {
	bin := wranglertest.Require(b)
	emu := cfemu.New()
	base, stop, err := emu.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	r := &Runner{Command: []string{bin}, Dir: wranglertest.Project(b, "bench", ""), Env: wranglertest.Env(b, base, "bench-token", account)}
	ctx := context.Background()
	if _, err := r.Deploy(ctx, DeployArgs{}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.Deploy(ctx, DeployArgs{Message: "bench", Tag: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestE2EAccountFromMemberships(t *testing.T) {
	x := newE2E(t, "hello", "")
	// Without CLOUDFLARE_ACCOUNT_ID wrangler asks GET /memberships.
	x.runner.Env = append(x.runner.Env, "CLOUDFLARE_ACCOUNT_ID=")
	d, err := x.runner.Deploy(context.Background(), DeployArgs{})
	if err != nil {
		t.Fatal(err)
	}
	asked := false
	for _, r := range x.emu.Requests() {
		if r.Path == cfemu.APIPrefix+"/memberships" && r.Status == 200 {
			asked = true
		}
	}
	if !asked {
		t.Fatal("wrangler did not look the account up")
	}
	if s := x.emu.Snapshot().Accounts[account].Scripts["hello"]; s == nil || s.Versions[0].ID != d.VersionID {
		t.Fatal("the worker was not deployed to the membership's account")
	}
}

// TestE2EGradual drives the gradual flow with the real wrangler: a version
// uploaded without traffic, split deployments at each step, the edge
// serving by percentage and by the version-override header, then the new
// version alone.
func TestE2EGradual(t *testing.T) {
	x := newE2E(t, "hello", "")
	ctx := context.Background()
	d1, err := x.runner.Deploy(ctx, DeployArgs{Message: "first", Tag: "1111111111111111111111111111111111111111"})
	if err != nil {
		t.Fatal(err)
	}
	old := d1.VersionID
	wranglertest.WriteCode(t, x.dir, "v2")
	const sha2 = "2222222222222222222222222222222222222222"
	up, err := x.runner.VersionsUpload(ctx, DeployArgs{Message: "-second [guard 2222222 normal]", Tag: sha2})
	if err != nil {
		t.Fatal(err)
	}
	if up.VersionID == "" || up.VersionID == old || up.WorkerName != "hello" {
		t.Fatalf("upload = %+v", up)
	}
	v, err := x.api.Version(ctx, "hello", up.VersionID)
	if err != nil || v.Tag != sha2 || v.Message != "-second [guard 2222222 normal]" {
		t.Fatalf("uploaded version = %+v, %v", v, err)
	}
	if cur, err := x.api.LatestDeployment(ctx, "hello"); err != nil || !cur.Serves(old) {
		t.Fatalf("an upload changed the deployment: %+v %v", cur, err)
	}

	for _, p := range []float64{0, 12.5, 50} {
		depID, err := x.runner.VersionsDeploy(ctx, VersionsDeployArgs{
			Shares: []Share{{up.VersionID, p}, {old, 100 - p}}, Message: "guard rollout step",
		})
		if err != nil {
			t.Fatalf("step %g%%: %v", p, err)
		}
		cur, err := x.api.LatestDeployment(ctx, "hello")
		if err != nil {
			t.Fatal(err)
		}
		if depID == "" || cur.ID != depID || len(cur.Versions) != 2 || cur.Versions[0].VersionID != up.VersionID || cur.Versions[0].Percentage != p || cur.Versions[1].Percentage != 100-p {
			t.Fatalf("step %g%%: deployment %q, API %+v", p, depID, cur)
		}
		if cur.Message != "guard rollout step" {
			t.Fatalf("deployment message %q", cur.Message)
		}
	}
	served := x.emu.EdgeServed("hello")
	if served[up.VersionID] != (cfemu.EdgeCount{}) {
		t.Fatalf("no edge request was made, yet %+v", served)
	}
	depID, err := x.runner.VersionsDeploy(ctx, VersionsDeployArgs{Shares: []Share{{up.VersionID, 100}}})
	if err != nil {
		t.Fatal(err)
	}
	if cur, _ := x.api.LatestDeployment(ctx, "hello"); cur == nil || cur.ID != depID || !cur.Serves(up.VersionID) {
		t.Fatalf("final step: %+v", cur)
	}

	// Arguments guard refuses before wrangler runs.
	for _, bad := range []VersionsDeployArgs{
		{Shares: []Share{{"--name=evil", 100}}},
		{Shares: []Share{{up.VersionID, 60}}},
		{Shares: []Share{{up.VersionID, 50}, {old, 50}, {old, 0}}},
		{Shares: []Share{{up.VersionID, 120}, {old, -20}}},
	} {
		if _, err := x.runner.VersionsDeploy(ctx, bad); err == nil {
			t.Errorf("%+v was accepted", bad)
		}
	}

	// A failure is wrangler's, with the API's message.
	_, err = x.runner.VersionsDeploy(ctx, VersionsDeployArgs{Shares: []Share{{"00000000-0000-4000-8000-000000000000", 100}}})
	var werr *Error
	if !errors.As(err, &werr) || werr.ExitCode != 1 || !strings.Contains(werr.Message, "not found") {
		t.Fatalf("unknown version: %v", err)
	}
}
