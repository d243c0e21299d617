package cfapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// D1Bookmark returns the current D1 Time Travel bookmark of a database, the
// point `wrangler d1 time-travel restore --bookmark` can return to.
//
// This one call is made with net/http directly: cloudflare-go has it only in
// its d1 package, and guard uses no cloudflare-go package but workers and
// option (see the package contract). It shares the client's base URL, token,
// timeout, retries and error type.
func (c *Client) D1Bookmark(ctx context.Context, databaseID string) (string, error) {
	op := fmt.Sprintf("get D1 Time Travel bookmark of database %s", databaseID)
	if err := c.check(op); err != nil {
		return "", err
	}
	if databaseID == "" {
		return "", &APIError{Op: op, Err: fmt.Errorf("empty database ID")}
	}
	u := fmt.Sprintf("%s/accounts/%s/d1/database/%s/time_travel/bookmark",
		c.baseURL, url.PathEscape(c.accountID), url.PathEscape(databaseID))
	var bookmark string
	err := c.retry(ctx, op, func() error {
		var err error
		bookmark, err = c.getBookmark(ctx, u)
		return err
	})
	if err != nil {
		return "", err
	}
	return bookmark, nil
}

// envelopeError lets retry/wrap treat a non-2xx answer of the plain
// net/http path like cloudflare-go's *workers.Error.
type envelopeError struct {
	status int
	errors []CodeMessage
}

func (e *envelopeError) Error() string { return fmt.Sprintf("HTTP %d", e.status) }

func (c *Client) getBookmark(ctx context.Context, u string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	var env struct {
		Success bool `json:"success"`
		Errors  []struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
		Result *struct {
			Bookmark string `json:"bookmark"`
		} `json:"result"`
	}
	jsonErr := json.Unmarshal(body, &env)
	if resp.StatusCode >= 300 || (jsonErr == nil && !env.Success) {
		ee := &envelopeError{status: resp.StatusCode}
		for _, e := range env.Errors {
			ee.errors = append(ee.errors, CodeMessage{Code: e.Code, Message: e.Message})
		}
		return "", ee
	}
	if jsonErr != nil {
		return "", fmt.Errorf("answer is not JSON: %w", jsonErr)
	}
	if env.Result == nil || env.Result.Bookmark == "" {
		return "", fmt.Errorf("answer has no result.bookmark")
	}
	return env.Result.Bookmark, nil
}
