package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mattn/go-isatty"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/deploy"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/rollback"
)

// RollbackCmd rolls the worker back to the last good version.
type RollbackCmd struct {
	To     string `help:"Roll back to this version ID (default: the newest earlier version verified good)." placeholder:"VERSION_ID"`
	Reason string `help:"Why: wrangler's rollback message (first 120 characters), the ledger and the emergency-change record." placeholder:"TEXT"`
	WorkerFlags
	Yes    bool `short:"y" help:"Do not ask for confirmation (required when there is no terminal to ask on)."`
	DryRun bool `help:"Print the plan and change nothing: no wrangler, no API writes, no ledger, no record."`
	// BreakLock is guard deploy's: an incident must not wait for a lease
	// a crashed deploy left.
	BreakLock bool `help:"Take over the team lock when its lease has expired (recorded)."`
}

// deployRollback is the hook behind `guard deploy --rollback-on-fail`: it
// rolls the worker back to req.ToVersion without taking the deploy lock,
// which the failing deploy still holds, and speaks through env.
func deployRollback(env *Env, repo *gitx.Repo, cfg *config.Config) (deploy.RollbackFunc, error) {
	now, err := guardClock()
	if err != nil {
		return nil, err
	}
	return rollback.DeployHook(rollback.Options{
		Repo: repo, Config: cfg, Token: os.Getenv(tokenEnv), Now: now,
		Stdout: env.Stdout, Stderr: env.Stderr,
	}), nil
}

// Run prints the plan, asks (or requires --yes), and rolls back.
func (c *RollbackCmd) Run(env *Env) error {
	repo, cfg, err := env.Workspace()
	if err != nil {
		return err
	}
	now, err := guardClock()
	if err != nil {
		return err
	}
	cf, err := env.Cloudflare(c.WorkerFlags)
	if err != nil {
		return err
	}
	t := cf.Target
	o := rollback.Options{
		Repo: repo, Config: cfg, Target: t, To: c.To, Reason: c.Reason,
		Token: cf.Token, FetchNotes: true, Now: now,
		Stdout: env.Stdout, Stderr: env.Stderr,
	}
	if !c.DryRun {
		// One deploy or rollback of a worker at a time, from the plan to
		// the record, so the plan cannot go stale under a concurrent deploy.
		lock, err := deploy.LockWorker(repo, t.Worker, "wait for it to finish, then look at guard history before rolling back")
		if err != nil {
			return err
		}
		defer lock.Release()
		voice := report.Voice{W: env.Stderr}
		team, _, err := deploy.LockTeam(env.Ctx, repo, cfg, t.Worker, c.BreakLock, voice)
		if err != nil {
			return err
		}
		defer team.Release(voice)
	}
	p, err := rollback.Prepare(env.Ctx, o)
	if err != nil {
		return err
	}
	if err := p.Write(env.Stdout); err != nil {
		return fail.External(err)
	}
	if c.DryRun {
		fmt.Fprintln(env.Stderr, "guard: dry run: nothing was changed")
		return nil
	}
	if !c.Yes {
		if !isTerminal(env.Stdin) {
			return fail.Usage(errors.New("not rolling back without confirmation: there is no terminal to ask on"),
				"read the plan above, then run the same command with --yes (--dry-run only prints the plan)")
		}
		ok, err := confirm(env.Stdin, env.Stderr, fmt.Sprintf("guard: roll %s back to version %s? [y/N] ", p.Worker, p.To.VersionID))
		if err != nil {
			return fail.External(fmt.Errorf("reading the answer: %w", err))
		}
		if !ok {
			return fail.Refused(errors.New("rollback cancelled: nothing was changed"))
		}
	}
	_, err = rollback.Execute(env.Ctx, o, p)
	return err
}

// isTerminal reports whether r is a terminal guard can ask on.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// confirm asks a yes/no question; only "y" or "yes" is yes.
func confirm(in io.Reader, out io.Writer, question string) (bool, error) {
	fmt.Fprint(out, question)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			fmt.Fprintln(out)
			return false, nil
		}
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}
