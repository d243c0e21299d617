package main

import (
	"fmt"
	"os"
	"strings"

	goversion "github.com/hashicorp/go-version"

	"github.com/guardcm/guard/initrepo"
	"github.com/guardcm/guard/install"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/wrangler"
)

// minGit is the oldest git whose output guard parses: porcelain v2 status,
// trailers in --format, --end-of-options.
const minGit = "2.25.0"

// DoctorCmd checks that guard can do its job here.
type DoctorCmd struct{}

type doctor struct {
	env      *Env
	problems int
}

func (d *doctor) ok(format string, a ...any) {
	fmt.Fprintf(d.env.Stderr, "guard: ok: %s\n", fmt.Sprintf(format, a...))
}

func (d *doctor) problem(fix string, format string, a ...any) {
	d.problems++
	fmt.Fprintf(d.env.Stderr, "guard: problem: %s\n", fmt.Sprintf(format, a...))
	if fix != "" {
		fmt.Fprintf(d.env.Stderr, "guard: hint: %s\n", fix)
	}
}

// Run reports every check; exit 1 when any failed.
func (c *DoctorCmd) Run(env *Env) error {
	d := &doctor{env: env}
	repo, err := env.Repo()
	if err != nil {
		return err
	}
	// git
	if out, err := repo.GitLine(env.Ctx, "version"); err != nil {
		d.problem("install git", "git does not run: %v", err)
	} else {
		v := gitVersion(out)
		min := goversion.Must(goversion.NewVersion(minGit))
		if v == nil {
			d.problem("", "cannot read git's version from %q", out)
		} else if v.LessThan(min) {
			d.problem("upgrade git to "+minGit+" or later", "git %s is older than %s", v, minGit)
		} else {
			d.ok("git %s", v)
		}
	}
	// configuration
	cfg, cfgErr := env.Config()
	if cfgErr != nil {
		d.problem("fix guard.toml", "configuration: %v", cfgErr)
	} else if cfg.Source == "" {
		d.ok("configuration: defaults (no guard.toml)")
	} else {
		d.ok("configuration: %s is valid", cfg.Source)
	}
	// the commands guard runs: their programs, and the package scripts
	// they name, so a push never fails on "bun: not found"
	if cfg != nil {
		d.commands(repo.Root, cfg.PrePush.Commands, cfg.Deploy.Verify)
	}
	// hooks
	self, _ := install.DefaultBinary()
	states, err := install.Inspect(env.Ctx, repo, nil)
	if err != nil {
		d.problem("", "cannot inspect the hooks: %v", err)
	}
	for _, s := range states {
		if s.Tracked {
			d.trackedHook(repo, s)
			continue
		}
		switch {
		case !s.Present:
			d.problem("run 'guard install'", "%s hook is not installed", s.Hook)
		case !s.Guard:
			d.problem("run 'guard install' (your hook is kept and still runs first)", "%s hook is not guard's (%s)", s.Hook, s.Path)
		case !s.Executable:
			d.problem("run 'guard install'", "%s hook is not executable, so git ignores it", s.Hook)
		case !s.BinaryOK:
			d.problem("reinstall guard, then run 'guard install'", "%s hook runs %s, which is missing", s.Hook, s.Binary)
		case s.Edited:
			d.problem("run 'guard install' to restore it", "%s hook was edited by hand", s.Hook)
		default:
			note := ""
			if self != "" && s.Binary != self {
				note = fmt.Sprintf(" (not this binary, %s)", self)
			}
			d.ok("%s hook installed, runs %s%s", s.Hook, s.Binary, note)
		}
	}
	// wrangler
	configured := ""
	if cfg != nil {
		configured = cfg.Deploy.Wrangler
	}
	if cmd, err := wrangler.Locate(repo.Root, configured); err != nil {
		d.problem("npm install --save-dev wrangler", "wrangler: %v", err)
	} else {
		r := &wrangler.Runner{Command: cmd, Dir: repo.Root}
		v, err := r.Version(env.Ctx)
		min := goversion.Must(goversion.NewVersion(wrangler.MinVersion))
		switch {
		case err != nil:
			d.problem("npm install --save-dev wrangler", "wrangler (%s) does not run: %v", strings.Join(cmd, " "), err)
		case v.LessThan(min):
			d.problem("npm install --save-dev wrangler@4", "wrangler %s is older than %s, the oldest guard drives", v, wrangler.MinVersion)
		default:
			d.ok("wrangler %s (%s)", v, strings.Join(cmd, " "))
		}
	}
	// credentials: presence only, never values
	for _, name := range []string{"CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID"} {
		if os.Getenv(name) == "" {
			d.problem("export "+name+" (deploy and rollback need it)", "%s is not set", name)
		} else {
			d.ok("%s is set", name)
		}
	}
	if cfg != nil {
		doctorEvidence(d, cfg)
	}
	if d.problems > 0 {
		return fail.AlreadyReported(fail.KindRefused, fmt.Sprintf("%d problem(s) found", d.problems))
	}
	return nil
}

// trackedHook reports a hook in a folder the repository shares (husky):
// guard's block there, as written, committed, and a guard on PATH to run.
func (d *doctor) trackedHook(repo *gitx.Repo, s install.HookState) {
	rel := relOr(repo.Root, s.Path)
	switch {
	case s.MachineSpecific:
		d.problem("run 'guard install': it puts back the hook that was there and adds guard's portable block",
			"%s: %s is a guard script with one machine's path (%s) in a shared folder", s.Hook, rel, s.Binary)
		return
	case !s.Present || !s.Guard:
		d.problem("run 'guard install' (it adds a marked block to the hook and keeps what is there), then commit "+rel,
			"%s: %s does not run guard", s.Hook, rel)
		return
	case s.Edited:
		d.problem("run 'guard install' to restore the block, then commit "+rel, "%s: guard's block in %s was edited by hand", s.Hook, rel)
		return
	case !s.Executable:
		d.problem("chmod +x "+rel+", then commit it", "%s: %s is not executable, so git ignores it", s.Hook, rel)
		return
	case !s.BinaryOK:
		d.problem("put guard on PATH (go install ./cmd/guard from guard's clone)", "%s: guard's block in %s runs the guard on PATH, and there is none", s.Hook, rel)
		return
	}
	out, err := repo.Git(d.env.Ctx, "status", "--porcelain", "--", rel)
	if err != nil {
		d.problem("", "cannot read the status of %s: %v", rel, err)
		return
	}
	if len(strings.TrimSpace(string(out))) > 0 {
		d.problem(fmt.Sprintf("commit it through a pull request: git add %s && git commit", rel),
			"%s: guard's block in %s is not committed: other clones do not run the checks", s.Hook, rel)
		return
	}
	d.ok("%s: guard's block in %s (tracked), runs guard from PATH (%s)", s.Hook, rel, s.Binary)
}

// commands checks the configured pre-push and verify commands.
func (d *doctor) commands(root string, prePush, verify []string) {
	proj, err := initrepo.Detect(root)
	if err != nil {
		d.problem("fix package.json", "%v", err)
		return
	}
	probs := append(initrepo.CheckCommands(root, proj, "pre_push.commands", prePush),
		initrepo.CheckCommands(root, proj, "deploy.verify", verify)...)
	for _, p := range probs {
		d.problem(p.Fix, "%s = %q: %s", p.Key, p.Command, p.Problem)
	}
	if len(probs) == 0 {
		d.ok("commands: %s and %s; their programs and package scripts exist", plural(len(prePush), "pre-push command"), plural(len(verify), "verify command"))
	}
}

// gitVersion reads "git version 2.39.5 (Apple Git-143)".
func gitVersion(s string) *goversion.Version {
	f := strings.Fields(s)
	if len(f) < 3 {
		return nil
	}
	v, err := goversion.NewVersion(f[2])
	if err != nil {
		// "2.39.5.windows.1" and the like
		parts := strings.SplitN(f[2], ".", 4)
		if len(parts) >= 3 {
			v, _ = goversion.NewVersion(strings.Join(parts[:3], "."))
		}
	}
	return v
}
