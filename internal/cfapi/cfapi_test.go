package cfapi

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/guardcm/guard/internal/cfemu"
)

const (
	sentinel = "SENTINEL-TOKEN-5f1e"
	account  = cfemu.DefaultAccountID
	script   = "hello"
)

type fixture struct {
	emu    *cfemu.Emulator
	base   string
	client *Client
}

func newFixture(t *testing.T, opts ...Option) *fixture {
	t.Helper()
	emu := cfemu.New(cfemu.WithToken(sentinel), cfemu.WithD1Database(account, "db-1", "app"))
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	base := srv.URL + cfemu.APIPrefix
	all := append([]Option{WithBaseURL(base), WithBackoff(10 * time.Millisecond), WithTimeout(5 * time.Second)}, opts...)
	return &fixture{emu: emu, base: base, client: New(sentinel, account, all...)}
}

func (f *fixture) upload(t *testing.T, tag, msg string) string {
	t.Helper()
	id, err := f.emu.UploadVersion(account, script, map[string]string{"workers/tag": tag, "workers/message": msg})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (f *fixture) deploy(t *testing.T, msg string, v string) {
	t.Helper()
	if _, err := f.emu.Deploy(account, script, msg, cfemu.DeploymentVersion{VersionID: v, Percentage: 100}); err != nil {
		t.Fatal(err)
	}
}

// noSentinel fails when the token appears in err's text.
func noSentinel(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), sentinel) {
		t.Fatalf("error contains the API token: %v", err)
	}
}

func TestDeploymentsAndVersions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	v1 := f.upload(t, "sha-one", "feat: one")
	v2 := f.upload(t, "sha-two", "fix: two")
	f.deploy(t, "fix: two [guard]", v2)
	f.deploy(t, "Rollback", v1)

	ds, err := f.client.Deployments(ctx, script)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 3 {
		t.Fatalf("%d deployments, want 3", len(ds))
	}
	if !(ds[0].CreatedOn.After(ds[1].CreatedOn) && ds[1].CreatedOn.After(ds[2].CreatedOn)) {
		t.Fatalf("deployments not newest first: %v %v %v", ds[0].CreatedOn, ds[1].CreatedOn, ds[2].CreatedOn)
	}
	if !ds[0].Serves(v1) || ds[0].TriggeredBy != "rollback" || ds[0].RollbackFrom != ds[1].ID || ds[0].Message != "Rollback" {
		t.Errorf("newest deployment = %+v", ds[0])
	}
	if !ds[1].Serves(v2) || ds[1].Message != "fix: two [guard]" || ds[1].TriggeredBy != "deployment" || ds[1].AuthorEmail != cfemu.DefaultAuthorEmail {
		t.Errorf("second deployment = %+v", ds[1])
	}
	if ds[2].TriggeredBy != "upload" || ds[2].Source != "api" || ds[2].Serves(v2) {
		t.Errorf("first deployment = %+v", ds[2])
	}

	latest, err := f.client.LatestDeployment(ctx, script)
	if err != nil || latest.ID != ds[0].ID {
		t.Fatalf("LatestDeployment = %+v, %v", latest, err)
	}

	v, err := f.client.Version(ctx, script, v2)
	if err != nil {
		t.Fatal(err)
	}
	if v.ID != v2 || v.Number != 2 || v.Tag != "sha-two" || v.Message != "fix: two" || v.TriggeredBy != "version_upload" || v.CreatedOn.IsZero() || v.AuthorEmail != cfemu.DefaultAuthorEmail {
		t.Errorf("Version = %+v", v)
	}

	vs, err := f.client.Versions(ctx, script)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0].ID != v2 || vs[1].ID != v1 || vs[1].Tag != "sha-one" || vs[1].TriggeredBy != "upload" {
		t.Errorf("Versions = %+v", vs)
	}
}

func TestVersionsPaging(t *testing.T) {
	f := newFixture(t, WithPageSize(5))
	var ids []string
	for i := 0; i < 23; i++ {
		ids = append(ids, f.upload(t, "t", "m"))
	}
	f.emu.ClearRequests()
	vs, err := f.client.Versions(context.Background(), script)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 23 {
		t.Fatalf("%d versions over pages, want 23", len(vs))
	}
	for i, v := range vs {
		if v.ID != ids[22-i] || v.Number != 23-i {
			t.Fatalf("version %d = %s (#%d), want %s", i, v.ID, v.Number, ids[22-i])
		}
	}
	reqs := f.emu.Requests()
	// 5 pages of items and the empty sixth that ends the list.
	if len(reqs) != 6 {
		t.Fatalf("%d requests, want 6: %+v", len(reqs), reqs)
	}
	for i, r := range reqs {
		if !strings.Contains(r.Query, "per_page=5") || !strings.Contains(r.Query, "page="+string(rune('1'+i))) {
			t.Errorf("request %d query %q", i, r.Query)
		}
	}
}

func TestNotFound(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.client.Deployments(ctx, "missing")
	if !IsNotFound(err) {
		t.Fatalf("Deployments of a missing worker: %v", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 404 || !ae.HasCode(CodeWorkerNotFound) {
		t.Fatalf("error = %#v", err)
	}
	if n := len(f.emu.Requests()); n != 1 {
		t.Fatalf("a 404 was retried: %d requests", n)
	}
	f.upload(t, "t", "m")
	if _, err := f.client.Version(ctx, script, "no-such-version"); !IsNotFound(err) {
		t.Fatalf("Version of a missing version: %v", err)
	}
	if _, err := f.client.LatestDeployment(ctx, "missing"); !IsNotFound(err) {
		t.Fatalf("LatestDeployment of a missing worker: %v", err)
	}
}

func TestServerErrorsRetriedBounded(t *testing.T) {
	f := newFixture(t, WithRetries(2))
	ctx := context.Background()
	v := f.upload(t, "t", "m")
	if err := f.emu.AddFault(cfemu.Fault{Method: "GET", Path: "/accounts/*/workers/scripts/*/deployments", Status: 503, Times: 2}); err != nil {
		t.Fatal(err)
	}
	d, err := f.client.LatestDeployment(ctx, script)
	if err != nil || !d.Serves(v) {
		t.Fatalf("after two 503s the third attempt should succeed: %+v %v", d, err)
	}

	f.emu.ClearRequests()
	f.emu.AddFault(cfemu.Fault{Path: "/accounts/*/workers/scripts/*/deployments", Status: 500})
	_, err = f.client.Deployments(ctx, script)
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 500 || !ae.HasCode(10013) {
		t.Fatalf("persistent 500: %#v", err)
	}
	if !strings.Contains(err.Error(), "after 3 attempts") || !strings.Contains(err.Error(), `list deployments of worker "hello"`) {
		t.Errorf("error text %q", err)
	}
	if n := len(f.emu.Requests()); n != 3 {
		t.Fatalf("%d attempts, want 3 (1 + 2 retries)", n)
	}
}

func TestUnauthorized(t *testing.T) {
	f := newFixture(t)
	bad := New("wrong-token-value", account, WithBaseURL(f.base), WithBackoff(time.Millisecond))
	_, err := bad.Deployments(context.Background(), script)
	if !IsUnauthorized(err) {
		t.Fatalf("wrong token: %v", err)
	}
	if strings.Contains(err.Error(), "wrong-token-value") {
		t.Fatalf("error contains the token: %v", err)
	}
	if n := len(f.emu.Requests()); n != 1 {
		t.Fatalf("a 401 was retried: %d requests", n)
	}
	// A 401 injected as a fault (token revoked mid-incident) looks the same.
	f.emu.AddFault(cfemu.Fault{Path: "/**", Status: 401})
	_, err = f.client.Versions(context.Background(), script)
	if !IsUnauthorized(err) {
		t.Fatalf("401 fault: %v", err)
	}
	noSentinel(t, err)
}

func TestDroppedConnection(t *testing.T) {
	f := newFixture(t, WithRetries(1))
	ctx := context.Background()
	v := f.upload(t, "t", "m")
	f.emu.AddFault(cfemu.Fault{Path: "/accounts/*/workers/scripts/*/versions/*", Drop: true, Times: 1})
	got, err := f.client.Version(ctx, script, v)
	if err != nil || got.ID != v {
		t.Fatalf("one dropped connection should be retried: %+v %v", got, err)
	}
	f.emu.AddFault(cfemu.Fault{Path: "/accounts/*/workers/scripts/*/versions/*", Drop: true})
	_, err = f.client.Version(ctx, script, v)
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 0 || ae.Err == nil {
		t.Fatalf("always-dropped connection: %#v", err)
	}
	noSentinel(t, err)
}

func TestSlowAnswerTimesOut(t *testing.T) {
	f := newFixture(t, WithRetries(1), WithTimeout(150*time.Millisecond))
	f.upload(t, "t", "m")
	f.emu.AddFault(cfemu.Fault{Path: "/**", Delay: cfemu.Duration(2 * time.Second)})
	start := time.Now()
	_, err := f.client.Deployments(context.Background(), script)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow answer: %v", err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("two 150 ms attempts took %v", d)
	}
	noSentinel(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	_, err = New(sentinel, account, WithBaseURL(f.base), WithRetries(5)).Versions(ctx, script)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled context: %v", err)
	}
}

func TestSentinelTokenNeverInErrors(t *testing.T) {
	f := newFixture(t, WithRetries(0))
	ctx := context.Background()
	// The server echoing the token back in its error message (a proxy that
	// quotes the Authorization header, say) must not leak it either.
	f.emu.AddFault(cfemu.Fault{Path: "/**", Status: 502, Message: "upstream said: Bearer " + sentinel})
	var errs []error
	_, err := f.client.Deployments(ctx, script)
	errs = append(errs, err)
	_, err = f.client.Versions(ctx, script)
	errs = append(errs, err)
	_, err = f.client.Version(ctx, script, "x")
	errs = append(errs, err)
	_, err = f.client.D1Bookmark(ctx, "db-1")
	errs = append(errs, err)
	f.emu.ClearFaults()
	f.emu.AddFault(cfemu.Fault{Path: "/**", Drop: true})
	_, err = f.client.LatestDeployment(ctx, script)
	errs = append(errs, err)
	// Unreachable server.
	_, err = New(sentinel, account, WithBaseURL("http://127.0.0.1:1/client/v4"), WithRetries(0)).Deployments(ctx, script)
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Fatalf("case %d did not fail", i)
		}
		noSentinel(t, err)
	}
	if !strings.Contains(errs[0].Error(), "[REDACTED]") {
		t.Errorf("echoed token not redacted: %v", errs[0])
	}
}

func TestMissingCredentials(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := New("", account, WithBaseURL(f.base)).Deployments(ctx, script); err == nil || !strings.Contains(err.Error(), "CLOUDFLARE_API_TOKEN") {
		t.Fatalf("no token: %v", err)
	}
	if _, err := New(sentinel, "", WithBaseURL(f.base)).D1Bookmark(ctx, "db-1"); err == nil || !strings.Contains(err.Error(), "CLOUDFLARE_ACCOUNT_ID") {
		t.Fatalf("no account: %v", err)
	}
	if n := len(f.emu.Requests()); n != 0 {
		t.Fatalf("%d requests made without credentials", n)
	}
}

func TestD1Bookmark(t *testing.T) {
	f := newFixture(t, WithRetries(1))
	ctx := context.Background()
	b1, err := f.client.D1Bookmark(ctx, "db-1")
	if err != nil || b1 == "" {
		t.Fatalf("bookmark: %q %v", b1, err)
	}
	b2, err := f.client.D1Bookmark(ctx, "db-1")
	if err != nil || b2 != b1 {
		t.Fatalf("bookmark changed without writes: %q %q %v", b1, b2, err)
	}
	if _, err := f.client.D1Bookmark(ctx, "missing"); !IsNotFound(err) {
		t.Fatalf("missing database: %v", err)
	}
	f.emu.AddFault(cfemu.Fault{Path: "/accounts/*/d1/database/*/time_travel/bookmark", Status: 503, Times: 1})
	if b, err := f.client.D1Bookmark(ctx, "db-1"); err != nil || b != b1 {
		t.Fatalf("bookmark after one 503: %q %v", b, err)
	}
	f.emu.AddFault(cfemu.Fault{Path: "/accounts/*/d1/database/*/time_travel/bookmark", Status: 503})
	_, err = f.client.D1Bookmark(ctx, "db-1")
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 503 || !ae.HasCode(10013) {
		t.Fatalf("persistent 503: %#v", err)
	}
	if _, err := f.client.D1Bookmark(ctx, ""); err == nil {
		t.Fatal("empty database ID accepted")
	}
}

func TestBaseURLFromEnv(t *testing.T) {
	t.Setenv("CLOUDFLARE_BASE_URL", "")
	t.Setenv("CLOUDFLARE_API_BASE_URL", "")
	if got := New("t", "a").BaseURL(); got != DefaultBaseURL {
		t.Errorf("default base URL %q", got)
	}
	t.Setenv("CLOUDFLARE_API_BASE_URL", "http://127.0.0.1:9/client/v4/")
	if got := New("t", "a").BaseURL(); got != "http://127.0.0.1:9/client/v4" {
		t.Errorf("wrangler's variable: %q", got)
	}
	t.Setenv("CLOUDFLARE_BASE_URL", "http://127.0.0.1:8/client/v4")
	if got := New("t", "a").BaseURL(); got != "http://127.0.0.1:8/client/v4" {
		t.Errorf("cloudflare-go's variable should win: %q", got)
	}
	if got := New("t", "a", WithBaseURL("http://x/client/v4")).BaseURL(); got != "http://x/client/v4" {
		t.Errorf("option should win: %q", got)
	}
}
