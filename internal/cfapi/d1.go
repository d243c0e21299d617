package cfapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
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
	body, err := c.send(ctx, http.MethodGet, u, nil, "", true)
	if err != nil {
		return "", err
	}
	var env struct {
		Result *struct {
			Bookmark string `json:"bookmark"`
		} `json:"result"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return "", fmt.Errorf("answer is not JSON: %w", err)
	}
	if env.Result == nil || env.Result.Bookmark == "" {
		return "", fmt.Errorf("answer has no result.bookmark")
	}
	return env.Result.Bookmark, nil
}

// maxAnswer bounds what a plain net/http call reads (an evidence document
// or an API envelope).
const maxAnswer = 64 << 20

// send makes one plain net/http call with the client's token and timeout
// and returns the body of a 2xx answer. Any other answer, or a JSON
// envelope with "success": false when the answer is an API envelope (not
// an object's raw bytes), is an *envelopeError carrying Cloudflare's
// codes; retry and wrap treat it like cloudflare-go's errors.
func (c *Client) send(ctx context.Context, method, u string, body []byte, contentType string, envelope bool) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxAnswer {
		return nil, fmt.Errorf("answer larger than %d bytes", maxAnswer)
	}
	var env struct {
		Success *bool `json:"success"`
		Errors  []struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	isJSON := strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && json.Unmarshal(data, &env) == nil
	if resp.StatusCode >= 300 || (envelope && isJSON && env.Success != nil && !*env.Success) {
		ee := &envelopeError{status: resp.StatusCode}
		for _, e := range env.Errors {
			ee.errors = append(ee.errors, CodeMessage{Code: e.Code, Message: e.Message})
		}
		return nil, ee
	}
	return data, nil
}
