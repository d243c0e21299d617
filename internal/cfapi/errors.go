package cfapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cloudflare/cloudflare-go/v6/workers"
)

// Cloudflare error codes guard branches on.
const (
	CodeAuthentication = 10000 // bad or missing token
	CodeWorkerNotFound = 10007 // no such worker (script)
)

// CodeMessage is one entry of Cloudflare's "errors" array.
type CodeMessage struct {
	Code    int
	Message string
}

// APIError is a failed Cloudflare API call. StatusCode is 0 when no HTTP
// answer arrived (connection refused or dropped, timeout); Err then holds the
// transport error.
type APIError struct {
	Op         string
	StatusCode int
	Errors     []CodeMessage
	Err        error
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("cloudflare api: ")
	b.WriteString(e.Op)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": HTTP %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	for i, m := range e.Errors {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s [code %d]", m.Message, m.Code)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *APIError) Unwrap() error { return e.Err }

// HasCode reports whether Cloudflare answered with this error code.
func (e *APIError) HasCode(code int) bool {
	for _, m := range e.Errors {
		if m.Code == code {
			return true
		}
	}
	return false
}

// IsNotFound reports whether err says the worker, version or database does
// not exist (HTTP 404 or code 10007).
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && (ae.StatusCode == http.StatusNotFound || ae.HasCode(CodeWorkerNotFound))
}

// IsUnauthorized reports whether the token was refused.
func IsUnauthorized(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && (ae.StatusCode == http.StatusUnauthorized || ae.StatusCode == http.StatusForbidden || ae.HasCode(CodeAuthentication))
}

// scrubbedError carries the text of an error with the token removed; the
// original error is not kept, so nothing can print it later.
type scrubbedError struct {
	msg      string
	timeout  bool
	canceled bool
}

func (s *scrubbedError) Error() string { return s.msg }

func (s *scrubbedError) Is(target error) bool {
	return (s.timeout && target == context.DeadlineExceeded) || (s.canceled && target == context.Canceled)
}

// scrub removes the token from text. Tokens shorter than four characters
// are not searched for: they would mangle ordinary words and are not real
// Cloudflare tokens.
func (c *Client) scrub(text string) string {
	if len(c.token) >= 4 {
		text = strings.ReplaceAll(text, c.token, "[REDACTED]")
	}
	return text
}

// wrap turns an error of cloudflare-go or net/http into an *APIError.
func (c *Client) wrap(op string, err error) *APIError {
	var cf *workers.Error
	if errors.As(err, &cf) {
		ae := &APIError{Op: op, StatusCode: cf.StatusCode}
		for _, d := range cf.Errors {
			ae.Errors = append(ae.Errors, CodeMessage{Code: int(d.Code), Message: c.scrub(d.Message)})
		}
		return ae
	}
	var ee *envelopeError
	if errors.As(err, &ee) {
		ae := &APIError{Op: op, StatusCode: ee.status}
		for _, m := range ee.errors {
			ae.Errors = append(ae.Errors, CodeMessage{Code: m.Code, Message: c.scrub(m.Message)})
		}
		return ae
	}
	return &APIError{Op: op, Err: &scrubbedError{
		msg:      c.scrub(err.Error()),
		timeout:  errors.Is(err, context.DeadlineExceeded),
		canceled: errors.Is(err, context.Canceled),
	}}
}

// retryable reports whether a failed attempt may succeed when repeated.
func retryable(ctx context.Context, ae *APIError) bool {
	if ctx.Err() != nil {
		return false
	}
	if ae.StatusCode == 0 {
		return !errors.Is(ae, context.Canceled)
	}
	return ae.StatusCode == http.StatusTooManyRequests || ae.StatusCode >= 500
}

// retry runs call until it succeeds, fails for good, or the retries are
// spent. Only reads are made through it, so repeating is safe.
func (c *Client) retry(ctx context.Context, op string, call func() error) error {
	delay := c.backoff
	for attempt := 0; ; attempt++ {
		err := call()
		if err == nil {
			return nil
		}
		ae := c.wrap(op, err)
		if attempt >= c.retries || !retryable(ctx, ae) {
			if attempt > 0 {
				ae.Op = fmt.Sprintf("%s (after %d attempts)", op, attempt+1)
			}
			return ae
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return c.wrap(op, ctx.Err())
		case <-t.C:
		}
		delay = min(delay*2, maxBackoff)
	}
}
