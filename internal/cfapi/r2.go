package cfapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cloudflare/cloudflare-go/v6/r2"
)

// R2 buckets, their lock rules and objects.
//
// Bucket and lock-rule reads go through cloudflare-go's r2 package
// (r2.NewBucketService, r2.NewBucketLockService). Objects go through the
// API paths `wrangler r2 object put|get --remote` use,
// /accounts/:account/r2/buckets/:bucket/objects/:key with the raw bytes
// as body, and the listing the dashboard uses (?prefix=&cursor=), because
// cloudflare-go has no object calls: evidence is then stored with the same
// API token as everything else, without separate S3 keys.

// ErrObjectNotFound is returned (wrapped) by GetObject for a missing key.
var ErrObjectNotFound = errors.New("no such R2 object")

// Lock rule condition types (the API's "condition.type").
const (
	LockAge        = "Age"
	LockDate       = "Date"
	LockIndefinite = "Indefinite"
)

// LockRule is one bucket lock rule.
type LockRule struct {
	ID      string
	Enabled bool
	// Prefix is the key prefix the rule covers; "" covers the bucket.
	Prefix string
	// Type is LockAge, LockDate or LockIndefinite.
	Type string
	// MaxAge is an Age rule's retention after upload.
	MaxAge time.Duration
	// Date is a Date rule's end of retention.
	Date time.Time
}

// Bucket checks that the bucket exists (an *APIError with status 404
// when it does not).
func (c *Client) Bucket(ctx context.Context, bucket string) error {
	op := fmt.Sprintf("get R2 bucket %q", bucket)
	if err := c.check(op); err != nil {
		return err
	}
	svc := r2.NewBucketService(c.options()...)
	var params r2.BucketGetParams
	params.AccountID.Value, params.AccountID.Present = c.accountID, true
	return c.retry(ctx, op, func() error {
		_, err := svc.Get(ctx, bucket, params)
		return err
	})
}

// BucketLockRules returns the bucket's lock rules, as configured.
func (c *Client) BucketLockRules(ctx context.Context, bucket string) ([]LockRule, error) {
	op := fmt.Sprintf("get the lock rules of R2 bucket %q", bucket)
	if err := c.check(op); err != nil {
		return nil, err
	}
	svc := r2.NewBucketLockService(c.options()...)
	var params r2.BucketLockGetParams
	params.AccountID.Value, params.AccountID.Present = c.accountID, true
	var res *r2.BucketLockGetResponse
	err := c.retry(ctx, op, func() error {
		var err error
		res, err = svc.Get(ctx, bucket, params)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]LockRule, 0, len(res.Rules))
	for _, r := range res.Rules {
		lr := LockRule{ID: r.ID, Enabled: r.Enabled, Prefix: r.Prefix, Type: string(r.Condition.Type)}
		switch lr.Type {
		case LockAge:
			lr.MaxAge = time.Duration(r.Condition.MaxAgeSeconds) * time.Second
		case LockDate:
			lr.Date = r.Condition.Date.UTC()
		}
		out = append(out, lr)
	}
	return out, nil
}

// objectURL is the API path of an object; the key's "/" stay path
// separators, as wrangler sends them.
func (c *Client) objectURL(bucket, key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return fmt.Sprintf("%s/accounts/%s/r2/buckets/%s/objects/%s", c.baseURL, url.PathEscape(c.accountID), url.PathEscape(bucket), strings.Join(parts, "/"))
}

// GetObject downloads an object's bytes; a missing key is
// ErrObjectNotFound.
func (c *Client) GetObject(ctx context.Context, bucket, key string) ([]byte, error) {
	op := fmt.Sprintf("get R2 object %s/%s", bucket, key)
	if err := c.check(op); err != nil {
		return nil, err
	}
	var data []byte
	err := c.retry(ctx, op, func() error {
		var err error
		data, err = c.send(ctx, http.MethodGet, c.objectURL(bucket, key), nil, "", false)
		return err
	})
	var ae *APIError
	if errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("%s/%s: %w", bucket, key, ErrObjectNotFound)
	}
	return data, err
}

// PutObject uploads an object. It is not retried: a write whose answer
// was lost is for the caller to check (evidence re-reads the key).
func (c *Client) PutObject(ctx context.Context, bucket, key string, data []byte, contentType string) error {
	op := fmt.Sprintf("put R2 object %s/%s", bucket, key)
	if err := c.check(op); err != nil {
		return err
	}
	if _, err := c.send(ctx, http.MethodPut, c.objectURL(bucket, key), data, contentType, true); err != nil {
		return c.wrap(op, err)
	}
	return nil
}

// ListObjects returns the key of every object under prefix, in the API's
// (lexicographic) order, following the cursor until the listing is not
// truncated.
func (c *Client) ListObjects(ctx context.Context, bucket, prefix string) ([]string, error) {
	op := fmt.Sprintf("list R2 objects %s/%s", bucket, prefix)
	if err := c.check(op); err != nil {
		return nil, err
	}
	base := fmt.Sprintf("%s/accounts/%s/r2/buckets/%s/objects", c.baseURL, url.PathEscape(c.accountID), url.PathEscape(bucket))
	var keys []string
	cursor := ""
	for page := 1; ; page++ {
		if page > maxPages {
			return nil, &APIError{Op: op, Err: fmt.Errorf("more than %d pages", maxPages)}
		}
		q := url.Values{"per_page": {fmt.Sprint(c.pageSize)}}
		if prefix != "" {
			q.Set("prefix", prefix)
		}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var body []byte
		err := c.retry(ctx, fmt.Sprintf("%s (page %d)", op, page), func() error {
			var err error
			body, err = c.send(ctx, http.MethodGet, base+"?"+q.Encode(), nil, "", true)
			return err
		})
		if err != nil {
			return nil, err
		}
		var env struct {
			Result []struct {
				Key string `json:"key"`
			} `json:"result"`
			ResultInfo struct {
				Cursor      string `json:"cursor"`
				IsTruncated bool   `json:"is_truncated"`
			} `json:"result_info"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			return nil, &APIError{Op: op, Err: fmt.Errorf("answer is not JSON: %w", err)}
		}
		for _, o := range env.Result {
			keys = append(keys, o.Key)
		}
		if !env.ResultInfo.IsTruncated {
			return keys, nil
		}
		if env.ResultInfo.Cursor == "" || env.ResultInfo.Cursor == cursor {
			return nil, &APIError{Op: op, Err: errors.New("a truncated listing without a new cursor")}
		}
		cursor = env.ResultInfo.Cursor
	}
}
