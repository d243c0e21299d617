package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/workers"
	"github.com/guardcm/guard/wranglercfg"
)

// WorkersCmd lists the workers guard sees in the repository.
type WorkersCmd struct {
	Format string `help:"Output format: text or json (an object on stdout)." enum:"text,json" default:"text"`
}

// Run prints every wrangler configuration with its workers, bindings and
// D1 migrations folders.
func (c *WorkersCmd) Run(env *Env) error {
	list, err := env.Workers()
	if err != nil {
		return err
	}
	if c.Format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(list); err != nil {
			return fail.External(err)
		}
		return nil
	}
	out := env.Stdout
	for i, w := range list.Workers {
		if i > 0 {
			fmt.Fprintln(out)
		}
		src := ""
		if w.Configured {
			src = " (guard.toml [[workers]])"
		}
		fmt.Fprintf(out, "%s%s\n", w.Config, src)
		for _, n := range w.Names {
			section := "top level"
			if n.Env != "" {
				section = "env." + n.Env
			}
			name := n.Worker
			if name == "" {
				name = "(no name)"
			}
			fmt.Fprintf(out, "  worker %s (%s)\n", name, section)
		}
		if len(w.Bindings) == 0 {
			fmt.Fprintln(out, "  bindings: none")
		}
		for _, b := range w.Bindings {
			fmt.Fprintf(out, "  binding %s\n", b)
		}
		for _, d := range w.D1 {
			where := ""
			if d.Env != "" {
				where = " in env." + d.Env
			}
			fmt.Fprintf(out, "  d1 %s (%s)%s: migrations %s\n", d.Binding, d.Database, where, d.MigrationsDir)
		}
	}
	if len(list.Workers) == 0 {
		fmt.Fprintln(env.Stderr, "guard: no wrangler configuration found (wrangler.toml, wrangler.json or wrangler.jsonc, outside node_modules and ignored folders)")
		fmt.Fprintln(env.Stderr, "guard: hint: name a configuration with another file name in guard.toml: [[workers]] config = \"path/to/wrangler.kv.toml\"")
		return nil
	}
	fmt.Fprintf(env.Stderr, "guard: %s, %s\n", plural(len(list.Workers), "wrangler configuration"), folderSummary(list.Folders))
	return nil
}

func folderSummary(fs []workers.Folder) string {
	if len(fs) == 0 {
		return "no D1 migrations folder"
	}
	var parts []string
	for _, f := range fs {
		s := f.Dir
		if !f.Exists {
			s += " (absent)"
		}
		parts = append(parts, s)
	}
	return fmt.Sprintf("%s: %s", plural(len(fs), "D1 migrations folder"), strings.Join(parts, ", "))
}

// Workers loads the repository's workers from the work tree: the one list
// deploy, rollback, history, evidence and the migration checks use. An
// unparsable configuration is a located usage error.
func (e *Env) Workers() (*workers.List, error) {
	repo, cfg, err := e.Workspace()
	if err != nil {
		return nil, err
	}
	list, err := workers.Load(e.Ctx, workers.WorkTree(repo), cfg)
	if err != nil {
		var located *wranglercfg.Error
		if errors.As(err, &located) {
			return nil, fail.Usage(err, "fix the wrangler configuration")
		}
		if fail.KindOf(err) == fail.KindUsage {
			return nil, err
		}
		return nil, fail.External(err)
	}
	return list, nil
}
