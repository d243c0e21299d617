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
	JSON bool `name:"json" help:"Print the problems as a JSON array on stdout."`
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
	repo, err := env.Repo()
	if err != nil {
		return err
	}
	l := ledger.Open(ledger.DefaultPath(repo))
	probs, err := l.Verify()
	if err != nil {
		return fail.External(err)
	}
	noteProbs, err := history.CheckAgainstNotes(env.Ctx, repo, l)
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
			fmt.Fprintf(env.Stderr, "guard: %s:%d: %s: %s\n", l.Path(), p.Line, p.Kind, p.Message)
		}
	}
	if len(probs) > 0 {
		return fail.Refused(fmt.Errorf("ledger %s: %d problem(s)", l.Path(), len(probs)),
			"the ledger is append-only: keep the damaged file as evidence; the team's copy of each final record is in "+ledger.NotesRef)
	}
	fmt.Fprintf(env.Stderr, "guard: ledger %s: %d record(s), chain intact\n", l.Path(), len(recs))
	return nil
}
