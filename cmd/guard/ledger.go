package main

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/guardcm/guard/history"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/ledger"
)

// LedgerCmd groups the deploy-ledger commands.
type LedgerCmd struct {
	Verify LedgerVerifyCmd `cmd:"" help:"Check the deploy ledger's hash chain and compare it with the shared git notes."`
}

// LedgerVerifyCmd checks the ledger.
type LedgerVerifyCmd struct {
	JSON    bool `name:"json" help:"Print the problems as a JSON array on stdout."`
	NoFetch bool `help:"Compare with the deploy records (git notes) as last fetched, without fetching them first."`
}

type ledgerProblem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// Run verifies the chain: every problem is named by its line; exit 1 when
// there is any.
func (c *LedgerVerifyCmd) Run(env *Env) error {
	repo, cfg, err := env.Workspace()
	if err != nil {
		return err
	}
	if _, hasRemote, _ := repo.ConfigValue(env.Ctx, "remote."+cfg.Remote+".url"); !c.NoFetch && hasRemote {
		// The remote keeps the records this clone shared even when the
		// local notes ref went with the ledger.
		if err := ledger.FetchNotes(env.Ctx, repo, cfg.Remote, cfg.Deploy.FetchTimeout.Duration); err != nil {
			if env.Ctx.Err() != nil {
				return env.Ctx.Err()
			}
			fmt.Fprintf(env.Stderr, "guard: warning: the shared deploy records were not fetched from %s; comparing with the local copy of %s: %v\n", cfg.Remote, ledger.NotesRef, err)
		}
	}
	l := ledger.Open(ledger.DefaultPath(repo))
	probs, err := l.Verify()
	if err != nil {
		return fail.External(err)
	}
	noteProbs, shared, err := history.CheckAgainstNotes(env.Ctx, repo, l)
	if err != nil {
		return fail.External(err)
	}
	probs = append(probs, noteProbs...)
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
	recs, err := l.Records()
	if err != nil {
		return fail.External(err)
	}
	if c.JSON {
		out := make([]ledgerProblem, 0, len(probs))
		for _, p := range probs {
			out = append(out, ledgerProblem{File: l.Path(), Line: p.Line, Kind: p.Kind, Message: p.Message})
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fail.External(err)
		}
	} else {
		for _, p := range probs {
			if p.Line == 0 {
				fmt.Fprintf(env.Stderr, "guard: %s: %s: %s\n", l.Path(), p.Kind, p.Message)
				continue
			}
			fmt.Fprintf(env.Stderr, "guard: %s:%d: %s: %s\n", l.Path(), p.Line, p.Kind, p.Message)
		}
	}
	if len(probs) > 0 {
		return fail.Refused(fmt.Errorf("ledger %s: %d problem(s)", l.Path(), len(probs)),
			"the ledger is append-only: keep the damaged file as evidence; the team's copy of each final record is in "+ledger.NotesRef)
	}
	fmt.Fprintf(env.Stderr, "guard: ledger %s: %d record(s), chain intact; %d record(s) this clone shared in %s, all present and equal\n", l.Path(), len(recs), shared, ledger.NotesRef)
	return nil
}
