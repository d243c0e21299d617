package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mattn/go-isatty"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/deploy"
	"github.com/guardcm/guard/history"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/ledger"
	"github.com/guardcm/guard/rollback"
)

// RollbackCmd rolls the worker back to the last good version.
type RollbackCmd struct {
	To     string `help:"Roll back to this version ID (default: the newest earlier version verified good)." placeholder:"VERSION_ID"`
	Reason string `help:"Why: wrangler's rollback message (first 120 characters), the ledger and the emergency-change record." placeholder:"TEXT"`
	Env    string `help:"The wrangler environment whose worker to roll back." placeholder:"ENV"`
	Config string `help:"The wrangler configuration file (as for guard deploy)." placeholder:"FILE"`
	Yes    bool   `short:"y" help:"Do not ask for confirmation (required when there is no terminal to ask on)."`
	DryRun bool   `help:"Print the plan and change nothing: no wrangler, no API writes, no ledger, no record."`
}

func init() {
	// guard deploy --rollback-on-fail. The hook's signature carries no
	// Env, so it opens what it needs from the working directory (main has
	// applied -C by then) and writes to the process's own streams.
	deployRollback = func(ctx context.Context, req deploy.RollbackRequest) error {
		wd, err := os.Getwd()
		if err != nil {
			return fail.External(err)
		}
		repo, err := gitx.Open(ctx, wd)
		if err != nil {
			return fail.External(err)
		}
		defer repo.Close()
		cfg, err := config.Load(repo.Root)
		if err != nil {
			return fail.Usage(err)
		}
		now, err := guardClock()
		if err != nil {
			return err
		}
		return rollback.DeployHook(rollback.Options{
			Repo: repo, Config: cfg, Token: os.Getenv("CLOUDFLARE_API_TOKEN"), Now: now,
			Stdout: os.Stdout, Stderr: os.Stderr,
		})(ctx, req)
	}
}

// Run prints the plan, asks (or requires --yes), and rolls back.
func (c *RollbackCmd) Run(env *Env) error {
	repo, err := env.Repo()
	if err != nil {
		return err
	}
	cfg, err := env.Config()
	if err != nil {
		return err
	}
	now, err := guardClock()
	if err != nil {
		return err
	}
	token := os.Getenv("CLOUDFLARE_API_TOKEN")
	if token == "" {
		return deploy.TokenMissing()
	}
	wcfg := c.Config
	if wcfg != "" && !filepath.IsAbs(wcfg) {
		if wcfg, err = filepath.Abs(wcfg); err != nil {
			return fail.Usage(err)
		}
	}
	t, err := deploy.ResolveTarget(repo.Root, cfg, wcfg, c.Env, os.Getenv("CLOUDFLARE_ACCOUNT_ID"))
	if err != nil {
		return err
	}
	o := rollback.Options{
		Repo: repo, Config: cfg, Target: t, To: c.To, Reason: c.Reason,
		Token: token, FetchNotes: true, Now: now,
		Stdout: env.Stdout, Stderr: env.Stderr,
	}
	if !c.DryRun {
		// One deploy or rollback of a worker at a time, from the plan to
		// the record, so the plan cannot go stale under a concurrent deploy.
		lock, err := ledger.AcquireLock(ledger.LockDir(repo), history.LockName(t.Worker))
		if err != nil {
			var held *ledger.HeldError
			if errors.As(err, &held) {
				return fail.Refused(err, "wait for it to finish, then look at guard history before rolling back")
			}
			return fail.External(err)
		}
		defer lock.Release()
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
