package cfemu

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// edgeGet requests the worker's edge path, optionally pinned with the
// version-override header, and returns the status and answering version.
func edgeGet(t *testing.T, c *apiClient, worker, override string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", c.base+EdgePrefix+worker+"/health", nil)
	if err != nil {
		t.Fatal(err)
	}
	if override != "" {
		req.Header.Set(VersionOverridesHeader, override)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var got struct {
		VersionID string `json:"version_id"`
		Routed    string `json:"routed"`
	}
	if resp.StatusCode != 404 {
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("edge answer is not JSON: %s", body)
		}
		if got.VersionID != resp.Header.Get(EdgeVersionHeader) {
			t.Fatalf("body names %s, header %s", got.VersionID, resp.Header.Get(EdgeVersionHeader))
		}
	}
	return resp.StatusCode, got.VersionID
}

func deploySplit(t *testing.T, c *apiClient, worker string, shares ...any) {
	t.Helper()
	var vs []any
	for i := 0; i < len(shares); i += 2 {
		vs = append(vs, map[string]any{"version_id": shares[i], "percentage": shares[i+1]})
	}
	mustOK(t, c.json("POST", "/accounts/"+acct+"/workers/scripts/"+worker+"/deployments", map[string]any{"strategy": "percentage", "versions": vs}), "deploy split")
}

func TestEdgeSplitsOverridesAndHealth(t *testing.T) {
	e, c := newTestServer(t, WithClock(fixedClock))
	base := "/accounts/" + acct + "/workers/scripts/api"
	if st, _ := edgeGet(t, c, "api", ""); st != 404 {
		t.Fatalf("edge of a missing worker: %d", st)
	}
	var put struct {
		DeploymentID string `json:"deployment_id"`
	}
	json.Unmarshal(c.upload("PUT", base, "export default {}", map[string]string{"workers/tag": "c1"}).Result, &put)
	old := put.DeploymentID
	var ver struct{ ID string }
	json.Unmarshal(c.upload("POST", base+"/versions", "export default {v:2}", map[string]string{"workers/tag": "c2"}).Result, &ver)
	nv := ver.ID

	// Uploaded, not deployed: the edge still serves only the old version,
	// and an override naming a version outside the deployment is ignored.
	for i := 0; i < 5; i++ {
		if st, v := edgeGet(t, c, "api", `api="`+nv+`"`); st != 200 || v != old {
			t.Fatalf("before deployment: %d %s", st, v)
		}
	}

	// At 0 % only pinned requests reach the new version.
	deploySplit(t, c, "api", nv, 0, old, 100)
	for i := 0; i < 20; i++ {
		if _, v := edgeGet(t, c, "api", ""); v != old {
			t.Fatalf("request %d at 0%% reached %s", i, v)
		}
	}
	if _, v := edgeGet(t, c, "api", `other="x", api="`+nv+`"`); v != nv {
		t.Fatalf("pinned request reached %s", v)
	}
	if _, v := edgeGet(t, c, "api", `api=`+nv); v != old {
		t.Fatalf("an override that is not an sf-string pinned %s", v)
	}
	served := e.EdgeServed("api")
	if served[nv] != (EdgeCount{Override: 1}) || served[old].Percentage != 26 {
		t.Fatalf("served = %+v", served)
	}

	// At 10 % exactly one request in ten reaches the new version.
	deploySplit(t, c, "api", nv, 10, old, 90)
	n := 0
	for i := 0; i < 100; i++ {
		if _, v := edgeGet(t, c, "api", ""); v == nv {
			n++
		}
	}
	if n != 10 {
		t.Fatalf("at 10%%, %d of 100 requests reached the new version", n)
	}

	// A version made unhealthy by its tag answers 500, pinned or not.
	if err := e.SetVersionHealth(HealthRule{Worker: "api", Tag: "c2", Status: 503}); err != nil {
		t.Fatal(err)
	}
	if st, v := edgeGet(t, c, "api", `api="`+nv+`"`); st != 503 || v != nv {
		t.Fatalf("unhealthy pinned: %d %s", st, v)
	}
	if st, _ := edgeGet(t, c, "api", `api="`+old+`"`); st != 200 {
		t.Fatalf("healthy pinned old: %d", st)
	}
	e.ClearVersionHealth()
	if st, _ := edgeGet(t, c, "api", `api="`+nv+`"`); st != 200 {
		t.Fatalf("after ClearVersionHealth: %d", st)
	}
	if err := e.SetVersionHealth(HealthRule{Worker: "api"}); err == nil {
		t.Fatal("a rule without version or tag was accepted")
	}

	// Over the admin endpoints.
	resp, err := c.http.Post(c.base+AdminPrefix+"edge/health", "application/json", strings.NewReader(`{"worker":"api","version_id":"`+nv+`"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST edge/health: %v %v", err, resp)
	}
	resp.Body.Close()
	if st, _ := edgeGet(t, c, "api", `api="`+nv+`"`); st != 500 {
		t.Fatalf("admin rule: %d", st)
	}
	resp, err = c.http.Get(c.base + AdminPrefix + "edge?worker=api")
	if err != nil {
		t.Fatal(err)
	}
	var counts map[string]EdgeCount
	json.NewDecoder(resp.Body).Decode(&counts)
	resp.Body.Close()
	if counts[nv].Override != 4 || counts[nv].Percentage != 10 {
		t.Fatalf("admin counts = %+v", counts)
	}

	// Edge requests are not API requests: not in the log.
	for _, r := range e.Requests() {
		if strings.HasPrefix(r.Path, EdgePrefix) {
			t.Fatalf("edge request logged: %+v", r)
		}
	}
	mustFail(t, c.json("POST", base+"/deployments", map[string]any{"strategy": "percentage", "versions": []any{
		map[string]any{"version_id": nv, "percentage": 50}, map[string]any{"version_id": nv, "percentage": 50}}}), 400, codeBadRequest, "a version twice")
}

func TestParseStringDictionary(t *testing.T) {
	good := map[string]map[string]string{
		``:                             {},
		`a="1"`:                        {"a": "1"},
		`a="1",b="2"`:                  {"a": "1", "b": "2"},
		`a="1" ,	b="x\"y\\z"`:          {"a": "1", "b": `x"y\z`},
		`my-worker="v", my-worker="w"`: {"my-worker": "w"},
	}
	for in, want := range good {
		got, err := parseStringDictionary(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if len(got) != len(want) {
			t.Errorf("%q = %v", in, got)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%q[%s] = %q, want %q", in, k, got[k], v)
			}
		}
	}
	for _, in := range []string{`a=1`, `A="1"`, `a="1",`, `a="1`, `a="\x"`, `a="1";p`, `="1"`, "a=\"\x01\""} {
		if _, err := parseStringDictionary(in); err == nil {
			t.Errorf("%q parsed", in)
		}
	}
}

func FuzzParseStringDictionary(f *testing.F) {
	for _, s := range []string{`a="1"`, `a="1", b="x\"y"`, `a=1`, `api="0e1a"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseStringDictionary(s)
		if err != nil {
			return
		}
		for k, v := range m {
			if k == "" || strings.ContainsAny(v, "\x00\n") {
				t.Fatalf("%q: member %q=%q", s, k, v)
			}
		}
	})
}
