package evidence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/guardcm/guard/internal/cfapi"
)

// R2Scheme starts an R2 store's location: r2://BUCKET/PREFIX.
const R2Scheme = "r2://"

// DefaultRetention is how long the policy keeps evidence when guard.toml
// does not say: 400 days, a year's audit plus a margin.
const DefaultRetention = 400 * 24 * time.Hour

// bucketNameRe is wrangler's rule for R2 bucket names.
var bucketNameRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`) })

// IsR2 reports whether a store location names an R2 bucket.
func IsR2(location string) bool { return strings.HasPrefix(location, R2Scheme) }

// ParseR2 splits r2://BUCKET/PREFIX. The prefix is a key prefix without
// a leading slash; a non-empty one ends with "/" (so r2://b/guard and
// r2://b/guard/ are the same store), "" is the whole bucket.
func ParseR2(location string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(location, R2Scheme)
	if !ok {
		return "", "", fmt.Errorf("%q is not an r2://BUCKET/PREFIX location", location)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if !bucketNameRe().MatchString(bucket) {
		return "", "", fmt.Errorf("%s: bucket name %q is not 3-63 lowercase letters, digits and hyphens", location, bucket)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		if path.Clean(prefix) != prefix || strings.ContainsAny(prefix, "\\\x00") || checkName(prefix) != nil {
			return "", "", fmt.Errorf("%s: prefix %q is not a plain key prefix", location, prefix)
		}
		prefix += "/"
	}
	return bucket, prefix, nil
}

// R2Store keeps evidence under a prefix of an R2 bucket through the
// Cloudflare API. Create writes a key only after reading that it is
// absent; under a bucket lock R2 itself refuses to overwrite a locked key,
// which closes the race between two runs.
type R2Store struct {
	API    *cfapi.Client
	Bucket string
	// Prefix is "" or ends with "/".
	Prefix string
}

// NewR2Store opens r2://BUCKET/PREFIX with api.
func NewR2Store(api *cfapi.Client, location string) (*R2Store, error) {
	bucket, prefix, err := ParseR2(location)
	if err != nil {
		return nil, err
	}
	return &R2Store{API: api, Bucket: bucket, Prefix: prefix}, nil
}

// Location is r2://BUCKET/PREFIX.
func (s *R2Store) Location() string { return R2Scheme + s.Bucket + "/" + s.Prefix }

// List lists the keys under the prefix, without it.
func (s *R2Store) List(ctx context.Context) ([]string, error) {
	keys, err := s.API.ListObjects(ctx, s.Bucket, s.Prefix)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if name, ok := strings.CutPrefix(k, s.Prefix); ok && name != "" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Get downloads one object.
func (s *R2Store) Get(ctx context.Context, name string) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	data, err := s.API.GetObject(ctx, s.Bucket, s.Prefix+name)
	if errors.Is(err, cfapi.ErrObjectNotFound) {
		return nil, fmt.Errorf("%s%s: %w", s.Location(), name, fs.ErrNotExist)
	}
	return data, err
}

// Create uploads one object unless its key exists. When the upload fails
// the key is read again: the upload may have landed before its answer was
// lost (then it is done), or another run may have written it first.
func (s *R2Store) Create(ctx context.Context, name string, data []byte) error {
	if _, err := s.Get(ctx, name); err == nil {
		return fmt.Errorf("%s%s: %w", s.Location(), name, ErrExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	ctype := "application/octet-stream"
	if strings.HasSuffix(name, ".json") {
		ctype = "application/json"
	} else if strings.HasSuffix(name, DigestSuffix) {
		ctype = "text/plain; charset=utf-8"
	}
	perr := s.API.PutObject(ctx, s.Bucket, s.Prefix+name, data, ctype)
	if perr == nil {
		return nil
	}
	got, err := s.Get(ctx, name)
	switch {
	case err == nil && bytes.Equal(got, data):
		return nil
	case err == nil:
		return fmt.Errorf("%s%s: %w", s.Location(), name, ErrExists)
	}
	return perr
}

// LockError is the refusal to write evidence into a bucket whose lock
// does not retain it long enough.
type LockError struct {
	Location  string
	Bucket    string
	Prefix    string
	Retention time.Duration
	// Why says, rule by rule, why none covers the prefix.
	Why []string
}

func (e *LockError) Error() string {
	why := "the bucket has no lock rule"
	if len(e.Why) > 0 {
		why = strings.Join(e.Why, "; ")
	}
	return fmt.Sprintf("%s is not under a bucket lock that keeps evidence for %s: %s", e.Location, FormatDays(e.Retention), why)
}

// Hint is the command that adds a covering rule.
func (e *LockError) Hint() string {
	days := int((e.Retention + 24*time.Hour - 1) / (24 * time.Hour))
	prefix := "''"
	if e.Prefix != "" {
		prefix = e.Prefix
	}
	return fmt.Sprintf("add a lock rule, then run this again: wrangler r2 bucket lock add %s --name guard-evidence --prefix %s --retention-days %d", e.Bucket, prefix, days)
}

// FormatDays writes a retention in days ("400 days").
func FormatDays(d time.Duration) string {
	days := d.Hours() / 24
	if days == float64(int64(days)) {
		if days == 1 {
			return "1 day"
		}
		return fmt.Sprintf("%d days", int64(days))
	}
	return d.String()
}

// CoveringRule returns the enabled lock rule under which every object
// written below prefix at now is retained for at least retention: its
// prefix is a prefix of the store's, and it is Indefinite, an Age rule of
// at least retention, or a Date rule ending at least retention after now.
// When none does, the error is a *LockError saying why of each rule.
func CoveringRule(location, bucket, prefix string, rules []cfapi.LockRule, retention time.Duration, now time.Time) (*cfapi.LockRule, error) {
	le := &LockError{Location: location, Bucket: bucket, Prefix: prefix, Retention: retention}
	for i := range rules {
		r := &rules[i]
		name := fmt.Sprintf("rule %q", r.ID)
		switch {
		case !r.Enabled:
			le.Why = append(le.Why, name+" is disabled")
		case !strings.HasPrefix(prefix, r.Prefix):
			le.Why = append(le.Why, fmt.Sprintf("%s covers prefix %q, not %q", name, r.Prefix, prefix))
		case r.Type == cfapi.LockIndefinite:
			return r, nil
		case r.Type == cfapi.LockAge && r.MaxAge >= retention:
			return r, nil
		case r.Type == cfapi.LockAge:
			le.Why = append(le.Why, fmt.Sprintf("%s keeps objects %s", name, FormatDays(r.MaxAge)))
		case r.Type == cfapi.LockDate && !r.Date.Before(now.Add(retention)):
			return r, nil
		case r.Type == cfapi.LockDate:
			le.Why = append(le.Why, fmt.Sprintf("%s keeps objects until %s, less than %s from now", name, r.Date.Format(time.RFC3339), FormatDays(retention)))
		default:
			le.Why = append(le.Why, fmt.Sprintf("%s has an unknown condition %q", name, r.Type))
		}
	}
	return nil, le
}

// DescribeRule says what a lock rule retains, for messages.
func DescribeRule(r *cfapi.LockRule) string {
	var keeps string
	switch r.Type {
	case cfapi.LockIndefinite:
		keeps = "indefinitely"
	case cfapi.LockAge:
		keeps = "for " + FormatDays(r.MaxAge)
	case cfapi.LockDate:
		keeps = "until " + r.Date.Format(time.RFC3339)
	}
	return fmt.Sprintf("lock rule %q (prefix %q) retains objects %s", r.ID, r.Prefix, keeps)
}
