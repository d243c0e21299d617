package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/workers"
)

// WorkerFlags choose the worker deploy, rollback, history and evidence act
// on, from the one list of workers (guard workers).
type WorkerFlags struct {
	Worker string `help:"The worker, by name as 'guard workers' lists it: picks its wrangler configuration and environment." placeholder:"NAME"`
	Env    string `help:"The wrangler environment (wrangler's --env)." placeholder:"ENV"`
	Config string `help:"The wrangler configuration file, relative to the working directory." placeholder:"FILE"`
}

// chooseWorker turns the flags into the wrangler configuration (absolute,
// or "" for guard.toml's [deploy] config) and environment to use. Without
// --config or --worker, a repository with one deployable worker uses it;
// with several it is a usage error that lists them, since deploying "the
// one at the root" by default is how the wrong worker goes out.
func (e *Env) chooseWorker(f WorkerFlags) (config, env string, err error) {
	repo, cfg, err := e.Workspace()
	if err != nil {
		return "", "", err
	}
	env = f.Env
	if f.Config != "" {
		if config, err = wranglerConfigFlag(f.Config); err != nil {
			return "", "", err
		}
		if f.Worker == "" {
			return config, env, nil
		}
	}
	if f.Worker == "" && cfg.Deploy.Config != "" {
		return "", env, nil
	}
	list, err := e.Workers()
	if err != nil {
		return "", "", err
	}
	if f.Worker != "" {
		matches := list.ByName(f.Worker)
		if config != "" {
			rel, _ := filepath.Rel(repo.Root, config)
			var kept []workers.Match
			for _, m := range matches {
				if m.Worker.Config == filepath.ToSlash(rel) {
					kept = append(kept, m)
				}
			}
			if len(kept) == 0 {
				return "", "", fail.Usage(fmt.Errorf("--worker %s is not a worker of --config %s", f.Worker, f.Config),
					"pass one of the two; 'guard workers' lists which configuration deploys which worker")
			}
			matches = kept
		}
		if env != "" {
			var kept []workers.Match
			for _, m := range matches {
				if m.Env == env {
					kept = append(kept, m)
				}
			}
			if len(kept) == 0 && len(matches) > 0 {
				return "", "", fail.Usage(fmt.Errorf("worker %s is deployed by env %q, not --env %s", f.Worker, matches[0].Env, env),
					"drop --env: --worker picks the environment")
			}
			matches = kept
		}
		switch len(matches) {
		case 0:
			return "", "", fail.Usage(fmt.Errorf("no worker named %q", f.Worker), "the workers are: "+workerChoices(list))
		case 1:
			return filepath.Join(repo.Root, filepath.FromSlash(matches[0].Worker.Config)), matches[0].Env, nil
		}
		var where []string
		for _, m := range matches {
			where = append(where, m.Worker.Config)
		}
		return "", "", fail.Usage(fmt.Errorf("worker %q is deployed by several configurations: %s", f.Worker, strings.Join(where, ", ")),
			"choose one with --config")
	}
	deployable := list.Deployable()
	switch len(deployable) {
	case 0:
		return "", env, nil // guard's default lookup says what is missing
	case 1:
		if !strings.Contains(deployable[0].Config, "/") && workers.IsConfigName(deployable[0].Config) {
			return "", env, nil // the one at the root, as wrangler finds it
		}
		return filepath.Join(repo.Root, filepath.FromSlash(deployable[0].Config)), env, nil
	}
	return "", "", fail.Usage(fmt.Errorf("this repository has %d workers; say which one", len(deployable)),
		"choose with --worker NAME or --config FILE: "+workerChoices(list))
}

// workerChoices lists the workers as the flags that pick them.
func workerChoices(list *workers.List) string {
	var out []string
	for _, w := range list.Deployable() {
		var names []string
		for _, n := range w.Names {
			if n.Worker != "" {
				names = append(names, n.Worker)
			}
		}
		out = append(out, fmt.Sprintf("--worker %s (%s)", strings.Join(names, "|"), w.Config))
	}
	if len(out) == 0 {
		return "none found ('guard workers')"
	}
	return strings.Join(out, "; ")
}
