package deploy

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/cfemu"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/wrangler"
	"github.com/guardcm/guard/ledger"
	"github.com/guardcm/guard/rollout"
)

// rolloutHarness is a gradual deploy's engine and driver against the
// in-process emulator, wrangler's deployment call replaced by the API
// call it makes (fault-injectable), the ledger in a temporary folder.
type rolloutHarness struct {
	emu        *cfemu.Emulator
	d          *deployer
	drv        *rolloutDriver
	st         *rollout.State
	oldV, newV string
	stderr     *strings.Builder
	// deployHook runs before each deployment; an error fails it.
	deployHook func(shares []wrangler.Share) error
}

func newRolloutHarness(t *testing.T, steps []float64, holds []time.Duration) *rolloutHarness {
	t.Helper()
	emu := cfemu.New()
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	base := srv.URL + cfemu.APIPrefix
	account := cfemu.DefaultAccountID
	h := &rolloutHarness{emu: emu, stderr: &strings.Builder{}}
	h.oldV, h.newV = seedVersions(t, base, account)
	if _, err := postDeployment(context.Background(), base, account, []wrangler.Share{{VersionID: h.oldV, Percent: 100}}, "old"); err != nil {
		t.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.Deploy.Health = []config.Health{{URL: srv.URL + cfemu.EdgePrefix + "api/health", Status: 200, Timeout: config.Duration{Duration: 5 * time.Second}}}
	dir := t.TempDir()
	h.d = newDeployer(Options{Config: cfg, Stdout: io.Discard, Stderr: h.stderr, Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }})
	h.d.repo = &gitx.Repo{Root: dir, GitDir: dir, CommonDir: dir}
	h.d.t = &Target{Worker: "api", Account: account}
	h.d.ledger = ledger.Open(filepath.Join(dir, "ledger.jsonl"))
	plan, err := rollout.NewPlan(steps, holds, "test")
	if err != nil {
		t.Fatal(err)
	}
	h.st = rollout.NewState(plan, h.oldV, "")
	h.st.NewVersion = h.newV
	h.d.rollout = h.st
	pending, err := h.d.ledger.Append(ledger.Record{Kind: ledger.KindDeploy, Status: ledger.StatusPending, Worker: "api", Account: account, Rollout: h.st.Clone()})
	if err != nil {
		t.Fatal(err)
	}
	api := cfapi.New("t", account, cfapi.WithBaseURL(base), cfapi.WithRetries(0))
	h.drv = &rolloutDriver{d: h.d, api: api, pending: pending, versionsDeploy: func(ctx context.Context, a wrangler.VersionsDeployArgs) (string, error) {
		if h.deployHook != nil {
			if err := h.deployHook(a.Shares); err != nil {
				return "", err
			}
		}
		return postDeployment(ctx, base, account, a.Shares, a.Message)
	}}
	return h
}

// serving is the newest deployment's split, "<version>@<percent>" joined.
func (h *rolloutHarness) serving(t *testing.T) string {
	t.Helper()
	st := h.emu.Snapshot().Accounts[cfemu.DefaultAccountID].Scripts["api"]
	d := st.Deployments[len(st.Deployments)-1]
	var parts []string
	for _, v := range d.Versions {
		parts = append(parts, v.VersionID+"@"+rollout.FormatPercent(v.Percentage))
	}
	return strings.Join(parts, " ")
}

func (h *rolloutHarness) last(t *testing.T) ledger.Record {
	t.Helper()
	recs, err := h.d.ledger.Records()
	if err != nil {
		t.Fatal(err)
	}
	return recs[len(recs)-1]
}

// An interrupt answered "leave it" keeps the split serving and the
// record pending at its step, for --resume/--abort.
func TestRolloutInterruptLeft(t *testing.T) {
	h := newRolloutHarness(t, []float64{0, 10, 100}, []time.Duration{0, time.Hour, 0})
	ctx, cancel := context.WithCancel(context.Background())
	h.d.o.Sleep = func(context.Context, time.Duration) error { cancel(); return context.Canceled }
	h.d.o.Interrupted = func() bool { return false }
	err := h.d.runRollout(ctx, h.drv, h.st)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if got := h.serving(t); got != h.newV+"@10 "+h.oldV+"@90" {
		t.Fatalf("serving %s", got)
	}
	rec := h.last(t)
	if rec.Status != ledger.StatusPending || rec.Rollout.Step != 1 || rec.Rollout.Phase != rollout.PhaseHolding {
		t.Fatalf("record = %+v %+v", rec, rec.Rollout)
	}
	if !strings.Contains(h.stderr.String(), "guard deploy --resume") {
		t.Fatalf("no hint: %s", h.stderr)
	}
	if last, _ := unfinishedRollout(h.d.ledger, "api", ""); last == nil || last.Ref != 1 {
		t.Fatalf("unfinished = %+v", last)
	}
}

// An interrupt while wrangler made the 10 % step, before guard recorded
// it: guard reads the API, knows users saw the version, goes back and
// writes the emergency-change record.
func TestRolloutInterruptDuringDeployment(t *testing.T) {
	h := newRolloutHarness(t, []float64{0, 10, 100}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	base := h.drv.versionsDeploy
	h.drv.versionsDeploy = func(c context.Context, a wrangler.VersionsDeployArgs) (string, error) {
		id, err := base(c, a)
		if len(a.Shares) == 2 && a.Shares[0].Percent == 10 {
			cancel() // wrangler finished the deployment as Ctrl-C arrived
			return "", context.Canceled
		}
		return id, err
	}
	err := h.d.runRollout(ctx, h.drv, h.st)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if got := h.serving(t); got != h.oldV+"@100" {
		t.Fatalf("serving %s", got)
	}
	rec := h.last(t)
	if rec.Status != ledger.StatusFailed || rec.Rollout.Phase != rollout.PhaseAborted || rec.Rollout.MaxPercent() != 10 {
		t.Fatalf("record = %+v %+v", rec, rec.Rollout)
	}
	if rec.RecordFile == "" {
		t.Fatalf("users saw 10%%, yet no emergency-change record: %s", h.stderr)
	}
}

// A step whose deployment fails (wrangler and the API agree nothing
// changed) goes back to the old version and fails with exit 3.
func TestRolloutDeploymentFails(t *testing.T) {
	h := newRolloutHarness(t, []float64{0, 50, 100}, nil)
	h.deployHook = func(shares []wrangler.Share) error {
		if len(shares) == 2 && shares[0].Percent == 50 {
			return errors.New("wrangler versions deploy failed with exit status 1: upstream busy")
		}
		return nil
	}
	err := h.d.runRollout(context.Background(), h.drv, h.st)
	if fail.KindOf(err) != fail.KindExternal || !strings.Contains(err.Error(), "upstream busy") {
		t.Fatalf("err = %v", err)
	}
	if got := h.serving(t); got != h.oldV+"@100" {
		t.Fatalf("serving %s", got)
	}
	rec := h.last(t)
	if rec.Status != ledger.StatusFailed || rec.Rollout.Return == nil || rec.RecordFile != "" || rec.Verified != "" {
		t.Fatalf("record = %+v", rec)
	}
}

// wrangler fails on a call after the deployment exists: the API shows the
// split, so the step counts, with a warning.
func TestRolloutWranglerFailsAfterTheDeployment(t *testing.T) {
	h := newRolloutHarness(t, []float64{0, 100}, nil)
	base := h.drv.versionsDeploy
	h.drv.versionsDeploy = func(c context.Context, a wrangler.VersionsDeployArgs) (string, error) {
		if _, err := base(c, a); err != nil {
			return "", err
		}
		return "", errors.New("wrangler versions deploy failed with exit status 1: PATCH script-settings: 500")
	}
	if err := h.d.runRollout(context.Background(), h.drv, h.st); err != nil {
		t.Fatalf("err = %v", err)
	}
	if got := h.serving(t); got != h.newV+"@100" {
		t.Fatalf("serving %s", got)
	}
	if !strings.Contains(h.stderr.String(), "wrangler reported a failure, but the API shows deployment") {
		t.Fatalf("no warning: %s", h.stderr)
	}
	if rec := h.last(t); rec.Status != ledger.StatusSucceeded || rec.Verified != ledger.VerifiedGood {
		t.Fatalf("record = %+v", rec)
	}
}
