// Package cfapi is guard's thin client of the Cloudflare v4 API: a
// worker's deployments and versions (with the annotations guard writes
// through wrangler: workers/tag = commit, workers/message = subject), the
// D1 Time Travel bookmark taken before migrations, and R2 buckets, their
// lock rules and objects for the evidence store (r2.go; the only writes).
//
// Contract:
//   - Workers and R2 bucket calls go through cloudflare-go v6, packages
//     workers, r2 and option only (never the root package, which would pull
//     in every Cloudflare product); services are built with
//     workers.NewScript*Service and r2.NewBucket*Service.
//   - The base URL is, in order: WithBaseURL, $CLOUDFLARE_BASE_URL (the name
//     cloudflare-go reads), $CLOUDFLARE_API_BASE_URL (the name wrangler
//     reads), then DefaultBaseURL; so one emulator URL serves both tools.
//   - Every attempt has a timeout and failures are retried a bounded number
//     of times (5xx, 429, transport errors) with a short backoff that honours
//     ctx; cloudflare-go's own retries (up to 10, backing off up to 30 s) are
//     switched off because an incident cannot wait for them.
//   - Errors are *APIError values carrying the HTTP status and Cloudflare's
//     error codes and messages. The token never appears in an error: it is
//     only ever placed in the Authorization header, and any text that could
//     echo it is scrubbed anyway.
package cfapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/cloudflare/cloudflare-go/v6/option"
	"github.com/cloudflare/cloudflare-go/v6/workers"
)

// DefaultBaseURL is Cloudflare's production API.
const DefaultBaseURL = "https://api.cloudflare.com/client/v4"

const (
	defaultTimeout  = 30 * time.Second
	defaultRetries  = 2
	defaultBackoff  = 250 * time.Millisecond
	maxBackoff      = 2 * time.Second
	defaultPageSize = 100 // the largest page the versions list serves
	maxPages        = 1000
)

// ErrNoDeployments is returned by LatestDeployment for a worker that has
// never been deployed.
var ErrNoDeployments = errors.New("worker has no deployments")

// Client reads one account's workers and D1 databases.
type Client struct {
	token      string
	accountID  string
	baseURL    string
	timeout    time.Duration
	retries    int
	backoff    time.Duration
	pageSize   int
	httpClient *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithBaseURL sets the API base URL (e.g. the emulator's
// "http://127.0.0.1:PORT/client/v4"), overriding the environment.
func WithBaseURL(u string) Option { return func(c *Client) { c.baseURL = u } }

// WithTimeout bounds each HTTP attempt (default 30 s).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithRetries sets how many times a failed call is retried (default 2;
// 0 disables retries).
func WithRetries(n int) Option { return func(c *Client) { c.retries = max(0, n) } }

// WithBackoff sets the first retry delay (default 250 ms, doubling, at most
// 2 s).
func WithBackoff(d time.Duration) Option { return func(c *Client) { c.backoff = d } }

// WithPageSize sets the page size used to list versions (default 100).
func WithPageSize(n int) Option { return func(c *Client) { c.pageSize = max(1, n) } }

// WithHTTPClient replaces http.DefaultClient.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.httpClient = h } }

// New returns a client for accountID authenticating with token.
func New(token, accountID string, opts ...Option) *Client {
	c := &Client{
		token:      token,
		accountID:  accountID,
		timeout:    defaultTimeout,
		retries:    defaultRetries,
		backoff:    defaultBackoff,
		pageSize:   defaultPageSize,
		httpClient: http.DefaultClient,
	}
	for _, o := range opts {
		o(c)
	}
	if c.baseURL == "" {
		c.baseURL = BaseURLFromEnv()
	}
	c.baseURL = strings.TrimRight(c.baseURL, "/")
	return c
}

// BaseURLFromEnv returns the base URL the environment selects (see the
// package contract), or DefaultBaseURL.
func BaseURLFromEnv() string {
	for _, name := range []string{"CLOUDFLARE_BASE_URL", "CLOUDFLARE_API_BASE_URL"} {
		if v := strings.TrimSpace(os.Getenv(name)); v != "" {
			return v
		}
	}
	return DefaultBaseURL
}

// BaseURL returns the base URL the client talks to.
func (c *Client) BaseURL() string { return c.baseURL }

func (c *Client) options() []option.RequestOption {
	return []option.RequestOption{
		option.WithBaseURL(c.baseURL + "/"),
		option.WithAPIToken(c.token),
		option.WithHTTPClient(c.httpClient),
		option.WithRequestTimeout(c.timeout),
		option.WithMaxRetries(0), // retried here, with bounds that suit guard
	}
}

// DeploymentVersion is one version's share of a deployment.
type DeploymentVersion struct {
	VersionID  string  `json:"version_id"`
	Percentage float64 `json:"percentage"`
}

// Deployment is a worker deployment.
type Deployment struct {
	ID          string
	CreatedOn   time.Time
	Source      string
	AuthorEmail string
	Message     string // annotation workers/message
	TriggeredBy string // annotation workers/triggered_by
	// RollbackFrom is the deployment a rollback replaced (annotation
	// workers/rollback_from), when Cloudflare records one.
	RollbackFrom string
	Versions     []DeploymentVersion
}

// Serves reports whether the deployment sends all traffic to versionID.
func (d *Deployment) Serves(versionID string) bool {
	return len(d.Versions) == 1 && d.Versions[0].VersionID == versionID && d.Versions[0].Percentage == 100
}

// Version is a worker version.
type Version struct {
	ID          string
	Number      int
	CreatedOn   time.Time
	AuthorEmail string
	Source      string
	Tag         string // annotation workers/tag (guard: the full commit SHA)
	Message     string // annotation workers/message
	TriggeredBy string // annotation workers/triggered_by
}

func (c *Client) check(op string) error {
	if c.token == "" {
		return &APIError{Op: op, Err: errors.New("no API token (set CLOUDFLARE_API_TOKEN)")}
	}
	if c.accountID == "" {
		return &APIError{Op: op, Err: errors.New("no account ID (set CLOUDFLARE_ACCOUNT_ID or account_id in the wrangler configuration)")}
	}
	return nil
}

// Deployments returns the worker's deployments, newest first.
func (c *Client) Deployments(ctx context.Context, script string) ([]Deployment, error) {
	op := fmt.Sprintf("list deployments of worker %q", script)
	if err := c.check(op); err != nil {
		return nil, err
	}
	svc := workers.NewScriptDeploymentService(c.options()...)
	var params workers.ScriptDeploymentListParams
	params.AccountID.Value, params.AccountID.Present = c.accountID, true
	var res *workers.ScriptDeploymentListResponse
	err := c.retry(ctx, op, func() error {
		var err error
		res, err = svc.List(ctx, script, params)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]Deployment, 0, len(res.Deployments))
	for _, d := range res.Deployments {
		dep := Deployment{
			ID:          d.ID,
			CreatedOn:   d.CreatedOn,
			Source:      d.Source,
			AuthorEmail: d.AuthorEmail,
			Message:     d.Annotations.WorkersMessage,
			TriggeredBy: d.Annotations.WorkersTriggeredBy,
		}
		if f, ok := d.Annotations.JSON.ExtraFields["workers/rollback_from"]; ok {
			_ = json.Unmarshal([]byte(f.Raw()), &dep.RollbackFrom) // absent or not a string: stays empty
		}
		for _, v := range d.Versions {
			dep.Versions = append(dep.Versions, DeploymentVersion{VersionID: v.VersionID, Percentage: v.Percentage})
		}
		out = append(out, dep)
	}
	// The API lists the active deployment first; sort anyway so that callers
	// can rely on it whatever the server does.
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedOn.After(out[j].CreatedOn) })
	return out, nil
}

// LatestDeployment returns the deployment now serving traffic, or
// ErrNoDeployments.
func (c *Client) LatestDeployment(ctx context.Context, script string) (*Deployment, error) {
	ds, err := c.Deployments(ctx, script)
	if err != nil {
		return nil, err
	}
	if len(ds) == 0 {
		return nil, fmt.Errorf("worker %q: %w", script, ErrNoDeployments)
	}
	return &ds[0], nil
}

// annotations decodes the "annotations" object cloudflare-go leaves in
// ExtraFields (its version types have no such field).
func annotations(raw string) (map[string]string, error) {
	out := map[string]string{}
	if raw == "" || raw == "null" {
		return out, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, fmt.Errorf("version annotations are not a JSON object: %w", err)
	}
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out, nil
}

func parseTime(op, field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &APIError{Op: op, Err: fmt.Errorf("%s %q is not an RFC 3339 time", field, s)}
	}
	return t, nil
}

// Version returns one version of the worker.
func (c *Client) Version(ctx context.Context, script, versionID string) (*Version, error) {
	op := fmt.Sprintf("get version %s of worker %q", versionID, script)
	if err := c.check(op); err != nil {
		return nil, err
	}
	svc := workers.NewScriptVersionService(c.options()...)
	var params workers.ScriptVersionGetParams
	params.AccountID.Value, params.AccountID.Present = c.accountID, true
	var res *workers.ScriptVersionGetResponse
	err := c.retry(ctx, op, func() error {
		var err error
		res, err = svc.Get(ctx, script, versionID, params)
		return err
	})
	if err != nil {
		return nil, err
	}
	var raw string
	if f, ok := res.JSON.ExtraFields["annotations"]; ok {
		raw = f.Raw()
	}
	return buildVersion(op, res.ID, res.Number, res.Metadata.CreatedOn, res.Metadata.AuthorEmail, string(res.Metadata.Source), raw)
}

func buildVersion(op, id string, number float64, createdOn, author, source, rawAnnotations string) (*Version, error) {
	t, err := parseTime(op, "created_on", createdOn)
	if err != nil {
		return nil, err
	}
	ann, err := annotations(rawAnnotations)
	if err != nil {
		return nil, &APIError{Op: op, Err: err}
	}
	return &Version{
		ID:          id,
		Number:      int(number),
		CreatedOn:   t,
		AuthorEmail: author,
		Source:      source,
		Tag:         ann["workers/tag"],
		Message:     ann["workers/message"],
		TriggeredBy: ann["workers/triggered_by"],
	}, nil
}

// Versions returns every version of the worker, newest first, reading all
// pages. Pages are requested one by one here rather than with cloudflare-go's
// auto-pager, whose follow-up requests do not carry ctx.
func (c *Client) Versions(ctx context.Context, script string) ([]Version, error) {
	op := fmt.Sprintf("list versions of worker %q", script)
	if err := c.check(op); err != nil {
		return nil, err
	}
	svc := workers.NewScriptVersionService(c.options()...)
	var out []Version
	seen := map[string]bool{}
	for page := 1; ; page++ {
		if page > maxPages {
			return nil, &APIError{Op: op, Err: fmt.Errorf("more than %d pages of versions; the API keeps returning items", maxPages)}
		}
		var params workers.ScriptVersionListParams
		params.AccountID.Value, params.AccountID.Present = c.accountID, true
		params.Page.Value, params.Page.Present = int64(page), true
		params.PerPage.Value, params.PerPage.Present = int64(c.pageSize), true
		var res []workers.ScriptVersionListResponse
		err := c.retry(ctx, fmt.Sprintf("%s (page %d)", op, page), func() error {
			p, err := svc.List(ctx, script, params)
			if err != nil {
				return err
			}
			res = p.Result.Items
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(res) == 0 {
			break
		}
		for _, it := range res {
			if seen[it.ID] {
				// A page repeated items: the server ignores paging. Stop
				// rather than loop.
				return sortVersions(out), nil
			}
			seen[it.ID] = true
			var raw string
			if f, ok := it.JSON.ExtraFields["annotations"]; ok {
				raw = f.Raw()
			}
			v, err := buildVersion(op, it.ID, it.Number, it.Metadata.CreatedOn, it.Metadata.AuthorEmail, string(it.Metadata.Source), raw)
			if err != nil {
				return nil, err
			}
			out = append(out, *v)
		}
		// No early stop on a short page: a server may cap per_page below
		// what was asked, so only an empty page ends the list.
	}
	return sortVersions(out), nil
}

func sortVersions(vs []Version) []Version {
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].Number > vs[j].Number })
	return vs
}
