package cfapi

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/guardcm/guard/internal/cfemu"
)

func TestR2LockRules(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.client.Bucket(ctx, "evidence"); err == nil || !IsNotFound(err) {
		t.Fatalf("missing bucket: %v", err)
	}
	if err := f.emu.CreateBucket(account, "evidence"); err != nil {
		t.Fatal(err)
	}
	if err := f.client.Bucket(ctx, "evidence"); err != nil {
		t.Fatal(err)
	}
	rules, err := f.client.BucketLockRules(ctx, "evidence")
	if err != nil || len(rules) != 0 {
		t.Fatalf("rules %v, %v", rules, err)
	}
	if err := f.emu.SetBucketLock(account, "evidence", []cfemu.LockRule{
		{ID: "age", Enabled: true, Prefix: "guard/", Condition: cfemu.LockCondition{Type: "Age", MaxAgeSeconds: 400 * 86400}},
		{ID: "date", Enabled: false, Condition: cfemu.LockCondition{Type: "Date", Date: "2030-01-01T00:00:00.000Z"}},
		{ID: "forever", Enabled: true, Prefix: "legal/", Condition: cfemu.LockCondition{Type: "Indefinite"}},
	}); err != nil {
		t.Fatal(err)
	}
	rules, err = f.client.BucketLockRules(ctx, "evidence")
	if err != nil {
		t.Fatal(err)
	}
	want := []LockRule{
		{ID: "age", Enabled: true, Prefix: "guard/", Type: LockAge, MaxAge: 400 * 24 * time.Hour},
		{ID: "date", Type: LockDate, Date: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
		{ID: "forever", Enabled: true, Prefix: "legal/", Type: LockIndefinite},
	}
	if fmt.Sprint(rules) != fmt.Sprint(want) {
		t.Fatalf("rules\n got %v\nwant %v", rules, want)
	}
}

func TestR2Objects(t *testing.T) {
	f := newFixture(t, WithPageSize(2))
	ctx := context.Background()
	if err := f.emu.CreateBucket(account, "evidence"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"p/a.json", "p/index/00000001.json", "p/b.json", "q/c.json", "p/sub dir/ü.json"} {
		if err := f.client.PutObject(ctx, "evidence", k, []byte("data of "+k), "application/json"); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := f.client.ListObjects(ctx, "evidence", "p/")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(keys, ","); got != "p/a.json,p/b.json,p/index/00000001.json,p/sub dir/ü.json" {
		t.Fatalf("listing (pages of 2): %s", got)
	}
	data, err := f.client.GetObject(ctx, "evidence", "p/sub dir/ü.json")
	if err != nil || string(data) != "data of p/sub dir/ü.json" {
		t.Fatalf("get: %q %v", data, err)
	}
	if _, err := f.client.GetObject(ctx, "evidence", "p/none.json"); !errors.Is(err, ErrObjectNotFound) {
		t.Fatalf("missing object: %v", err)
	}
	// An object that is JSON with "success": false is still just bytes.
	if err := f.client.PutObject(ctx, "evidence", "p/env.json", []byte(`{"success": false}`), "application/json"); err != nil {
		t.Fatal(err)
	}
	if data, err := f.client.GetObject(ctx, "evidence", "p/env.json"); err != nil || string(data) != `{"success": false}` {
		t.Fatalf("get: %q %v", data, err)
	}
	if _, err := f.client.ListObjects(ctx, "nobucket", ""); !IsNotFound(err) {
		t.Fatalf("missing bucket: %v", err)
	}
}

// The emulator enforces the lock: a locked key cannot be overwritten (or
// deleted) until its retention ends; a new key can always be written.
func TestR2LockEnforced(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	emu := cfemu.New(cfemu.WithToken(sentinel), cfemu.WithClock(func() time.Time { return now }))
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	f := &fixture{emu: emu, client: New(sentinel, account, WithBaseURL(srv.URL+cfemu.APIPrefix), WithBackoff(10*time.Millisecond))}
	ctx := context.Background()
	if err := emu.CreateBucket(account, "evidence"); err != nil {
		t.Fatal(err)
	}
	if err := f.client.PutObject(ctx, "evidence", "guard/a.json", []byte("1"), ""); err != nil {
		t.Fatal(err)
	}
	// Unlocked: overwriting works, as in R2.
	if err := f.client.PutObject(ctx, "evidence", "guard/a.json", []byte("2"), ""); err != nil {
		t.Fatal(err)
	}
	if err := emu.SetBucketLock(account, "evidence", []cfemu.LockRule{
		{ID: "evidence-400d", Enabled: true, Prefix: "guard/", Condition: cfemu.LockCondition{Type: "Age", MaxAgeSeconds: 2 * 86400}},
	}); err != nil {
		t.Fatal(err)
	}
	err := f.client.PutObject(ctx, "evidence", "guard/a.json", []byte("3"), "")
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 403 || !strings.Contains(err.Error(), `locked by bucket lock rule "evidence-400d"`) {
		t.Fatalf("overwrite under lock: %v", err)
	}
	if data, _ := f.client.GetObject(ctx, "evidence", "guard/a.json"); string(data) != "2" {
		t.Fatalf("locked object changed: %q", data)
	}
	if err := f.client.PutObject(ctx, "evidence", "guard/b.json", []byte("new"), ""); err != nil {
		t.Fatalf("a new key under the lock: %v", err)
	}
	if err := f.client.PutObject(ctx, "evidence", "other/a.json", []byte("x"), ""); err != nil {
		t.Fatal(err)
	}
	if err := f.client.PutObject(ctx, "evidence", "other/a.json", []byte("y"), ""); err != nil {
		t.Fatalf("outside the rule's prefix: %v", err)
	}
	// Past the Age retention the key is writable again.
	now = now.Add(3 * 24 * time.Hour)
	if err := f.client.PutObject(ctx, "evidence", "guard/a.json", []byte("4"), ""); err != nil {
		t.Fatalf("after retention: %v", err)
	}
	noSentinel(t, err)
}

// Faults on R2 paths: a 500 on a read is retried, a dropped upload fails
// with the transport error and no token.
func TestR2Faults(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.emu.CreateBucket(account, "evidence"); err != nil {
		t.Fatal(err)
	}
	if err := f.client.PutObject(ctx, "evidence", "k", []byte("v"), ""); err != nil {
		t.Fatal(err)
	}
	if err := f.emu.AddFault(cfemu.Fault{Method: "GET", Path: "/accounts/*/r2/buckets/*/objects/**", Status: 500, Times: 1}); err != nil {
		t.Fatal(err)
	}
	if data, err := f.client.GetObject(ctx, "evidence", "k"); err != nil || string(data) != "v" {
		t.Fatalf("get after one 500: %q %v", data, err)
	}
	if err := f.emu.AddFault(cfemu.Fault{Method: "PUT", Path: "/accounts/*/r2/buckets/*/objects/**", Drop: true, Times: 1}); err != nil {
		t.Fatal(err)
	}
	err := f.client.PutObject(ctx, "evidence", "k2", []byte("v"), "")
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 0 {
		t.Fatalf("dropped put: %v", err)
	}
	noSentinel(t, err)
	if err := f.emu.AddFault(cfemu.Fault{Path: "/accounts/*/r2/buckets/*/lock", Status: 403, Code: 10000, Message: "Authentication error"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.BucketLockRules(ctx, "evidence"); !IsUnauthorized(err) {
		t.Fatalf("lock rules with a 403: %v", err)
	}
}
