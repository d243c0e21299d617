package cfemu

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// R2: buckets, their lock rules and objects, as wrangler (r2 bucket
// create|info|lock, r2 object put|get|delete --remote) and cloudflare-go's
// r2 package use them.
//
// Bucket locks are enforced as R2 documents them ("Bucket locks"): an
// object whose key starts with the prefix of an enabled rule cannot be
// overwritten or deleted while that rule retains it — an Age rule for
// maxAgeSeconds after the object was uploaded, a Date rule until the date,
// an Indefinite rule forever. New keys can always be written. The error
// code of a refused write is not documented by Cloudflare; the emulator
// answers 403 with codeR2ObjectLocked, and clients should not rely on it.

const (
	codeR2BucketNotFound = 10006
	codeR2ObjectNotFound = 10007
	codeR2BadInput       = 10040
	codeR2BucketExists   = 10004
	codeR2ObjectLocked   = 10049
	// maxR2Object bounds an upload (wrangler itself stops at 300 MiB).
	maxR2Object = 64 << 20
)

// Bucket is an R2 bucket.
type Bucket struct {
	Name         string             `json:"name"`
	CreationDate string             `json:"creation_date"`
	Lock         []LockRule         `json:"lock"`
	Objects      map[string]*Object `json:"objects"`
}

// LockRule is a bucket lock rule in the API's shape.
type LockRule struct {
	ID        string        `json:"id"`
	Enabled   bool          `json:"enabled"`
	Prefix    string        `json:"prefix,omitempty"`
	Condition LockCondition `json:"condition"`
}

// LockCondition is a rule's retention: Age (MaxAgeSeconds), Date or
// Indefinite.
type LockCondition struct {
	Type          string `json:"type"`
	MaxAgeSeconds int64  `json:"maxAgeSeconds,omitempty"`
	Date          string `json:"date,omitempty"`
}

// Object is one stored object.
type Object struct {
	Key         string `json:"key"`
	Data        []byte `json:"data"`
	ContentType string `json:"content_type,omitempty"`
	Uploaded    string `json:"uploaded"`
	ETag        string `json:"etag"`
}

var r2Routes = []struct {
	pattern string
	handler func(*Emulator, http.ResponseWriter, *http.Request)
}{
	{"GET /accounts/{account}/r2/buckets", (*Emulator).listBuckets},
	{"POST /accounts/{account}/r2/buckets", (*Emulator).postBucket},
	{"GET /accounts/{account}/r2/buckets/{bucket}", (*Emulator).getBucket},
	{"GET /accounts/{account}/r2/buckets/{bucket}/lock", (*Emulator).getBucketLock},
	{"PUT /accounts/{account}/r2/buckets/{bucket}/lock", (*Emulator).putBucketLock},
	{"GET /accounts/{account}/r2/buckets/{bucket}/objects", (*Emulator).listObjects},
	{"GET /accounts/{account}/r2/buckets/{bucket}/objects/{key...}", (*Emulator).getObject},
	{"PUT /accounts/{account}/r2/buckets/{bucket}/objects/{key...}", (*Emulator).putObject},
	{"DELETE /accounts/{account}/r2/buckets/{bucket}/objects/{key...}", (*Emulator).deleteObject},
}

// bucketName is wrangler's own rule for bucket names.
var bucketName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`) })

// CreateBucket creates an R2 bucket, as `wrangler r2 bucket create` would.
func (e *Emulator) CreateBucket(accountID, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err := e.createBucketLocked(accountID, name)
	return err
}

func (e *Emulator) createBucketLocked(accountID, name string) (*Bucket, error) {
	if !bucketName().MatchString(name) {
		return nil, fmt.Errorf("invalid bucket name %q: 3-63 lowercase letters, digits and hyphens", name)
	}
	a := e.st.account(accountID, true)
	if a.R2 == nil {
		a.R2 = map[string]*Bucket{}
	}
	if a.R2[name] != nil {
		return nil, fmt.Errorf("bucket %s already exists", name)
	}
	b := &Bucket{Name: name, CreationDate: stamp(e.now()), Lock: []LockRule{}, Objects: map[string]*Object{}}
	a.R2[name] = b
	return b, nil
}

// SetBucketLock replaces a bucket's lock rules, as `wrangler r2 bucket
// lock set` would.
func (e *Emulator) SetBucketLock(accountID, bucket string, rules []LockRule) error {
	for i, rule := range rules {
		if err := validLockRule(rule); err != nil {
			return fmt.Errorf("rule %d: %w", i+1, err)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.st.account(accountID, false)
	if a == nil || a.R2[bucket] == nil {
		return fmt.Errorf("no bucket %s", bucket)
	}
	a.R2[bucket].Lock = append([]LockRule{}, rules...)
	return nil
}

// inBucket runs f with the emulator locked and the request's bucket found;
// a bucket the account does not have is answered 404.
func (e *Emulator) inBucket(w http.ResponseWriter, r *http.Request, f func(b *Bucket)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b *Bucket
	if a := e.st.account(r.PathValue("account"), false); a != nil {
		b = a.R2[r.PathValue("bucket")]
	}
	if b == nil {
		writeError(w, http.StatusNotFound, codeR2BucketNotFound, "The specified bucket does not exist.")
		return
	}
	if b.Objects == nil { // loaded from a state file without objects
		b.Objects = map[string]*Object{}
	}
	if b.Lock == nil {
		b.Lock = []LockRule{}
	}
	f(b)
}

func bucketObject(b *Bucket) map[string]any {
	return map[string]any{"name": b.Name, "creation_date": b.CreationDate, "location": "WEUR", "storage_class": "Standard", "jurisdiction": "default"}
}

func (e *Emulator) listBuckets(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []map[string]any{}
	if a := e.st.account(r.PathValue("account"), false); a != nil {
		names := make([]string, 0, len(a.R2))
		for n := range a.R2 {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			out = append(out, bucketObject(a.R2[n]))
		}
	}
	writeResult(w, map[string]any{"buckets": out})
}

func (e *Emulator) postBucket(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name string `json:"name"`
	}
	if err := decodeBody(r, 1<<16, &body); err != nil {
		writeError(w, http.StatusBadRequest, codeR2BadInput, "invalid JSON body: "+err.Error())
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	b, err := e.createBucketLocked(r.PathValue("account"), body.Name)
	if err != nil {
		status, code := http.StatusBadRequest, codeR2BadInput
		if strings.Contains(err.Error(), "already exists") {
			status, code = http.StatusConflict, codeR2BucketExists
		}
		writeError(w, status, code, err.Error())
		return
	}
	writeResult(w, bucketObject(b))
}

func (e *Emulator) getBucket(w http.ResponseWriter, r *http.Request) {
	e.inBucket(w, r, func(b *Bucket) { writeResult(w, bucketObject(b)) })
}

func (e *Emulator) getBucketLock(w http.ResponseWriter, r *http.Request) {
	e.inBucket(w, r, func(b *Bucket) { writeResult(w, map[string]any{"rules": b.Lock}) })
}

// putBucketLock replaces the rules, as the API does.
func (e *Emulator) putBucketLock(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Rules []LockRule `json:"rules"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, codeR2BadInput, "invalid lock configuration: "+err.Error())
		return
	}
	seen := map[string]bool{}
	for i, rule := range body.Rules {
		if err := validLockRule(rule); err != nil {
			writeError(w, http.StatusBadRequest, codeR2BadInput, fmt.Sprintf("rule %d: %v", i+1, err))
			return
		}
		if seen[rule.ID] {
			writeError(w, http.StatusBadRequest, codeR2BadInput, fmt.Sprintf("rule %d: duplicate id %q", i+1, rule.ID))
			return
		}
		seen[rule.ID] = true
	}
	if body.Rules == nil {
		body.Rules = []LockRule{}
	}
	e.inBucket(w, r, func(b *Bucket) {
		b.Lock = body.Rules
		writeResult(w, map[string]any{})
	})
}

func validLockRule(rule LockRule) error {
	if strings.TrimSpace(rule.ID) == "" {
		return fmt.Errorf("id is required")
	}
	switch rule.Condition.Type {
	case "Age":
		if rule.Condition.MaxAgeSeconds <= 0 {
			return fmt.Errorf("an Age condition needs a positive maxAgeSeconds")
		}
	case "Date":
		if _, err := time.Parse(time.RFC3339Nano, rule.Condition.Date); err != nil {
			return fmt.Errorf("a Date condition needs an RFC 3339 date: %v", err)
		}
	case "Indefinite":
	default:
		return fmt.Errorf("condition type must be Age, Date or Indefinite, got %q", rule.Condition.Type)
	}
	return nil
}

// lockedBy returns the enabled rule that retains o at now, or nil.
func lockedBy(b *Bucket, o *Object, now time.Time) *LockRule {
	for i := range b.Lock {
		rule := &b.Lock[i]
		if !rule.Enabled || !strings.HasPrefix(o.Key, rule.Prefix) {
			continue
		}
		switch rule.Condition.Type {
		case "Indefinite":
			return rule
		case "Age":
			up, err := time.Parse(TimeFormat, o.Uploaded)
			if err == nil && now.Before(up.Add(time.Duration(rule.Condition.MaxAgeSeconds)*time.Second)) {
				return rule
			}
		case "Date":
			until, err := time.Parse(time.RFC3339Nano, rule.Condition.Date)
			if err == nil && now.Before(until) {
				return rule
			}
		}
	}
	return nil
}

func objectInfo(o *Object) map[string]any {
	return map[string]any{
		"key": o.Key, "size": len(o.Data), "etag": o.ETag, "http_etag": `"` + o.ETag + `"`,
		"uploaded": o.Uploaded, "last_modified": o.Uploaded, "storage_class": "Standard",
		"http_metadata": map[string]any{"contentType": o.ContentType}, "custom_metadata": map[string]any{},
	}
}

// listObjects lists keys under ?prefix= in lexicographic order, per_page
// at a time, continuing after ?cursor= (the last key of the previous page).
func (e *Emulator) listObjects(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	perPage, err := positiveInt(q.Get("per_page"), 1000)
	if err != nil || perPage > 1000 {
		writeError(w, http.StatusBadRequest, codeR2BadInput, "per_page must be between 1 and 1000")
		return
	}
	prefix, cursor := q.Get("prefix"), q.Get("cursor")
	e.inBucket(w, r, func(b *Bucket) {
		keys := make([]string, 0, len(b.Objects))
		for k := range b.Objects {
			if strings.HasPrefix(k, prefix) && (cursor == "" || k > cursor) {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		truncated := len(keys) > perPage
		if truncated {
			keys = keys[:perPage]
		}
		out := make([]map[string]any, 0, len(keys))
		for _, k := range keys {
			out = append(out, objectInfo(b.Objects[k]))
		}
		next := ""
		if truncated {
			next = keys[len(keys)-1]
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"success": true, "errors": []APIError{}, "messages": []APIError{}, "result": out,
			"result_info": map[string]any{"cursor": next, "is_truncated": truncated, "per_page": perPage, "delimited": []string{}},
		})
	})
}

func (e *Emulator) getObject(w http.ResponseWriter, r *http.Request) {
	e.inBucket(w, r, func(b *Bucket) {
		o := b.Objects[r.PathValue("key")]
		if o == nil {
			writeError(w, http.StatusNotFound, codeR2ObjectNotFound, "The specified key does not exist.")
			return
		}
		ct := o.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("ETag", `"`+o.ETag+`"`)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(o.Data)
	})
}

func (e *Emulator) putObject(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if key == "" || len(key) > 1024 {
		writeError(w, http.StatusBadRequest, codeR2BadInput, "object keys are 1 to 1024 bytes")
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxR2Object+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, codeR2BadInput, "reading the body: "+err.Error())
		return
	}
	if len(data) > maxR2Object {
		writeError(w, http.StatusRequestEntityTooLarge, codeR2BadInput, "object too large for the emulator")
		return
	}
	e.inBucket(w, r, func(b *Bucket) {
		now := e.now()
		if old := b.Objects[key]; old != nil {
			if rule := lockedBy(b, old, now); rule != nil {
				writeError(w, http.StatusForbidden, codeR2ObjectLocked, fmt.Sprintf("Object %q is locked by bucket lock rule %q and cannot be overwritten.", key, rule.ID))
				return
			}
		}
		sum := md5.Sum(data)
		o := &Object{Key: key, Data: data, ContentType: r.Header.Get("Content-Type"), Uploaded: stamp(now), ETag: hex.EncodeToString(sum[:])}
		b.Objects[key] = o
		writeResult(w, objectInfo(o))
	})
}

func (e *Emulator) deleteObject(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	e.inBucket(w, r, func(b *Bucket) {
		o := b.Objects[key]
		if o == nil {
			writeResult(w, map[string]any{}) // R2 deletes are idempotent
			return
		}
		if rule := lockedBy(b, o, e.now()); rule != nil {
			writeError(w, http.StatusForbidden, codeR2ObjectLocked, fmt.Sprintf("Object %q is locked by bucket lock rule %q and cannot be deleted.", key, rule.ID))
			return
		}
		delete(b.Objects, key)
		writeResult(w, map[string]any{})
	})
}
