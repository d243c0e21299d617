package deploy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/proc"
	"github.com/guardcm/guard/ledger"
)

// Check is the outcome of one verification step.
type Check struct {
	// Name is the command or "GET <url>".
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// Detail says why it failed, or how many attempts it took.
	Detail string `json:"detail,omitempty"`
}

// Verification is the outcome of every configured verify command and
// health check.
type Verification struct {
	Checks []Check `json:"checks"`
	// Verified is ledger.VerifiedGood, VerifiedBad, or VerifiedUnverified
	// when nothing is configured.
	Verified string `json:"verified"`
}

// Verifier runs the post-deploy checks. The zero value is not usable; the
// fields are exported so tests can shorten waits.
type Verifier struct {
	Dir            string
	Commands       []string
	Health         []config.Health
	Stdout, Stderr io.Writer
	// Env is added to the commands' environment (GUARD_* variables that
	// describe the deploy).
	Env []string
	// Sleep waits between health-check attempts; nil means a timer that
	// honours ctx.
	Sleep  func(ctx context.Context, d time.Duration) error
	Client *http.Client
	// Header is added to every health-check request (a gradual deploy
	// pins the new version with Cloudflare-Workers-Version-Overrides).
	Header http.Header
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// maxHealthInterval caps the doubling wait between health-check attempts.
const maxHealthInterval = 30 * time.Second

// Run runs every command (each through /bin/sh -c, from Dir, output
// streamed), then every health check; all of them run even after one
// fails, so the report is complete. A context error is returned as an
// error: an interrupted verification is not a verdict.
func (v *Verifier) Run(ctx context.Context) (*Verification, error) {
	res := &Verification{Checks: []Check{}}
	for _, c := range v.Commands {
		fmt.Fprintf(v.Stderr, "guard: verify: %s\n", c)
		err := proc.Shell(ctx, v.Dir, c, v.Stdout, v.Stderr, v.Env...)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		ch := Check{Name: c, OK: err == nil}
		if err != nil {
			ch.Detail = err.Error()
		}
		res.Checks = append(res.Checks, ch)
	}
	for _, h := range v.Health {
		ch, err := v.health(ctx, h)
		if err != nil {
			return nil, err
		}
		res.Checks = append(res.Checks, ch)
	}
	res.Verified = verdict(res.Checks)
	return res, nil
}

func verdict(checks []Check) string {
	if len(checks) == 0 {
		return ledger.VerifiedUnverified
	}
	for _, c := range checks {
		if !c.OK {
			return ledger.VerifiedBad
		}
	}
	return ledger.VerifiedGood
}

// health polls one URL until it answers the expected status, at most
// 1+Retries times, waiting Interval, then twice as long each time.
func (v *Verifier) health(ctx context.Context, h config.Health) (Check, error) {
	sleep := v.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	client := v.Client
	if client == nil {
		client = &http.Client{}
	}
	ch := Check{Name: "GET " + h.URL}
	wait := h.Interval.Duration
	attempts := 1 + max(0, h.Retries)
	var last string
	for i := 1; i <= attempts; i++ {
		status, err := getStatus(ctx, client, h.URL, h.Timeout.Duration, v.Header)
		if ctx.Err() != nil {
			return Check{}, ctx.Err()
		}
		switch {
		case err != nil:
			last = err.Error()
		case status == h.Status:
			ch.OK = true
			ch.Detail = fmt.Sprintf("status %d after %d attempt(s)", status, i)
			fmt.Fprintf(v.Stderr, "guard: health: GET %s: %d\n", h.URL, status)
			return ch, nil
		default:
			last = fmt.Sprintf("status %d, want %d", status, h.Status)
		}
		fmt.Fprintf(v.Stderr, "guard: health: GET %s: %s (attempt %d of %d)\n", h.URL, last, i, attempts)
		if i < attempts {
			if err := sleep(ctx, wait); err != nil {
				return Check{}, err
			}
			wait = min(wait*2, maxHealthInterval)
		}
	}
	ch.Detail = fmt.Sprintf("%s after %d attempt(s)", last, attempts)
	return ch, nil
}

func getStatus(ctx context.Context, client *http.Client, url string, timeout time.Duration, header http.Header) (int, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	for k, vs := range header {
		req.Header[k] = append([]string(nil), vs...)
	}
	req.Header.Set("User-Agent", "guard-health-check")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, nil
}
