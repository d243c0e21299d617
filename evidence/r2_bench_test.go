package evidence

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/cfemu"
)

// BenchmarkVerifyR2 verifies a bucket prefix holding 100 documents (300
// objects) through the emulator with 2 ms of latency on every object read,
// as the real API adds tens of milliseconds: one download at a time
// against verifyFetches at a time.
func BenchmarkVerifyR2(b *testing.B) {
	emu := cfemu.New()
	srv := httptest.NewServer(emu)
	b.Cleanup(srv.Close)
	const account = cfemu.DefaultAccountID
	if err := emu.CreateBucket(account, "evidence"); err != nil {
		b.Fatal(err)
	}
	api := cfapi.New("token", account, cfapi.WithBaseURL(srv.URL+cfemu.APIPrefix))
	st, err := NewR2Store(api, "r2://evidence/guard")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := range 100 {
		if _, err := Publish(ctx, st, fmt.Sprintf("doc-%03d.json", i), []byte(fmt.Sprintf("{\"n\": %d}\n", i))); err != nil {
			b.Fatal(err)
		}
	}
	if err := emu.AddFault(cfemu.Fault{Method: "GET", Path: "/accounts/*/r2/buckets/*/objects/**", Delay: cfemu.Duration(2 * time.Millisecond)}); err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, verifyFetches} {
		b.Run(fmt.Sprintf("fetches=%d", n), func(b *testing.B) {
			defer func(old int) { verifyFetches = old }(verifyFetches)
			verifyFetches = n
			for b.Loop() {
				res, err := Verify(ctx, st)
				if err != nil || len(res.Verified) != 100 || len(res.Problems) != 0 {
					b.Fatalf("%+v %v", res, err)
				}
			}
		})
	}
}
