package cfemu

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const acct = DefaultAccountID

// fixedClock returns the same instant on every call, so the emulator's
// own monotonic bump is what orders timestamps.
func fixedClock() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }

type apiClient struct {
	t     *testing.T
	base  string
	token string
	http  *http.Client
}

func newTestServer(t *testing.T, opts ...Option) (*Emulator, *apiClient) {
	t.Helper()
	e := New(opts...)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return e, &apiClient{t: t, base: srv.URL, token: "test-token", http: srv.Client()}
}

type response struct {
	Status     int
	Success    bool            `json:"success"`
	Errors     []APIError      `json:"errors"`
	Messages   []APIError      `json:"messages"`
	Result     json.RawMessage `json:"result"`
	ResultInfo *resultInfo     `json:"result_info"`
}

func (c *apiClient) do(method, path, contentType string, body io.Reader) response {
	c.t.Helper()
	r, err := c.try(method, path, contentType, body)
	if err != nil {
		c.t.Fatal(err)
	}
	return r
}

// try is do without t.Fatal, for goroutines.
func (c *apiClient) try(method, path, contentType string, body io.Reader) (response, error) {
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		return response{}, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", "wrangler/4.86.0")
	resp, err := c.http.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var r response
	if err := json.Unmarshal(raw, &r); err != nil {
		return response{}, fmt.Errorf("%s %s: answer is not JSON: %v\n%s", method, path, err, raw)
	}
	r.Status = resp.StatusCode
	return r, nil
}

func (c *apiClient) json(method, path string, v any) response {
	c.t.Helper()
	var body io.Reader
	if v != nil {
		b, _ := json.Marshal(v)
		body = bytes.NewReader(b)
	}
	return c.do(method, APIPrefix+path, "application/json", body)
}

// upload builds a worker upload the way wrangler does: a "metadata" JSON
// blob part and one part per module.
func (c *apiClient) upload(method, path, code string, annotations map[string]string) response {
	c.t.Helper()
	ct, body := uploadBody(code, annotations)
	return c.do(method, APIPrefix+path, ct, body)
}

func uploadBody(code string, annotations map[string]string) (string, *bytes.Buffer) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	meta := map[string]any{"main_module": "index.js", "compatibility_date": "2025-01-01", "bindings": []any{}}
	if annotations != nil {
		meta["annotations"] = annotations
	}
	mb, _ := json.Marshal(meta)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="metadata"; filename="blob"`)
	h.Set("Content-Type", "application/json")
	pw, _ := mw.CreatePart(h)
	pw.Write(mb)
	h = textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="index.js"; filename="index.js"`)
	h.Set("Content-Type", "application/javascript+module")
	pw, _ = mw.CreatePart(h)
	pw.Write([]byte(code))
	mw.Close()
	return mw.FormDataContentType(), &buf
}

func mustOK(t *testing.T, r response, what string) {
	t.Helper()
	if r.Status != 200 || !r.Success {
		t.Fatalf("%s: status %d success %v errors %+v", what, r.Status, r.Success, r.Errors)
	}
	if r.Errors == nil || r.Messages == nil {
		t.Fatalf("%s: envelope lacks errors/messages arrays", what)
	}
}

func mustFail(t *testing.T, r response, status, code int, what string) {
	t.Helper()
	if r.Status != status || r.Success || len(r.Errors) == 0 || r.Errors[0].Code != code {
		t.Fatalf("%s: want status %d code %d, got status %d success %v errors %+v", what, status, code, r.Status, r.Success, r.Errors)
	}
	if string(r.Result) != "null" {
		t.Fatalf("%s: error envelope result = %s, want null", what, r.Result)
	}
}

var stampRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

func TestAuthentication(t *testing.T) {
	_, c := newTestServer(t)
	c.token = ""
	mustFail(t, c.json("GET", "/memberships", nil), 401, 10000, "no token")
	c.token = "anything"
	mustOK(t, c.json("GET", "/memberships", nil), "any token")

	_, c2 := newTestServer(t, WithToken("right-token"))
	c2.token = "wrong-token"
	mustFail(t, c2.json("GET", "/memberships", nil), 401, 10000, "wrong token")
	c2.token = "right-token"
	r := c2.json("GET", "/memberships", nil)
	mustOK(t, r, "right token")
	var ms []struct {
		Account struct{ ID string } `json:"account"`
	}
	json.Unmarshal(r.Result, &ms)
	if len(ms) != 1 || ms[0].Account.ID != DefaultAccountID {
		t.Fatalf("memberships = %s", r.Result)
	}
}

func TestUnknownRoute(t *testing.T) {
	_, c := newTestServer(t)
	mustFail(t, c.json("GET", "/accounts/x/workers/nothing-here", nil), 404, 7003, "unknown route")
	mustFail(t, c.json("DELETE", "/accounts/x/workers/scripts/w", nil), 404, 7003, "unknown method")
	r := c.do("GET", "/elsewhere", "", nil)
	if r.Status != 404 {
		t.Fatalf("path outside the API: status %d", r.Status)
	}
}

func TestWorkerLifecycle(t *testing.T) {
	e, c := newTestServer(t, WithClock(fixedClock))
	base := "/accounts/" + acct + "/workers"

	mustFail(t, c.json("GET", base+"/services/hello", nil), 404, 10007, "service before upload")
	mustFail(t, c.json("GET", base+"/scripts/hello/deployments", nil), 404, 10007, "deployments before upload")
	mustFail(t, c.upload("POST", base+"/scripts/hello/versions", "x", nil), 404, 10007, "version of missing worker")

	r := c.upload("PUT", base+"/scripts/hello?excludeScript=true&bindings_inherit=strict", "export default {}", map[string]string{"workers/message": "first", "workers/tag": "sha1"})
	mustOK(t, r, "put script")
	var put struct {
		DeploymentID string `json:"deployment_id"`
		Etag         string `json:"etag"`
	}
	json.Unmarshal(r.Result, &put)
	v1 := put.DeploymentID
	if v1 == "" || put.Etag == "" {
		t.Fatalf("put result lacks deployment_id/etag: %s", r.Result)
	}

	r = c.upload("POST", base+"/scripts/hello/versions?bindings_inherit=strict", "export default {v:2}", map[string]string{"workers/message": "second", "workers/tag": "sha2"})
	mustOK(t, r, "post version")
	var ver struct {
		ID        string
		Number    int
		Resources struct {
			Script struct{ Etag string } `json:"script"`
		} `json:"resources"`
	}
	json.Unmarshal(r.Result, &ver)
	v2 := ver.ID
	if ver.Number != 2 || ver.Resources.Script.Etag == "" || ver.Resources.Script.Etag == put.Etag {
		t.Fatalf("version 2 = %s", r.Result)
	}

	mustFail(t, c.json("POST", base+"/scripts/hello/deployments", map[string]any{"strategy": "percentage", "versions": []any{map[string]any{"version_id": v2, "percentage": 60}}}), 400, codeBadRequest, "percentages not 100")
	mustFail(t, c.json("POST", base+"/scripts/hello/deployments", map[string]any{"strategy": "percentage", "versions": []any{map[string]any{"version_id": "nope", "percentage": 100}}}), 400, codeVersionNotFound, "unknown version")
	mustFail(t, c.json("POST", base+"/scripts/hello/deployments", map[string]any{"strategy": "immediate", "versions": []any{map[string]any{"version_id": v2, "percentage": 100}}}), 400, codeBadRequest, "bad strategy")

	mustOK(t, c.json("POST", base+"/scripts/hello/deployments", map[string]any{
		"strategy": "percentage", "versions": []any{map[string]any{"version_id": v2, "percentage": 100}},
		"annotations": map[string]any{"workers/message": "deploy two"},
	}), "deploy v2")
	r = c.json("POST", base+"/scripts/hello/deployments", map[string]any{
		"strategy": "percentage", "versions": []any{map[string]any{"version_id": v1, "percentage": 100}},
		"annotations": map[string]any{"workers/message": "Rollback"},
	})
	mustOK(t, r, "rollback to v1")

	r = c.json("GET", base+"/scripts/hello/deployments", nil)
	mustOK(t, r, "list deployments")
	var deps struct{ Deployments []Deployment }
	json.Unmarshal(r.Result, &deps)
	if len(deps.Deployments) != 3 {
		t.Fatalf("want 3 deployments, got %s", r.Result)
	}
	newest, mid, first := deps.Deployments[0], deps.Deployments[1], deps.Deployments[2]
	if newest.Versions[0].VersionID != v1 || newest.Annotations["workers/triggered_by"] != "rollback" || newest.Annotations["workers/rollback_from"] != mid.ID || newest.Annotations["workers/message"] != "Rollback" {
		t.Errorf("rollback deployment = %+v", newest)
	}
	if mid.Versions[0].VersionID != v2 || mid.Annotations["workers/triggered_by"] != "deployment" || mid.Annotations["workers/message"] != "deploy two" {
		t.Errorf("second deployment = %+v", mid)
	}
	if first.Versions[0].VersionID != v1 || first.Annotations["workers/triggered_by"] != "upload" || first.Annotations["workers/message"] != "first" || first.Source != "wrangler" {
		t.Errorf("upload deployment = %+v", first)
	}
	// With a frozen clock the emulator still orders timestamps, and keeps
	// wrangler's string comparison right by using one layout.
	if !(first.CreatedOn < mid.CreatedOn && mid.CreatedOn < newest.CreatedOn) {
		t.Errorf("deployment timestamps not increasing: %s %s %s", first.CreatedOn, mid.CreatedOn, newest.CreatedOn)
	}
	for _, d := range deps.Deployments {
		if !stampRE.MatchString(d.CreatedOn) {
			t.Errorf("timestamp %q does not have six fractional digits", d.CreatedOn)
		}
	}

	r = c.json("GET", base+"/scripts/hello/deployments/"+mid.ID, nil)
	mustOK(t, r, "get deployment")
	mustFail(t, c.json("GET", base+"/scripts/hello/deployments/nope", nil), 404, codeDeploymentNotFound, "unknown deployment")

	r = c.json("GET", base+"/scripts/hello/versions/"+v1, nil)
	mustOK(t, r, "get version")
	var got map[string]any
	json.Unmarshal(r.Result, &got)
	ann := got["annotations"].(map[string]any)
	if ann["workers/tag"] != "sha1" || ann["workers/message"] != "first" || ann["workers/triggered_by"] != "upload" {
		t.Errorf("version annotations = %v", ann)
	}
	if _, ok := got["resources"]; !ok {
		t.Errorf("version detail lacks resources: %s", r.Result)
	}
	mustFail(t, c.json("GET", base+"/scripts/hello/versions/nope", nil), 404, codeVersionNotFound, "unknown version")

	r = c.json("GET", base+"/services/hello", nil)
	mustOK(t, r, "service")
	var svc struct {
		DefaultEnvironment struct {
			Environment string
			Script      struct {
				Tag              string
				LastDeployedFrom string `json:"last_deployed_from"`
			}
		} `json:"default_environment"`
	}
	json.Unmarshal(r.Result, &svc)
	if svc.DefaultEnvironment.Script.Tag == "" || svc.DefaultEnvironment.Script.LastDeployedFrom != "wrangler" || svc.DefaultEnvironment.Environment != "production" {
		t.Errorf("service = %s", r.Result)
	}

	mustOK(t, c.json("GET", base+"/scripts/hello/settings", nil), "settings")
	r = c.json("PATCH", base+"/scripts/hello/script-settings", map[string]any{"logpush": true, "tags": []string{"a"}})
	mustOK(t, r, "patch script-settings")
	r = c.json("GET", base+"/scripts/hello/script-settings", nil)
	if !strings.Contains(string(r.Result), `"logpush":true`) {
		t.Errorf("script settings not stored: %s", r.Result)
	}

	r = c.json("GET", base+"/scripts/hello/subdomain", nil)
	mustOK(t, r, "get subdomain")
	if string(r.Result) != `{"enabled":false,"previews_enabled":false}` {
		t.Errorf("new worker subdomain = %s", r.Result)
	}
	mustOK(t, c.json("POST", base+"/scripts/hello/subdomain", map[string]any{"enabled": true, "previews_enabled": true}), "post subdomain")
	r = c.json("GET", base+"/scripts/hello/subdomain", nil)
	if string(r.Result) != `{"enabled":true,"previews_enabled":true}` {
		t.Errorf("subdomain after POST = %s", r.Result)
	}
	r = c.json("GET", base+"/subdomain", nil)
	if !strings.Contains(string(r.Result), DefaultSubdomain) {
		t.Errorf("account subdomain = %s", r.Result)
	}
	mustOK(t, c.json("PUT", base+"/subdomain", map[string]string{"subdomain": "team"}), "put account subdomain")
	r = c.json("GET", base+"/subdomain", nil)
	if string(r.Result) != `{"subdomain":"team"}` {
		t.Errorf("account subdomain after PUT = %s", r.Result)
	}

	snap := e.Snapshot()
	s := snap.Accounts[acct].Scripts["hello"]
	if len(s.Versions) != 2 || len(s.Deployments) != 3 || s.Versions[0].Modules["index.js"] == "" {
		t.Errorf("snapshot = %+v", s)
	}
}

func TestVersionsPaging(t *testing.T) {
	_, c := newTestServer(t)
	base := "/accounts/" + acct + "/workers/scripts/paged"
	mustOK(t, c.upload("PUT", base, "v1", nil), "put")
	for i := 2; i <= 25; i++ {
		mustOK(t, c.upload("POST", base+"/versions", fmt.Sprintf("v%d", i), nil), "post version")
	}
	var numbers []int
	for page := 1; ; page++ {
		r := c.json("GET", fmt.Sprintf("%s/versions?page=%d&per_page=10", base, page), nil)
		mustOK(t, r, "list page")
		var res struct {
			Items []struct{ Number int }
		}
		json.Unmarshal(r.Result, &res)
		if r.ResultInfo == nil || r.ResultInfo.Page != page || r.ResultInfo.TotalCount != 25 || r.ResultInfo.TotalPages != 3 {
			t.Fatalf("page %d result_info = %+v", page, r.ResultInfo)
		}
		if len(res.Items) == 0 {
			break
		}
		for _, it := range res.Items {
			numbers = append(numbers, it.Number)
		}
	}
	if len(numbers) != 25 {
		t.Fatalf("paged through %d versions, want 25", len(numbers))
	}
	for i, n := range numbers {
		if n != 25-i {
			t.Fatalf("versions not newest first: %v", numbers)
		}
	}
	r := c.json("GET", base+"/versions?deployable=true", nil)
	var dep struct{ Items []json.RawMessage }
	json.Unmarshal(r.Result, &dep)
	if len(dep.Items) != 25 {
		t.Errorf("deployable=true returned %d items, want all 25 on one page", len(dep.Items))
	}
	r = c.json("GET", base+"/versions?deployable=true&page=2", nil)
	json.Unmarshal(r.Result, &dep)
	if len(dep.Items) != 0 {
		t.Errorf("deployable=true page 2 returned %d items, want 0", len(dep.Items))
	}
	mustFail(t, c.json("GET", base+"/versions?page=0", nil), 400, codeBadRequest, "page 0")
}

func TestDeployableLimit(t *testing.T) {
	_, c := newTestServer(t)
	base := "/accounts/" + acct + "/workers/scripts/many"
	mustOK(t, c.upload("PUT", base, "v1", nil), "put")
	for i := 2; i <= maxDeployable+5; i++ {
		mustOK(t, c.upload("POST", base+"/versions", fmt.Sprintf("v%d", i), nil), "post version")
	}
	r := c.json("GET", base+"/versions?deployable=true", nil)
	var dep struct{ Items []struct{ Number int } }
	json.Unmarshal(r.Result, &dep)
	if len(dep.Items) != maxDeployable || dep.Items[0].Number != maxDeployable+5 || dep.Items[maxDeployable-1].Number != 6 {
		t.Fatalf("deployable list: %d items, first %d", len(dep.Items), dep.Items[0].Number)
	}
}

func TestUploadValidation(t *testing.T) {
	_, c := newTestServer(t)
	base := "/accounts/" + acct + "/workers/scripts/bad"
	mustFail(t, c.do("PUT", APIPrefix+base, "application/json", strings.NewReader("{}")), 400, codeBadRequest, "not multipart")
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("metadata", "blob")
	fw.Write([]byte(`{"main_module":"missing.js"}`))
	mw.Close()
	mustFail(t, c.do("PUT", APIPrefix+base, mw.FormDataContentType(), &buf), 400, codeBadRequest, "main module missing")
}

func TestMatchPath(t *testing.T) {
	cases := []struct {
		pattern, path string
		want          bool
	}{
		{"/accounts/*/workers/scripts/*", "/accounts/a/workers/scripts/w", true},
		{"/accounts/*/workers/scripts/*", "/accounts/a/workers/scripts/w/versions", false},
		{"/accounts/*/workers/scripts/*/versions", "/accounts/a/workers/scripts/w/versions", true},
		{"/accounts/*/workers/**", "/accounts/a/workers/scripts/w/versions", true},
		{"/accounts/*/workers/**", "/accounts/a/workers", true},
		{"/**", "/memberships", true},
		{"/memberships", "/accounts", false},
		{"/accounts/*", "/accounts", false},
	}
	for _, c := range cases {
		if got := matchPath(c.pattern, c.path); got != c.want {
			t.Errorf("matchPath(%q, %q) = %v, want %v", c.pattern, c.path, got, c.want)
		}
	}
}

func TestFaults(t *testing.T) {
	e, c := newTestServer(t)
	if err := e.AddFault(Fault{Path: "/memberships", Status: 503, Times: 2}); err != nil {
		t.Fatal(err)
	}
	mustFail(t, c.json("GET", "/memberships", nil), 503, 10013, "fault 1")
	mustFail(t, c.json("GET", "/memberships", nil), 503, 10013, "fault 2")
	mustOK(t, c.json("GET", "/memberships", nil), "fault spent")
	if len(e.Faults()) != 0 {
		t.Fatalf("spent fault still installed: %+v", e.Faults())
	}

	// A 401 fault answers like a refused token even with a good one.
	e.AddFault(Fault{Method: "GET", Path: "/accounts/*/workers/**", Status: 401})
	mustFail(t, c.json("GET", "/accounts/a/workers/scripts/x/deployments", nil), 401, 10000, "401 fault")
	mustFail(t, c.json("PUT", "/accounts/a/workers/subdomain", map[string]string{}), 400, codeBadRequest, "method filter")
	e.ClearFaults()

	e.AddFault(Fault{Path: "/memberships", Delay: Duration(300 * time.Millisecond), Times: 1})
	start := time.Now()
	mustOK(t, c.json("GET", "/memberships", nil), "slow answer")
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("delayed answer came after %v", d)
	}

	e.AddFault(Fault{Path: "/memberships", Drop: true, Times: 1})
	req, _ := http.NewRequest("GET", c.base+APIPrefix+"/memberships", nil)
	req.Header.Set("Authorization", "Bearer x")
	// A fresh connection: Go's transport silently retries a request whose
	// reused keep-alive connection died, which would hide the drop.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := fresh.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("dropped connection answered with status %d", resp.StatusCode)
	}
	reqs := e.Requests()
	if last := reqs[len(reqs)-1]; last.Path != APIPrefix+"/memberships" || last.Status != 0 {
		t.Fatalf("dropped request logged as %+v", last)
	}

	for _, bad := range []Fault{{Path: "memberships", Status: 500}, {Path: "/x"}, {Path: "/x", Status: 200}, {Path: "/x", Status: 500, Times: -1}} {
		if err := e.AddFault(bad); err == nil {
			t.Errorf("AddFault(%+v) accepted", bad)
		}
	}
}

func TestAdminEndpoints(t *testing.T) {
	e, c := newTestServer(t)
	admin := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
		resp, err := c.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := admin("POST", "/__emu/faults", `[{"path":"/memberships","status":500,"times":1},{"path":"/accounts","delay":"10ms","times":1}]`); st != 200 || !strings.Contains(body, `"delay": "10ms"`) {
		t.Fatalf("POST faults: %d %s", st, body)
	}
	if st, _ := admin("POST", "/__emu/faults", `{"path":"nope","status":500}`); st != 400 {
		t.Fatalf("invalid fault accepted: %d", st)
	}
	c.token = "SENTINEL-TOKEN-5f1e"
	mustFail(t, c.json("GET", "/memberships", nil), 500, 10013, "fault via admin")
	mustOK(t, c.json("GET", "/accounts", nil), "delayed accounts")
	_, reqs := admin("GET", "/__emu/requests", "")
	if !strings.Contains(reqs, `"path": "/client/v4/memberships"`) || !strings.Contains(reqs, `"status": 500`) {
		t.Fatalf("request log = %s", reqs)
	}
	if strings.Contains(reqs, "SENTINEL") {
		t.Fatal("request log contains the token")
	}
	if st, _ := admin("POST", "/__emu/d1", `{"account":"a1","uuid":"u1","name":"db1"}`); st != 200 {
		t.Fatalf("POST d1: %d", st)
	}
	if st, _ := admin("POST", "/__emu/d1", `{"account":"a1","uuid":"u1","name":"db1"}`); st != 400 {
		t.Fatalf("duplicate d1 accepted: %d", st)
	}
	_, state := admin("GET", "/__emu/state", "")
	if !strings.Contains(state, `"u1"`) {
		t.Fatalf("state = %s", state)
	}
	_, routes := admin("GET", "/__emu/routes", "")
	if !strings.Contains(routes, "time_travel/bookmark") {
		t.Fatalf("routes = %s", routes)
	}
	if st, _ := admin("PUT", "/__emu/state", `{"accounts":{"a2":{"subdomain":"x","scripts":{},"d1":{"u2":{"uuid":"u2","name":"d","journal":[{"seq":1,"sql":"CREATE TABLE t(x)"}]}}}}}`); st != 200 {
		t.Fatalf("PUT state: %d", st)
	}
	mustOK(t, c.json("POST", "/accounts/a2/d1/database/u2/query", map[string]string{"sql": "SELECT count(*) AS n FROM t"}), "seeded D1")
	admin("POST", "/__emu/reset", "")
	if len(e.Requests()) != 0 || len(e.Snapshot().Accounts) != 0 || len(e.Faults()) != 0 {
		t.Fatal("reset left something behind")
	}
	// Admin requests are not logged.
	admin("GET", "/__emu/health", "")
	if len(e.Requests()) != 0 {
		t.Fatalf("admin request logged: %+v", e.Requests())
	}
}

func TestServeStateFile(t *testing.T) {
	dir := t.TempDir()
	stateFile := filepath.Join(dir, "state.json")
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, "127.0.0.1:0", stateFile, func(u string) { urls <- u }, WithD1Database("acc", "db-1", "app"))
	}()
	var base string
	select {
	case base = <-urls:
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not become ready")
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") || !strings.HasSuffix(base, APIPrefix) {
		t.Fatalf("base URL %q", base)
	}
	c := &apiClient{t: t, base: strings.TrimSuffix(base, APIPrefix), token: "t", http: http.DefaultClient}
	mustOK(t, c.upload("PUT", "/accounts/acc/workers/scripts/w", "x", nil), "put")
	mustOK(t, c.json("POST", "/accounts/acc/d1/database/db-1/query", map[string]string{"sql": "CREATE TABLE t(x); INSERT INTO t VALUES (42)"}), "d1 write")

	b, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("state file: %v", err)
	}
	if st.Accounts["acc"].Scripts["w"] == nil || len(st.Accounts["acc"].D1["db-1"].Journal) != 1 {
		t.Fatalf("state file lacks the upload or the D1 write: %s", b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve returned %v", err)
	}

	// A new emulator loading the file has the worker and the D1 rows.
	e2 := New()
	if err := e2.LoadStateFile(stateFile); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e2)
	defer srv.Close()
	c2 := &apiClient{t: t, base: srv.URL, token: "t", http: srv.Client()}
	mustOK(t, c2.json("GET", "/accounts/acc/workers/scripts/w/deployments", nil), "reloaded worker")
	r := c2.json("POST", "/accounts/acc/d1/database/db-1/query", map[string]string{"sql": "SELECT x FROM t"})
	mustOK(t, r, "reloaded D1")
	if !strings.Contains(string(r.Result), `"x":42`) {
		t.Fatalf("reloaded D1 rows = %s", r.Result)
	}
	if err := e2.LoadStateFile(filepath.Join(dir, "missing.json")); err != nil {
		t.Fatalf("missing state file: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte("{"), 0o600)
	if err := e2.LoadStateFile(filepath.Join(dir, "bad.json")); err == nil {
		t.Fatal("corrupt state file accepted")
	}
}

func TestStartLoopbackOnly(t *testing.T) {
	e := New()
	if _, _, err := e.Start("0.0.0.0:0"); err == nil {
		t.Fatal("Start served on a non-loopback address")
	}
	base, stop, err := e.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &apiClient{t: t, base: strings.TrimSuffix(base, APIPrefix), token: "t", http: http.DefaultClient}
	mustOK(t, c.json("GET", "/memberships", nil), "started server")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(base + "/memberships"); err == nil {
		t.Fatal("server still answers after stop")
	}
}

func TestConcurrentRequests(t *testing.T) {
	e, c := newTestServer(t)
	base := "/accounts/" + acct + "/workers/scripts/conc"
	mustOK(t, c.upload("PUT", base, "v1", nil), "put")
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ct, body := uploadBody(fmt.Sprintf("v%d", i), nil)
			r, err := c.try("POST", APIPrefix+base+"/versions", ct, body)
			if err == nil && r.Status != 200 {
				err = fmt.Errorf("status %d", r.Status)
			}
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	vs := e.Snapshot().Accounts[acct].Scripts["conc"].Versions
	if len(vs) != 21 {
		t.Fatalf("%d versions after concurrent uploads, want 21", len(vs))
	}
	for i, v := range vs {
		if v.Number != i+1 {
			t.Fatalf("version numbers not sequential: %d at %d", v.Number, i)
		}
	}
}

// R2 lock rules are enforced per condition type; deletes are refused
// like overwrites; the rules are validated.
func TestR2LockConditions(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	e, c := newTestServer(t, WithClock(func() time.Time { return now }))
	if err := e.CreateBucket(DefaultAccountID, "evi"); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateBucket(DefaultAccountID, "evi"); err == nil {
		t.Fatal("a bucket was created twice")
	}
	base := "/accounts/" + DefaultAccountID + "/r2/buckets/evi"
	put := func(key, body string) response {
		return c.do("PUT", APIPrefix+base+"/objects/"+key, "application/json", strings.NewReader(body))
	}
	for _, k := range []string{"age/a", "date/a", "forever/a", "free/a"} {
		mustOK(t, put(k, "1"), "put "+k)
	}
	mustFail(t, c.json("PUT", base+"/lock", map[string]any{"rules": []map[string]any{{"id": "x", "enabled": true, "condition": map[string]any{"type": "Age"}}}}), 400, codeR2BadInput, "Age without maxAgeSeconds")
	mustFail(t, c.json("PUT", base+"/lock", map[string]any{"rules": []map[string]any{{"id": "x", "enabled": true, "condition": map[string]any{"type": "Forever"}}}}), 400, codeR2BadInput, "unknown type")
	mustOK(t, c.json("PUT", base+"/lock", map[string]any{"rules": []map[string]any{
		{"id": "age", "enabled": true, "prefix": "age/", "condition": map[string]any{"type": "Age", "maxAgeSeconds": 86400}},
		{"id": "date", "enabled": true, "prefix": "date/", "condition": map[string]any{"type": "Date", "date": "2026-12-03T00:00:00Z"}},
		{"id": "forever", "enabled": true, "prefix": "forever/", "condition": map[string]any{"type": "Indefinite"}},
		{"id": "off", "enabled": false, "prefix": "free/", "condition": map[string]any{"type": "Indefinite"}},
	}}), "set lock")
	for _, k := range []string{"age/a", "date/a", "forever/a"} {
		mustFail(t, put(k, "2"), 403, codeR2ObjectLocked, "overwrite "+k)
		mustFail(t, c.do("DELETE", APIPrefix+base+"/objects/"+k, "", nil), 403, codeR2ObjectLocked, "delete "+k)
	}
	mustOK(t, put("free/a", "2"), "a disabled rule does not lock")
	mustOK(t, put("age/b", "new"), "a new key under a lock")
	now = now.Add(36 * time.Hour) // past age/a's one day
	mustOK(t, put("age/a", "3"), "after the Age retention")
	mustFail(t, put("date/a", "3"), 403, codeR2ObjectLocked, "before the Date")
	now = now.Add(24 * time.Hour)
	mustOK(t, put("date/a", "3"), "after the Date")
	mustFail(t, put("forever/a", "3"), 403, codeR2ObjectLocked, "Indefinite")
	if o := e.Snapshot().Accounts[DefaultAccountID].R2["evi"].Objects["forever/a"]; string(o.Data) != "1" {
		t.Fatalf("locked object: %q", o.Data)
	}
	// The state survives a save and load (the standalone emulator).
	path := filepath.Join(t.TempDir(), "state.json")
	if err := e.SaveStateFile(path); err != nil {
		t.Fatal(err)
	}
	e2 := New()
	if err := e2.LoadStateFile(path); err != nil {
		t.Fatal(err)
	}
	if b := e2.Snapshot().Accounts[DefaultAccountID].R2["evi"]; b == nil || string(b.Objects["forever/a"].Data) != "1" || len(b.Lock) != 4 {
		t.Fatalf("reloaded bucket: %+v", b)
	}
}
