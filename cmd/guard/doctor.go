package main

import (
	"fmt"
	"os"
	"strings"

	goversion "github.com/hashicorp/go-version"

	"github.com/guardcm/guard/install"
	"github.com/guardcm/guard/internal/fail"
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
	// hooks
	self, _ := install.DefaultBinary()
	states, err := install.Inspect(env.Ctx, repo, nil)
	if err != nil {
		d.problem("", "cannot inspect the hooks: %v", err)
	}
	for _, s := range states {
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
