package evidence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/guardcm/guard/internal/redact"
)

// DefaultGitHubAPI is github.com's REST API; GITHUB_API_URL overrides it
// (GitHub Enterprise Server, tests).
const DefaultGitHubAPI = "https://api.github.com"

var (
	ownerRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`) })
	repoRe  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`) })
)

// RemoteRepo is a hosted repository named by a remote URL.
type RemoteRepo struct {
	// Host is lower-case, without port or credentials.
	Host  string
	Owner string
	Name  string
}

// FullName is "owner/name".
func (r RemoteRepo) FullName() string { return r.Owner + "/" + r.Name }

// ParseRemoteURL reads host, owner and repository from a git remote URL:
// https://host/owner/repo(.git), ssh://[user@]host[:port]/owner/repo(.git),
// git://host/owner/repo, and the scp-like [user@]host:owner/repo(.git).
// Credentials in the URL are dropped, never returned. Local paths and
// URLs whose path is not exactly owner/repo are errors.
func ParseRemoteURL(raw string) (RemoteRepo, error) {
	s := strings.TrimSpace(raw)
	bad := func(why string) (RemoteRepo, error) {
		return RemoteRepo{}, fmt.Errorf("remote URL %s: %s", redact.URLs(s), why)
	}
	if s == "" {
		return RemoteRepo{}, errors.New("empty remote URL")
	}
	var host, p string
	if i := strings.Index(s, "://"); i >= 0 {
		scheme := strings.ToLower(s[:i])
		switch scheme {
		case "https", "http", "ssh", "git", "git+ssh", "ssh+git":
		default:
			return bad(fmt.Sprintf("scheme %q does not name a hosted repository", scheme))
		}
		u, err := url.Parse(s)
		if err != nil {
			return bad("not a valid URL")
		}
		host, p = u.Hostname(), u.Path
	} else {
		// scp-like: a colon before the first slash (git's own rule).
		colon := strings.IndexByte(s, ':')
		if strings.HasPrefix(s, "[") {
			// [host]:path or [user@host]:path (IPv6 addresses hold colons).
			if end := strings.IndexByte(s, ']'); end > 0 && end+1 < len(s) && s[end+1] == ':' {
				colon = end + 1
			}
		}
		slash := strings.IndexByte(s, '/')
		if colon <= 0 || (slash >= 0 && slash < colon) {
			return bad("a local path, not a hosted repository")
		}
		host, p = s[:colon], s[colon+1:]
		if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
			host = host[1 : len(host)-1]
		}
		if at := strings.LastIndexByte(host, '@'); at >= 0 {
			host = host[at+1:]
		}
		if len(host) == 1 {
			return bad("a drive letter, not a host")
		}
	}
	host = strings.ToLower(host)
	if host == "" || strings.ContainsAny(host, "/@ \t") {
		return bad("no host")
	}
	p = strings.Trim(p, "/")
	p = strings.TrimSuffix(p, ".git")
	parts := strings.Split(p, "/")
	if len(parts) != 2 {
		return bad("the path is not owner/repository")
	}
	owner, name := parts[0], parts[1]
	if !ownerRe().MatchString(owner) || !repoRe().MatchString(name) || name == "." || name == ".." {
		return bad("the path is not owner/repository")
	}
	return RemoteRepo{Host: host, Owner: owner, Name: name}, nil
}

// ParseRepository reads GITHUB_REPOSITORY's "owner/repo".
func ParseRepository(s string) (owner, name string, err error) {
	o, n, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok || !ownerRe().MatchString(o) || !repoRe().MatchString(n) || n == "." || n == ".." {
		return "", "", fmt.Errorf("GITHUB_REPOSITORY %q is not owner/repository", s)
	}
	return o, n, nil
}

// GitHub is a minimal read-only GitHub REST client for branch protection.
type GitHub struct {
	// BaseURL is the API root (DefaultGitHubAPI when "").
	BaseURL string
	// Token is sent as a bearer token and nowhere else.
	Token string
	HTTP  *http.Client
}

// GitHubError is a GitHub answer guard could not use. Its text never
// contains the token.
type GitHubError struct {
	Status  int
	Message string
	URL     string
}

func (e *GitHubError) Error() string {
	msg := fmt.Sprintf("the GitHub API answered %d to %s", e.Status, e.URL)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Hint says how to fix the failure, for the CLI.
func (e *GitHubError) Hint() string {
	switch e.Status {
	case http.StatusUnauthorized:
		return "GITHUB_TOKEN was rejected: create a new token and export it as GITHUB_TOKEN"
	case http.StatusForbidden:
		return "reading branch protection needs a token with the repository's Administration: read permission (classic tokens: repo scope)"
	case http.StatusNotFound:
		return "check the repository (GITHUB_REPOSITORY or the remote URL) and the branch, and that the token can see the repository"
	}
	return ""
}

// ClassicProtection is what GET /repos/{o}/{r}/branches/{b}/protection
// reports, reduced to what the policy asks about.
type ClassicProtection struct {
	RequiredApprovals       int      `json:"required_approvals"`
	RequiresPullRequest     bool     `json:"requires_pull_request"`
	DismissStaleReviews     bool     `json:"dismiss_stale_reviews"`
	RequireCodeOwnerReviews bool     `json:"require_code_owner_reviews"`
	RequiredStatusChecks    []string `json:"required_status_checks"`
	StrictStatusChecks      bool     `json:"strict_status_checks"`
	EnforceAdmins           bool     `json:"enforce_admins"`
	AllowForcePushes        bool     `json:"allow_force_pushes"`
	AllowDeletions          bool     `json:"allow_deletions"`
	RequiredLinearHistory   bool     `json:"required_linear_history"`
}

// BranchRule is one rule of the repository rulesets that apply to the
// branch (GET /repos/{o}/{r}/rules/branches/{b}).
type BranchRule struct {
	Type          string `json:"type"`
	RulesetSource string `json:"ruleset_source"`
	RulesetID     int64  `json:"ruleset_id"`
	// RequiredApprovals is set for "pull_request" rules.
	RequiredApprovals    int      `json:"required_approvals,omitempty"`
	RequiredStatusChecks []string `json:"required_status_checks,omitempty"`
}

// GitHubProtection is the hosting provider's protection of the branch.
type GitHubProtection struct {
	Provider   string `json:"provider"`
	Host       string `json:"host"`
	Repository string `json:"repository"`
	Branch     string `json:"branch"`
	// Classic is nil when GitHub answers "Branch not protected".
	Classic *ClassicProtection `json:"classic"`
	// Rules is nil when the rules endpoint is not available (older GitHub
	// Enterprise Server); RulesNote says why.
	Rules     []BranchRule `json:"rules"`
	RulesNote string       `json:"rules_note,omitempty"`
	// The effective requirements, over classic protection and rulesets.
	Protected            bool     `json:"protected"`
	RequiredApprovals    int      `json:"required_approvals"`
	RequiredStatusChecks []string `json:"required_status_checks"`
}

const maxGitHubBody = 4 << 20

// get fetches path (under BaseURL) and returns the status and body. A
// non-2xx answer is returned as status and body, not as an error.
func (g *GitHub) get(ctx context.Context, p string) (int, []byte, string, error) {
	base := strings.TrimRight(g.BaseURL, "/")
	if base == "" {
		base = DefaultGitHubAPI
	}
	u := base + p
	shown := redact.URLs(u)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, shown, fmt.Errorf("the GitHub API request %s failed: %w", shown, err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("User-Agent", "guard")
	req.Header.Set("Authorization", "Bearer "+g.Token)
	client := g.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error carries the URL only, never the header.
		return 0, nil, shown, fmt.Errorf("the GitHub API request %s failed: %w", shown, scrubErr(err, u, shown))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxGitHubBody))
	if err != nil {
		return 0, nil, shown, fmt.Errorf("the GitHub API request %s failed reading the answer: %w", shown, err)
	}
	return resp.StatusCode, body, shown, nil
}

func scrubErr(err error, u, shown string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return errors.New(strings.ReplaceAll(ue.Err.Error(), u, shown))
	}
	return err
}

func githubMessage(body []byte) string {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &m) == nil {
		return m.Message
	}
	return ""
}

// BranchProtection reads the classic protection and the active ruleset
// rules of owner/repo's branch. An unprotected branch is not an error: the
// result says Protected false. 401, 403 and a 404 other than "Branch not
// protected" are *GitHubError.
func (g *GitHub) BranchProtection(ctx context.Context, host, owner, repo, branch string) (*GitHubProtection, []Source, error) {
	res := &GitHubProtection{Provider: "github", Host: host, Repository: owner + "/" + repo, Branch: branch, RequiredStatusChecks: []string{}}
	base := "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(repo)
	var sources []Source

	status, body, shown, err := g.get(ctx, base+"/branches/"+url.PathEscape(branch)+"/protection")
	if err != nil {
		return nil, nil, err
	}
	sources = append(sources, Source{Kind: "github-api", Name: shown, Revision: fmt.Sprint(status)})
	switch {
	case status == http.StatusOK:
		c, err := parseClassic(body)
		if err != nil {
			return nil, nil, fmt.Errorf("the GitHub API answer to %s: %w", shown, err)
		}
		res.Classic = c
	case status == http.StatusNotFound && strings.EqualFold(githubMessage(body), "Branch not protected"):
	default:
		return nil, nil, &GitHubError{Status: status, Message: githubMessage(body), URL: shown}
	}

	rules, rsrc, err := g.branchRules(ctx, base+"/rules/branches/"+url.PathEscape(branch))
	if err != nil {
		return nil, nil, err
	}
	sources = append(sources, rsrc)
	if rsrc.Note != "" {
		res.RulesNote = rsrc.Note
	} else {
		res.Rules = rules
	}

	checks := map[string]bool{}
	if c := res.Classic; c != nil {
		res.Protected = true
		res.RequiredApprovals = c.RequiredApprovals
		for _, x := range c.RequiredStatusChecks {
			checks[x] = true
		}
	}
	for _, r := range res.Rules {
		res.Protected = true
		res.RequiredApprovals = max(res.RequiredApprovals, r.RequiredApprovals)
		for _, x := range r.RequiredStatusChecks {
			checks[x] = true
		}
	}
	for x := range checks {
		res.RequiredStatusChecks = append(res.RequiredStatusChecks, x)
	}
	sort.Strings(res.RequiredStatusChecks)
	return res, sources, nil
}

// branchRules pages through the rules endpoint. A 404 means the endpoint
// (or the feature) is not available there: noted, not an error.
func (g *GitHub) branchRules(ctx context.Context, p string) ([]BranchRule, Source, error) {
	out := []BranchRule{}
	const perPage = 100
	var first Source
	for page := 1; page <= 10; page++ {
		status, body, shown, err := g.get(ctx, fmt.Sprintf("%s?per_page=%d&page=%d", p, perPage, page))
		if err != nil {
			return nil, Source{}, err
		}
		if page == 1 {
			first = Source{Kind: "github-api", Name: shown, Revision: fmt.Sprint(status)}
		}
		switch status {
		case http.StatusOK:
		case http.StatusNotFound:
			first.Note = "rulesets not available: " + githubMessage(body)
			return nil, first, nil
		default:
			return nil, Source{}, &GitHubError{Status: status, Message: githubMessage(body), URL: shown}
		}
		var raw []struct {
			Type              string `json:"type"`
			RulesetSource     string `json:"ruleset_source"`
			RulesetID         int64  `json:"ruleset_id"`
			RulesetSourceType string `json:"ruleset_source_type"`
			Parameters        struct {
				RequiredApprovingReviewCount int `json:"required_approving_review_count"`
				RequiredStatusChecks         []struct {
					Context string `json:"context"`
				} `json:"required_status_checks"`
			} `json:"parameters"`
		}
		if err := json.Unmarshal(body, &raw); err != nil {
			return nil, Source{}, fmt.Errorf("the GitHub API answer to %s: unexpected content: %w", shown, err)
		}
		for _, r := range raw {
			br := BranchRule{Type: r.Type, RulesetSource: r.RulesetSource, RulesetID: r.RulesetID}
			if r.Type == "pull_request" {
				br.RequiredApprovals = r.Parameters.RequiredApprovingReviewCount
			}
			for _, c := range r.Parameters.RequiredStatusChecks {
				br.RequiredStatusChecks = append(br.RequiredStatusChecks, c.Context)
			}
			sort.Strings(br.RequiredStatusChecks)
			out = append(out, br)
		}
		if len(raw) < perPage {
			break
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].RulesetID != out[j].RulesetID {
			return out[i].RulesetID < out[j].RulesetID
		}
		return out[i].Type < out[j].Type
	})
	return out, first, nil
}

func parseClassic(body []byte) (*ClassicProtection, error) {
	var raw struct {
		RequiredStatusChecks *struct {
			Strict   bool     `json:"strict"`
			Contexts []string `json:"contexts"`
			Checks   []struct {
				Context string `json:"context"`
			} `json:"checks"`
		} `json:"required_status_checks"`
		RequiredPullRequestReviews *struct {
			DismissStaleReviews          bool `json:"dismiss_stale_reviews"`
			RequireCodeOwnerReviews      bool `json:"require_code_owner_reviews"`
			RequiredApprovingReviewCount int  `json:"required_approving_review_count"`
		} `json:"required_pull_request_reviews"`
		EnforceAdmins         *struct{ Enabled bool } `json:"enforce_admins"`
		AllowForcePushes      *struct{ Enabled bool } `json:"allow_force_pushes"`
		AllowDeletions        *struct{ Enabled bool } `json:"allow_deletions"`
		RequiredLinearHistory *struct{ Enabled bool } `json:"required_linear_history"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("unexpected answer: %w", err)
	}
	c := &ClassicProtection{RequiredStatusChecks: []string{}}
	if r := raw.RequiredPullRequestReviews; r != nil {
		c.RequiresPullRequest = true
		c.RequiredApprovals = r.RequiredApprovingReviewCount
		c.DismissStaleReviews = r.DismissStaleReviews
		c.RequireCodeOwnerReviews = r.RequireCodeOwnerReviews
	}
	if s := raw.RequiredStatusChecks; s != nil {
		c.StrictStatusChecks = s.Strict
		seen := map[string]bool{}
		for _, x := range s.Contexts {
			seen[x] = true
		}
		for _, x := range s.Checks {
			seen[x.Context] = true
		}
		for x := range seen {
			c.RequiredStatusChecks = append(c.RequiredStatusChecks, x)
		}
		sort.Strings(c.RequiredStatusChecks)
	}
	c.EnforceAdmins = raw.EnforceAdmins != nil && raw.EnforceAdmins.Enabled
	c.AllowForcePushes = raw.AllowForcePushes != nil && raw.AllowForcePushes.Enabled
	c.AllowDeletions = raw.AllowDeletions != nil && raw.AllowDeletions.Enabled
	c.RequiredLinearHistory = raw.RequiredLinearHistory != nil && raw.RequiredLinearHistory.Enabled
	return c, nil
}
