package evidence

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/install"
	"github.com/guardcm/guard/internal/gittest"
)

// sentinelToken must never appear in a document or an error.
const sentinelToken = "ghp_SENTINEL0123456789abcdefSENTINEL"

var protectionNow = time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC)

// replay answers GitHub requests from testdata/github: routes maps a path
// (with the query) to "STATUS file.json". A request without the sentinel
// bearer token gets the recorded 401.
type replay struct {
	t      *testing.T
	routes map[string]string
	mu     sync.Mutex
	paths  []string
}

func (r *replay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.paths = append(r.paths, req.URL.RequestURI())
	r.mu.Unlock()
	serve := func(status int, file string) {
		data, err := os.ReadFile(filepath.Join("testdata", "github", file))
		if err != nil {
			r.t.Errorf("replay: %v", err)
			w.WriteHeader(500)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write(data)
	}
	if req.Header.Get("Authorization") != "Bearer "+sentinelToken {
		serve(401, "bad-credentials.json")
		return
	}
	if req.Header.Get("X-GitHub-Api-Version") != "2022-11-28" || req.Header.Get("Accept") != "application/vnd.github+json" {
		r.t.Errorf("replay: request without GitHub's version and media type headers: %v", req.Header)
	}
	route, ok := r.routes[req.URL.RequestURI()]
	if !ok {
		serve(404, "not-found.json")
		return
	}
	status, file, _ := strings.Cut(route, " ")
	n := 0
	for _, c := range status {
		n = n*10 + int(c-'0')
	}
	serve(n, file)
}

const (
	protectionPath = "/repos/acme/api/branches/main/protection"
	rulesPath      = "/repos/acme/api/rules/branches/main?per_page=100&page=1"
)

// protectionRepo is a clone with guard's hooks installed (or not).
func protectionRepo(t *testing.T, installed bool) string {
	t.Helper()
	gitEnv(t)
	work, _ := newClone(t)
	gittest.CommitAt(t, work, "2026-11-20T10:00:00Z", "init\n\nChange-Category: normal", "a.txt", "a\n")
	if installed {
		bin, err := exec.LookPath("git")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := install.Install(context.Background(), openRepo(t, work), install.Options{Binary: bin}); err != nil {
			t.Fatal(err)
		}
	}
	return work
}

func runProtection(t *testing.T, work string, routes map[string]string, token string) (*Document, []byte, *replay, error) {
	t.Helper()
	repo := openRepo(t, work)
	o := ProtectionOptions{Repo: repo, Config: config.Defaults(), Now: protectionNow, Generator: "guard test"}
	var rp *replay
	var base string
	if routes != nil {
		rp = &replay{t: t, routes: routes}
		srv := httptest.NewServer(rp)
		t.Cleanup(srv.Close)
		base = srv.URL
		o.GitHub = &GitHub{BaseURL: srv.URL, Token: token}
		o.Host, o.Owner, o.Name = "github.com", "acme", "api"
	}
	doc, err := BranchProtection(context.Background(), o)
	if err != nil {
		return nil, nil, rp, err
	}
	data, err := Encode(doc)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), token) && token != "" {
		t.Fatal("the token is in the document")
	}
	if base != "" {
		data = []byte(strings.ReplaceAll(string(data), base, "<github>"))
	}
	return doc, data, rp, nil
}

func findingRules(doc *Document) string {
	var rs []string
	for _, f := range doc.Findings {
		rs = append(rs, f.Rule+":"+string(f.Severity))
	}
	return strings.Join(rs, " ")
}

func TestBranchProtectionGolden(t *testing.T) {
	for _, tc := range []struct {
		name      string
		installed bool
		routes    map[string]string
		rules     string
		check     func(t *testing.T, p *Protection)
	}{
		{
			name: "no-token", installed: true,
			rules: "provider-not-checked:notice",
			check: func(t *testing.T, p *Protection) {
				if p.Provider != nil {
					t.Error("provider asked without a token")
				}
				for _, h := range p.Local.Hooks {
					if h.State != HookInstalled || h.Path != ".git/hooks/"+h.Hook {
						t.Errorf("hook %+v", h)
					}
				}
			},
		},
		{
			name: "protected", installed: true,
			routes: map[string]string{protectionPath: "200 protection-reviews.json", rulesPath: "200 rules-empty.json"},
			rules:  "",
			check: func(t *testing.T, p *Protection) {
				g := p.Provider
				if !g.Protected || g.RequiredApprovals != 1 || strings.Join(g.RequiredStatusChecks, ",") != "guard check,test" || !g.Classic.EnforceAdmins {
					t.Errorf("%+v %+v", g, g.Classic)
				}
			},
		},
		{
			name: "unprotected", installed: false,
			routes: map[string]string{protectionPath: "404 not-protected.json", rulesPath: "200 rules-empty.json"},
			rules:  "hooks-not-installed:warning no-branch-protection:error",
			check: func(t *testing.T, p *Protection) {
				if p.Provider.Protected || p.Provider.Classic != nil {
					t.Errorf("%+v", p.Provider)
				}
				for _, h := range p.Local.Hooks {
					if h.State != HookMissing {
						t.Errorf("hook %+v", h)
					}
				}
			},
		},
		{
			name: "no-reviews", installed: true,
			routes: map[string]string{protectionPath: "200 protection-no-reviews.json", rulesPath: "200 rules-empty.json"},
			rules:  "no-required-reviews:error no-required-checks:warning admins-bypass:warning force-push-allowed:warning",
		},
		{
			name: "ruleset", installed: true,
			routes: map[string]string{protectionPath: "404 not-protected.json", rulesPath: "200 rules-ruleset.json"},
			rules:  "",
			check: func(t *testing.T, p *Protection) {
				g := p.Provider
				if !g.Protected || g.Classic != nil || g.RequiredApprovals != 1 || strings.Join(g.RequiredStatusChecks, ",") != "test" || len(g.Rules) != 4 {
					t.Errorf("%+v", g)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			work := protectionRepo(t, tc.installed)
			doc, data, _, err := runProtection(t, work, tc.routes, sentinelToken)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "branch-protection-"+tc.name+".json", data)
			if got := findingRules(doc); got != tc.rules {
				t.Errorf("findings %q, want %q", got, tc.rules)
			}
			if tc.check != nil {
				tc.check(t, doc.Items.(*Protection))
			}
		})
	}
}

func TestBranchProtectionErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		routes map[string]string
		token  string
		status int
		hint   string
	}{
		{"bad-token", map[string]string{protectionPath: "200 protection-reviews.json"}, "ghp_wrong", 401, "GITHUB_TOKEN was rejected"},
		{"forbidden", map[string]string{protectionPath: "403 forbidden.json"}, sentinelToken, 403, "Administration: read"},
		{"not-found", map[string]string{}, sentinelToken, 404, "check the repository"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			work := protectionRepo(t, true)
			_, _, _, err := runProtection(t, work, tc.routes, tc.token)
			var ge *GitHubError
			if !errors.As(err, &ge) || ge.Status != tc.status {
				t.Fatalf("err = %v, want a GitHub %d", err, tc.status)
			}
			if !strings.Contains(ge.Hint(), tc.hint) {
				t.Errorf("hint %q", ge.Hint())
			}
			if strings.Contains(err.Error(), tc.token) || strings.Contains(err.Error(), sentinelToken) {
				t.Errorf("the token is in the error: %v", err)
			}
		})
	}
}

// The digest is of the effective configuration: a file that spells out
// the defaults has the digest of no file; any change moves it.
func TestConfigDigest(t *testing.T) {
	d0, err := ConfigDigest(config.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	same, err := config.Parse("guard.toml", []byte("remote = \"origin\"\nbranch = \"main\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := ConfigDigest(same); d != d0 {
		t.Errorf("defaults spelled out: digest %s, want %s", d, d0)
	}
	other, err := config.Parse("guard.toml", []byte("protected = [\"main\", \"release/*\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := ConfigDigest(other); d == d0 {
		t.Error("a different configuration has the same digest")
	}
	canon, err := Canonical(config.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(canon), `{"branch":"main","categories":{"major":[],`) {
		t.Errorf("canonical JSON is not compact with sorted keys: %s", canon)
	}
	if strings.Contains(string(canon), "\n") {
		t.Errorf("canonical JSON has a line break: %s", canon)
	}
}
