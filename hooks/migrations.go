package hooks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/migrations"
	"github.com/guardcm/guard/wranglercfg"
)

// WorkTree names the working tree as the head of a migration check (what
// `guard migrations check` looks at by default).
const WorkTree = ""

// MigrationFindings runs the D1 migration checker on every migrations
// folder (guard.toml's, plus each migrations_dir of the wrangler
// configuration's d1_databases) at headRev against baseRev, both read from
// git objects; headRev WorkTree reads the files on disk. A folder that did
// not change against the base is not checked at all, so a push that touches
// no migration never opens SQLite. baseRev "" checks every file as new.
func MigrationFindings(ctx context.Context, repo *gitx.Repo, cfg *config.Config, baseRev, headRev string) ([]report.Finding, error) {
	dirs, err := MigrationDirs(ctx, repo, cfg, headRev)
	if err != nil {
		return nil, err
	}
	return CheckMigrationDirs(ctx, repo, cfg, dirs, baseRev, headRev)
}

// CheckMigrationDirs is MigrationFindings on the given folders.
func CheckMigrationDirs(ctx context.Context, repo *gitx.Repo, cfg *config.Config, dirs []string, baseRev, headRev string) ([]report.Finding, error) {
	opts, err := migrationOptions(cfg)
	if err != nil {
		return nil, err
	}
	var out []report.Finding
	for _, dir := range dirs {
		if baseRev != "" && headRev != WorkTree {
			changed, err := repo.DiffTrees(ctx, baseRev, headRev, dir+"/")
			if err != nil {
				return nil, err
			}
			if len(changed) == 0 {
				continue
			}
		}
		in := migrations.Input{Dir: dir}
		if headRev == WorkTree {
			in.Head, err = filesOnDisk(repo.Root, dir)
		} else {
			in.Head, err = filesAt(ctx, repo, headRev, dir)
		}
		if err != nil {
			return nil, err
		}
		if baseRev != "" {
			in.HasBase = true
			if in.Base, err = filesAt(ctx, repo, baseRev, dir); err != nil {
				return nil, err
			}
		}
		if len(in.Head) == 0 && len(in.Base) == 0 {
			continue
		}
		fs, err := migrations.Check(ctx, in, opts)
		if err != nil {
			return nil, fmt.Errorf("checking %s: %w", dir, err)
		}
		out = append(out, fs...)
	}
	report.Sort(out)
	return out, nil
}

// MigrationDirs lists the migrations folders of the repository at rev
// (WorkTree for the files on disk), relative to the root, without
// duplicates.
func MigrationDirs(ctx context.Context, repo *gitx.Repo, cfg *config.Config, rev string) ([]string, error) {
	seen := map[string]bool{}
	var dirs []string
	add := func(d string) {
		d = strings.TrimSuffix(path.Clean(filepath.ToSlash(d)), "/")
		if d != "" && d != "." && !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	add(cfg.Migrations.Dir)
	for _, name := range []string{"wrangler.jsonc", "wrangler.json", "wrangler.toml"} {
		var data []byte
		var ok bool
		if rev == WorkTree {
			b, err := os.ReadFile(filepath.Join(repo.Root, name))
			if err == nil {
				data, ok = b, true
			} else if !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
		} else {
			b, found, err := repo.Blob(ctx, rev, name)
			if err != nil {
				return nil, err
			}
			data, ok = b, found
		}
		if !ok {
			continue
		}
		wc, err := wranglercfg.Parse(name, data)
		if err != nil {
			return nil, err
		}
		for _, env := range append([]string{""}, wc.Envs...) {
			for _, db := range wc.D1Databases(env) {
				add(db.MigrationsDir)
			}
		}
		break // wrangler reads the first configuration it finds
	}
	return dirs, nil
}

func migrationOptions(cfg *config.Config) (migrations.Options, error) {
	opts := migrations.Options{Digits: cfg.Migrations.Digits, Severity: map[string]report.Severity{}}
	for rule, s := range cfg.Migrations.Severity {
		sev, err := report.ParseSeverity(s)
		if err != nil {
			return opts, err
		}
		opts.Severity[rule] = sev
	}
	return opts, nil
}

func filesAt(ctx context.Context, repo *gitx.Repo, rev, dir string) ([]migrations.File, error) {
	paths, err := repo.LsTree(ctx, rev, dir, false)
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var files []migrations.File
	for _, p := range paths {
		data, ok, err := repo.Blob(ctx, rev, p)
		if err != nil {
			return nil, err
		}
		if ok {
			files = append(files, migrations.File{Path: p, Content: data})
		}
	}
	return files, nil
}

func filesOnDisk(root, dir string) ([]migrations.File, error) {
	entries, err := os.ReadDir(filepath.Join(root, filepath.FromSlash(dir)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var files []migrations.File
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(dir), e.Name()))
		if err != nil {
			return nil, err
		}
		files = append(files, migrations.File{Path: dir + "/" + e.Name(), Content: data})
	}
	return files, nil
}

// MigrationsCheck is the RangeCheck pre-push and guard check run.
func MigrationsCheck(ctx context.Context, repo *gitx.Repo, cfg *config.Config, r Range, _ *Result) ([]report.Finding, error) {
	return MigrationFindings(ctx, repo, cfg, r.Base, r.Head)
}
