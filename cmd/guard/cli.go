package main

import (
	"context"
	"github.com/alecthomas/kong"
	"io"
	"os"
	"runtime/debug"
	"sync"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gitx"
)

// Version is guard's version: set at build time with -ldflags, else the
// module version `go install ...@vX` recorded, else "dev".
var Version = buildVersion()

func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// CLI is guard's command line.
type CLI struct {
	Chdir   string           `short:"C" name:"chdir" help:"Run as if guard was started in this directory." placeholder:"DIR"`
	Version kong.VersionFlag `name:"version" help:"Print guard's version and exit."`

	Demo       DemoCmd       `cmd:"" help:"Run the whole flow in a sandbox: hooks, deploy, bad deploy, rollback, evidence."`
	Install    InstallCmd    `cmd:"" help:"Install guard's commit-msg and pre-push hooks into this repository."`
	Uninstall  UninstallCmd  `cmd:"" help:"Remove guard's hooks and restore the hooks that were there before."`
	Hook       HookCmd       `cmd:"" hidden:"" help:"Run a git hook (called by the installed hooks)."`
	Check      CheckCmd      `cmd:"" help:"Check a commit range (and a pull request) against the policy, for CI."`
	Config     ConfigCmd     `cmd:"" help:"Print the effective configuration."`
	Doctor     DoctorCmd     `cmd:"" help:"Check hooks, configuration, git, wrangler and credentials."`
	Init       InitCmd       `cmd:"" help:"Write the files a repository needs to adopt the policy (never overwrites)."`
	Workers    WorkersCmd    `cmd:"" help:"List the workers: every wrangler configuration, its worker names, bindings and D1 migrations folders."`
	Migrations MigrationsCmd `cmd:"" help:"D1 migration checks."`
	Deploy     DeployCmd     `cmd:"" help:"Deploy the worker: only origin's branch, through wrangler, recorded and verified."`
	History    HistoryCmd    `cmd:"" help:"List the worker's deployments joined with guard's deploy records."`
	Ledger     LedgerCmd     `cmd:"" help:"Deploy-ledger commands."`
	Rollback   RollbackCmd   `cmd:"" help:"Roll the worker back to the last version verified good, and write the emergency-change record."`
	Changes    ChangesCmd    `cmd:"" help:"List the emergency-change records: open, overdue or documented (GUARD_NOW overrides the clock)."`
	Evidence   EvidenceCmd   `cmd:"" help:"Evidence for the policy's controls: merge activity, deployments, branch protection (JSON with SHA-256)."`
	Emulator   EmulatorCmd   `cmd:"" hidden:"" help:"Serve the Cloudflare API emulator on loopback (end-to-end tests, demos)."`
}

// Env carries what every command needs, built lazily so a hook that needs
// only the repository never loads anything else.
type Env struct {
	Ctx    context.Context
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer

	repoOnce sync.Once
	repo     *gitx.Repo
	repoErr  error

	cfgOnce sync.Once
	cfg     *config.Config
	cfgErr  error
}

// Repo opens the repository around the working directory.
func (e *Env) Repo() (*gitx.Repo, error) {
	e.repoOnce.Do(func() {
		wd, err := os.Getwd()
		if err != nil {
			e.repoErr = err
			return
		}
		e.repo, e.repoErr = gitx.Open(e.Ctx, wd)
		if e.repoErr == gitx.ErrNotRepo {
			e.repoErr = fail.Usage(e.repoErr, "run guard inside a git work tree, or pass -C DIR")
		}
	})
	return e.repo, e.repoErr
}

// Config loads guard.toml from the repository root.
func (e *Env) Config() (*config.Config, error) {
	e.cfgOnce.Do(func() {
		repo, err := e.Repo()
		if err != nil {
			e.cfgErr = err
			return
		}
		e.cfg, e.cfgErr = config.Load(repo.Root)
		if e.cfgErr != nil {
			e.cfgErr = fail.Usage(e.cfgErr, "fix guard.toml; 'guard config' prints the effective configuration")
		}
	})
	return e.cfg, e.cfgErr
}

// Workspace opens the repository and loads its guard.toml: what most
// commands start with.
func (e *Env) Workspace() (*gitx.Repo, *config.Config, error) {
	cfg, err := e.Config() // opens the repository first
	if err != nil {
		return nil, nil, err
	}
	return e.repo, cfg, nil
}

// Close releases what the commands opened.
func (e *Env) Close() {
	if e.repo != nil {
		e.repo.Close()
	}
}
