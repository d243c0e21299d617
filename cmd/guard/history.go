package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/guardcm/guard/internal/gitx"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/guardcm/guard/history"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/ledger"
)

// HistoryCmd lists a worker's deployments joined with guard's records.
type HistoryCmd struct {
	WorkerFlags
	JSON    bool `name:"json" help:"Print a JSON array on stdout."`
	NoFetch bool `help:"Do not fetch the team's deploy records (git notes) first."`
}

// Run prints the history, newest first.
func (c *HistoryCmd) Run(env *Env) error {
	repo, cfg, err := env.Workspace()
	if err != nil {
		return err
	}
	cf, err := env.Cloudflare(c.WorkerFlags)
	if err != nil {
		return err
	}
	t := cf.Target
	src := history.Source{
		Repo:         repo,
		API:          cf.API(),
		Ledger:       ledger.Open(ledger.DefaultPath(repo)),
		FetchTimeout: cfg.Deploy.FetchTimeout.Duration,
		Account:      t.Account,
	}
	if !c.NoFetch {
		src.Remote = cfg.Remote
	}
	entries, warnings, lerr := history.Load(env.Ctx, src, t.Worker)
	var partial *history.PartialError
	if lerr != nil && !errors.As(lerr, &partial) {
		return fail.External(lerr)
	}
	for _, w := range warnings {
		fmt.Fprintf(env.Stderr, "guard: warning: %s\n", w)
	}
	if c.JSON {
		if entries == nil {
			entries = []history.Entry{}
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(entries); err != nil {
			return fail.External(err)
		}
	} else {
		printHistory(env, t.Worker, entries)
	}
	if partial != nil {
		return fail.External(partial, "check CLOUDFLARE_API_TOKEN and the network; pending records are reconciled once the API answers")
	}
	return nil
}

func printHistory(env *Env, worker string, entries []history.Entry) {
	if len(entries) == 0 {
		fmt.Fprintf(env.Stderr, "guard: %s has no deployments and no deploy records\n", worker)
		return
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tKIND\tSTATUS\tVERIFIED\tSOURCE\tVERSION\tDEPLOYMENT\tCOMMIT\tOPERATOR\tMESSAGE")
	for _, e := range entries {
		mark := ""
		if e.Current {
			mark = " *"
		}
		msg := e.Message
		if e.Status == ledger.StatusFailed && e.Error != "" {
			msg = e.Error
		}
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		kind := e.Kind
		if e.Step != nil {
			kind += " (" + e.Step.Label() + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			e.Time.UTC().Format(time.RFC3339), kind+mark, e.Status, e.Verified, e.Source,
			dash(e.VersionID), dash(e.DeploymentID), dash(gitx.ShortHash(e.Commit)), dash(e.Operator), msg)
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
