package deploy

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/ledger"
)

func health(url string, status, retries int) config.Health {
	return config.Health{URL: url, Status: status, Retries: retries,
		Timeout: config.Duration{Duration: 2 * time.Second}, Interval: config.Duration{Duration: time.Second}}
}

// recordSleep replaces the waits and remembers them.
func recordSleep(waits *[]time.Duration) func(context.Context, time.Duration) error {
	return func(_ context.Context, d time.Duration) error {
		*waits = append(*waits, d)
		return nil
	}
}

func TestVerifyNothingConfigured(t *testing.T) {
	v := &Verifier{Dir: t.TempDir(), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
	res, err := v.Run(context.Background())
	if err != nil || res.Verified != ledger.VerifiedUnverified || len(res.Checks) != 0 {
		t.Fatalf("got %+v %v", res, err)
	}
}

func TestVerifyCommands(t *testing.T) {
	var out, errb bytes.Buffer
	v := &Verifier{Dir: t.TempDir(), Stdout: &out, Stderr: &errb,
		Commands: []string{`echo "checking $GUARD_VERSION_ID"`, "exit 3", "true"},
		Env:      []string{"GUARD_VERSION_ID=v-123"}}
	res, err := v.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Verified != ledger.VerifiedBad || len(res.Checks) != 3 || !res.Checks[0].OK || res.Checks[1].OK || !res.Checks[2].OK {
		t.Fatalf("got %+v", res)
	}
	if !strings.Contains(res.Checks[1].Detail, "exited with status 3") {
		t.Errorf("detail %q", res.Checks[1].Detail)
	}
	if !strings.Contains(out.String(), "checking v-123") {
		t.Errorf("command output not streamed / env not passed: %q", out.String())
	}
}

func TestVerifyHealthRetriesWithBackoff(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	var waits []time.Duration
	v := &Verifier{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Health: []config.Health{health(srv.URL+"/health", 200, 5)}, Sleep: recordSleep(&waits)}
	res, err := v.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Verified != ledger.VerifiedGood || hits.Load() != 3 {
		t.Fatalf("verified %s after %d hits: %+v", res.Verified, hits.Load(), res.Checks)
	}
	if want := []time.Duration{time.Second, 2 * time.Second}; len(waits) != 2 || waits[0] != want[0] || waits[1] != want[1] {
		t.Errorf("waits %v, want %v", waits, want)
	}
}

func TestVerifyHealthGivesUp(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	var waits []time.Duration
	v := &Verifier{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Health: []config.Health{health(srv.URL, 200, 2)}, Sleep: recordSleep(&waits)}
	res, err := v.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Verified != ledger.VerifiedBad || hits.Load() != 3 || len(waits) != 2 {
		t.Fatalf("verified %s, %d hits, waits %v", res.Verified, hits.Load(), waits)
	}
	if !strings.Contains(res.Checks[0].Detail, "status 502, want 200 after 3 attempt(s)") {
		t.Errorf("detail %q", res.Checks[0].Detail)
	}
}

func TestVerifyHealthTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	h := health(srv.URL, 200, 0)
	h.Timeout = config.Duration{Duration: 50 * time.Millisecond}
	v := &Verifier{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Health: []config.Health{h}}
	start := time.Now()
	res, err := v.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Verified != ledger.VerifiedBad || time.Since(start) > 5*time.Second {
		t.Fatalf("verified %s in %s", res.Verified, time.Since(start))
	}
	if !strings.Contains(res.Checks[0].Detail, "deadline exceeded") {
		t.Errorf("detail %q", res.Checks[0].Detail)
	}
}

func TestVerifyInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	v := &Verifier{Dir: t.TempDir(), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Commands: []string{"sleep 5"}}
	if _, err := v.Run(ctx); err == nil {
		t.Fatal("an interrupted verification returned a verdict")
	}
}
