package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/hooks"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/records"
)

// NowEnv names the clock override. GUARD_NOW, an RFC 3339 time, replaces
// the system clock for guard's judgement of emergency-change records (open
// or overdue) and for the opened time of the records guard writes. It is a
// test and operations override — scripts put a record past its due time,
// an operator asks what tomorrow's push will meet — and it is read here,
// in cmd/guard, only: every package takes the clock as a parameter.
const NowEnv = "GUARD_NOW"

// guardClock returns the commands' clock: GUARD_NOW when set, else the
// system clock.
func guardClock() (func() time.Time, error) {
	v := strings.TrimSpace(os.Getenv(NowEnv))
	if v == "" {
		return time.Now, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return nil, fail.Usage(fmt.Errorf("%s=%q is not an RFC 3339 time (like 2026-11-02T10:00:00Z)", NowEnv, v),
			"unset "+NowEnv+" to use the system clock")
	}
	return func() time.Time { return t }, nil
}

// recordChecks are the emergency-record range checks of pre-push and
// guard check: an emergency commit dated in the future is refused, overdue
// records hold back non-emergency pushes, and a pushed emergency commit
// gets its record written.
func recordChecks() []hooks.RangeCheck {
	now, err := guardClock()
	if err != nil {
		return []hooks.RangeCheck{func(context.Context, *gitx.Repo, *config.Config, hooks.Range, *hooks.Result) ([]report.Finding, error) {
			return nil, err
		}}
	}
	return []hooks.RangeCheck{records.FutureDateCheck(now), records.OverdueCheck(now), records.CommitRecordCheck(now)}
}

// ChangesCmd lists the emergency-change records and their state.
type ChangesCmd struct {
	Format string `help:"Output format: text or json (an array on stdout)." enum:"text,json" default:"text"`
}

// changeJSON is one record in --format json: where it stands, then what
// the change was.
type changeJSON struct {
	File      string    `json:"file"`
	State     string    `json:"state"`
	Kind      string    `json:"kind"`
	Opened    time.Time `json:"opened"`
	Due       time.Time `json:"due"`
	TODO      int       `json:"todo"`
	TODOLines []int     `json:"todo_lines"`
	// Missing: an emergency change with no committed record (File "").
	Missing bool `json:"missing,omitempty"`
	records.Change
}

// Run lists the records, oldest first, then the emergency changes the
// remote branch's history and the team's deploy records show with no
// committed record (missing, or overdue once 24 hours have passed).
func (c *ChangesCmd) Run(env *Env) error {
	repo, cfg, err := env.Workspace()
	if err != nil {
		return err
	}
	clock, err := guardClock()
	if err != nil {
		return err
	}
	now := clock()
	base, _, err := repo.RefHash(env.Ctx, cfg.RemoteBranchRef())
	if err != nil {
		return fail.External(err)
	}
	st, err := records.Load(env.Ctx, repo, cfg, base, "")
	if err != nil {
		return fail.External(err)
	}
	var missing []*records.Obligation
	for _, o := range st.Obligations {
		if o.Record == nil {
			missing = append(missing, o)
		}
	}
	if c.Format == "json" {
		out := make([]changeJSON, 0, len(st.Records)+len(missing))
		for _, r := range st.Records {
			out = append(out, changeJSON{
				File: r.Path, State: string(r.State(now)), Kind: r.Kind(), Opened: r.Opened, Due: r.Due,
				TODO: len(r.TODO), TODOLines: r.TODO, Change: r.Change,
			})
		}
		for _, o := range missing {
			out = append(out, changeJSON{
				State: string(o.State(now)), Kind: o.Kind, Opened: o.At, Due: o.Due, TODOLines: []int{}, Missing: true,
				Change: records.Change{Commit: o.Commit, Subject: o.Subject, Worker: o.Worker, Env: o.Env, ToVersion: o.ToVersion, DeploymentID: o.DeploymentID},
			})
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fail.External(err)
		}
	} else {
		printChanges(env, cfg, st.Records, missing, now)
	}
	for _, o := range st.Obligations {
		if o.FutureDated(now) && o.State(now) == records.StateOverdue {
			fmt.Fprintf(env.Stderr, "guard: warning: %s is dated %s, later than now (%s): guard cannot tell when it happened, so it counts as overdue until its record is documented\n",
				o.Describe(), o.At.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
	}
	for _, p := range st.Problems {
		fmt.Fprintf(env.Stderr, "guard: error: %v\n", p)
	}
	if len(st.Problems) > 0 {
		return fail.Usage(fmt.Errorf("%d emergency-change record(s) could not be read", len(st.Problems)),
			"fix the front matter at the line named; until then the record counts as undocumented")
	}
	return nil
}

func printChanges(env *Env, cfg *config.Config, recs []*records.Record, missing []*records.Obligation, now time.Time) {
	dir := cfg.Rollback.RecordsDir
	if len(recs) == 0 && len(missing) == 0 {
		fmt.Fprintf(env.Stderr, "guard: no emergency-change records in %s, and no emergency change without one\n", dir)
		return
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATE\tOPENED\tDUE\tTODO\tFILE\tCHANGE")
	counts := map[records.State]int{}
	for _, r := range recs {
		st := r.State(now)
		counts[st]++
		what := ""
		switch r.Kind() {
		case records.KindRollback:
			what = fmt.Sprintf("rollback of %s to %s", r.Worker, records.ShortVersion(r.ToVersion))
		default:
			what = fmt.Sprintf("commit %s %s", records.ShortCommit(r.Commit), r.Subject)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", st, r.Opened.Format(time.RFC3339), r.Due.Format(time.RFC3339), len(r.TODO), r.Path, what)
	}
	missingOverdue := 0
	for _, o := range missing {
		st := o.State(now)
		if st == records.StateOverdue {
			missingOverdue++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t-\t(no record on %s/%s)\t%s\n", st, o.At.Format(time.RFC3339), o.Due.Format(time.RFC3339), cfg.Remote, cfg.Branch, o.Describe())
	}
	tw.Flush()
	fmt.Fprintf(env.Stderr, "guard: %d record(s): %d open, %d overdue, %d documented; %d emergency change(s) without a committed record (%d overdue)\n",
		len(recs), counts[records.StateOpen], counts[records.StateOverdue], counts[records.StateDocumented], len(missing), missingOverdue)
	if counts[records.StateOverdue]+missingOverdue > 0 {
		fmt.Fprintln(env.Stderr, "guard: hint: overdue changes hold back every non-emergency push: write or complete their records, commit and push them (a push of records alone may go to the protected branch)")
	}
}
