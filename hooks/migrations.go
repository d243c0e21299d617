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
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/migrations"
	"github.com/guardcm/guard/workers"
)

// WorkTree names the working tree as the head of a migration check (what
// `guard migrations check` looks at by default).
const WorkTree = ""

// MigrationFindings runs the D1 migration checker on every migrations
// folder of the repository at headRev (workers.Load: each D1 database's
// migrations_dir beside its wrangler configuration, at any depth, plus
// guard.toml's [migrations] dir) against baseRev, both read from git
// objects; headRev WorkTree reads the files on disk. A folder that did not
// change against the base is not checked at all, so a push that touches no
// migration never opens SQLite. baseRev "" checks every file as new.
func MigrationFindings(ctx context.Context, repo *gitx.Repo, cfg *config.Config, baseRev, headRev string) ([]report.Finding, error) {
	fs, _, err := CheckMigrations(ctx, repo, cfg, MigrationScope{Base: baseRev, Head: headRev})
	return fs, err
}

// CheckMigrationDirs is MigrationFindings on the given folders.
func CheckMigrationDirs(ctx context.Context, repo *gitx.Repo, cfg *config.Config, dirs []string, baseRev, headRev string) ([]report.Finding, error) {
	fs, _, err := CheckMigrations(ctx, repo, cfg, MigrationScope{Base: baseRev, Head: headRev, Dirs: dirs})
	return fs, err
}

// existsAtBase reports whether folder dir holds files at the base
// revision: a folder the checked change deletes is checked (its files are
// removed, which wrangler cannot undo), not refused as a wrong --dir.
func existsAtBase(ctx context.Context, repo *gitx.Repo, base, dir string) bool {
	if base == "" {
		return false
	}
	names, err := repo.LsTree(ctx, base, dir, false)
	return err == nil && len(names) > 0
}

// RuleMigrationsPattern marks a migrations folder whose database sets
// wrangler's migrations_pattern: its migrations in subfolders go
// unchecked.
const RuleMigrationsPattern = "migrations-pattern"

// MigrationScope is what CheckMigrations looks at.
type MigrationScope struct {
	// Base and Head are revisions; Head WorkTree is the files on disk,
	// Base "" checks every file as new.
	Base, Head string
	// Dirs limits the check to these folders (relative to the root); nil
	// checks every folder of the workers list. A folder named here that
	// does not exist at Head is a usage error.
	Dirs []string
	// BaseName names the base in the coverage line ("origin/main").
	BaseName string
}

// FolderCoverage is what the check did with one migrations folder.
type FolderCoverage struct {
	Dir   string   `json:"dir"`
	Users []string `json:"used_by"`
	// Exists: the folder holds files at the head.
	Exists bool `json:"exists"`
	// Checked: replayed and judged; false when it did not change against
	// the base (a push) or holds nothing.
	Checked bool `json:"checked"`
	// Migrations is the number of .sql files directly in it at the head;
	// New those not on the base.
	Migrations int `json:"migrations"`
	New        int `json:"new"`
	// MovedFrom is the folder it was at on the base, when its database's
	// migrations_dir moved with it.
	MovedFrom string `json:"moved_from,omitempty"`
}

// MigrationCoverage says what a migration check covered, so that "ok"
// never means "nothing looked".
type MigrationCoverage struct {
	Workers  int              `json:"workers"`
	Folders  []FolderCoverage `json:"folders"`
	BaseName string           `json:"base,omitempty"`
}

// String is the one-line summary: "2 workers, 3 migration folders, 41
// migrations replayed, 2 new since origin/main".
func (c *MigrationCoverage) String() string {
	folders, checked, replayed, fresh, absent, unchanged := len(c.Folders), 0, 0, 0, 0, 0
	for _, f := range c.Folders {
		switch {
		case !f.Exists:
			absent++
		case f.Checked:
			checked++
			replayed += f.Migrations
			fresh += f.New
		default:
			unchanged++
		}
	}
	parts := []string{plural(c.Workers, "worker"), plural(folders, "migration folder")}
	if folders > 0 {
		parts = append(parts, plural(replayed, "migration")+" replayed")
		if c.BaseName != "" {
			parts = append(parts, fmt.Sprintf("%d new since %s", fresh, c.BaseName))
		} else {
			parts = append(parts, "no base to compare with (all checked as new)")
		}
	}
	if unchanged > 0 {
		parts = append(parts, plural(unchanged, "unchanged folder")+" not replayed")
	}
	if absent > 0 {
		parts = append(parts, plural(absent, "folder")+" absent")
	}
	return strings.Join(parts, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// CheckMigrations runs the D1 migration checker over the scope and says
// what it covered.
func CheckMigrations(ctx context.Context, repo *gitx.Repo, cfg *config.Config, sc MigrationScope) ([]report.Finding, *MigrationCoverage, error) {
	opts, err := migrationOptions(cfg)
	if err != nil {
		return nil, nil, err
	}
	head := workers.Source(workers.AtRev(repo, sc.Head))
	if sc.Head == WorkTree {
		head = workers.WorkTree(repo)
	}
	list, err := workers.Load(ctx, head, cfg)
	if err != nil {
		return nil, nil, err
	}
	cov := &MigrationCoverage{Workers: len(list.Workers), BaseName: sc.BaseName}
	folders := list.Folders
	if sc.Dirs != nil {
		folders = nil
		for _, d := range sc.Dirs {
			d = path.Clean(filepath.ToSlash(d))
			f := workers.Folder{Dir: d}
			for _, lf := range list.Folders {
				if lf.Dir == d {
					f = lf
				}
			}
			files, err := head.Files(ctx, d)
			if err != nil {
				return nil, nil, err
			}
			if f.Exists = len(files) > 0; !f.Exists && !existsAtBase(ctx, repo, sc.Base, d) {
				return nil, nil, fail.Usage(fmt.Errorf("migrations folder %q does not exist in %s (or holds no files)", d, head.Name()),
					"name a folder relative to where you are, or run without --dir to check every folder 'guard workers' lists")
			}
			folders = append(folders, f)
		}
	}
	var baseList *workers.List // loaded on demand, to pair moved folders
	var out []report.Finding
	for _, f := range folders {
		if len(f.Patterns) > 0 {
			// wrangler applies the files the pattern matches in subfolders
			// (migrations/<name>/migration.sql); guard reads only the .sql
			// files directly in the folder. Said on every check, so that
			// "ok" never stands for migrations nobody looked at.
			out = append(out, report.Finding{Rule: RuleMigrationsPattern, Severity: report.SeverityWarning, File: f.Dir,
				Message: fmt.Sprintf("migrations_pattern %s (used by %s): wrangler applies the migrations it matches in subfolders of %s, and guard does not check those; only .sql files directly in the folder are checked",
					strings.Join(f.Patterns, ", "), strings.Join(f.Users, ", "), f.Dir),
				Fix: "review those migrations by hand (guard checks only a flat migrations folder)"})
		}
		fc := FolderCoverage{Dir: f.Dir, Users: f.Users, Exists: f.Exists}
		if !f.Exists && sc.Base == "" {
			cov.Folders = append(cov.Folders, fc)
			continue
		}
		if sc.Base != "" && sc.Head != WorkTree {
			// A push that leaves the folder as it is on the base: nothing
			// to replay, and no blob to read (the common case).
			changed, err := repo.DiffTrees(ctx, sc.Base, sc.Head, f.Dir+"/")
			if err != nil {
				return nil, nil, err
			}
			if len(changed) == 0 && f.Exists {
				names, err := repo.LsTree(ctx, sc.Head, f.Dir, false)
				if err != nil {
					return nil, nil, err
				}
				for _, n := range names {
					if strings.HasSuffix(n, ".sql") {
						fc.Migrations++
					}
				}
				cov.Folders = append(cov.Folders, fc)
				continue
			}
		}
		in := migrations.Input{Dir: f.Dir}
		if sc.Head == WorkTree {
			in.Head, err = filesOnDisk(repo.Root, f.Dir)
		} else {
			in.Head, err = filesAt(ctx, repo, sc.Head, f.Dir)
		}
		if err != nil {
			return nil, nil, err
		}
		if sc.Base != "" {
			in.HasBase = true
			if in.Base, err = filesAt(ctx, repo, sc.Base, f.Dir); err != nil {
				return nil, nil, err
			}
			from := ""
			if len(in.Base) == 0 && len(f.Keys) > 0 {
				if baseList == nil {
					// A base whose configurations do not parse pairs nothing:
					// the folder is then checked as new, never skipped.
					if bl, err := workers.Load(ctx, workers.AtRev(repo, sc.Base), cfg); err == nil {
						baseList = bl
					} else {
						baseList = &workers.List{}
					}
				}
				from = movedFrom(baseList, f)
			}
			if len(in.Base) == 0 && from == "" {
				// No configuration says where it was: git's rename
				// detection can (a folder moved with git mv).
				if from, err = renamedFrom(ctx, repo, sc.Base, sc.Head, f.Dir, in.Head); err != nil {
					return nil, nil, err
				}
			}
			if from != "" {
				old, err := filesAt(ctx, repo, sc.Base, from)
				if err != nil {
					return nil, nil, err
				}
				for i := range old {
					old[i].Path = path.Join(f.Dir, path.Base(old[i].Path))
				}
				in.Base, fc.MovedFrom = old, from
			}
		}
		fc.Migrations, fc.New = countMigrations(f.Dir, in.Head, in.Base)
		if len(in.Head) == 0 && len(in.Base) == 0 {
			cov.Folders = append(cov.Folders, fc)
			continue
		}
		fopts := opts
		if fopts.Baseline, err = baselineFiles(ctx, repo, sc.Head, cfg.Migrations.BaselineOf(f.Dir)); err != nil {
			return nil, nil, err
		}
		fs, err := migrations.Check(ctx, in, fopts)
		if err != nil {
			return nil, nil, fmt.Errorf("checking %s: %w", f.Dir, err)
		}
		fc.Checked = true
		cov.Folders = append(cov.Folders, fc)
		out = append(out, fs...)
	}
	report.Sort(out)
	return out, cov, nil
}

// baselineFiles reads the [migrations] baseline files at the head. A file
// that is missing is a configuration error: without it the replay would
// silently check against a schema production does not have.
func baselineFiles(ctx context.Context, repo *gitx.Repo, rev string, paths []string) ([]migrations.File, error) {
	var out []migrations.File
	for _, p := range paths {
		var data []byte
		var err error
		found := true
		if rev == WorkTree {
			data, err = os.ReadFile(filepath.Join(repo.Root, filepath.FromSlash(p)))
			if errors.Is(err, os.ErrNotExist) {
				found, err = false, nil
			}
		} else {
			data, found, err = repo.Blob(ctx, rev, p)
		}
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, fail.Usage(fmt.Errorf("[migrations] baseline file %s does not exist at %s", p, revName(rev)),
				"fix the path in guard.toml (relative to the repository root), or remove it from baseline")
		}
		out = append(out, migrations.File{Path: p, Content: data})
	}
	return out, nil
}

func revName(rev string) string {
	if rev == WorkTree {
		return "the working tree"
	}
	return rev
}

// renamedFrom is the one base folder the .sql files of dir at the head
// were renamed from (git diff -M; the head may be the work tree), when at
// least half of them were and all from the same folder; "" otherwise.
func renamedFrom(ctx context.Context, repo *gitx.Repo, base, head, dir string, files []migrations.File) (string, error) {
	if len(files) == 0 {
		return "", nil
	}
	var changes []gitx.FileChange
	var err error
	if head == WorkTree {
		changes, err = repo.DiffWorkTree(ctx, base)
	} else {
		changes, err = repo.DiffTrees(ctx, base, head)
	}
	if err != nil {
		return "", err
	}
	from, n := "", 0
	for _, c := range changes {
		if c.Kind != 'R' || path.Dir(c.Path) != dir || !strings.HasSuffix(c.Path, ".sql") {
			continue
		}
		d := path.Dir(c.OldPath)
		if from != "" && d != from {
			return "", nil
		}
		from, n = d, n+1
	}
	if 2*n < len(files) {
		return "", nil
	}
	return from, nil
}

// movedFrom is the base folder of the databases that use f at the head,
// when they used another folder there (a folder moved with its
// migrations_dir, or a configuration moved with its migrations).
func movedFrom(base *workers.List, f workers.Folder) string {
	keys := map[string]bool{}
	for _, k := range f.Keys {
		keys[k] = true
	}
	for _, bf := range base.Folders {
		if bf.Dir == f.Dir || !bf.Exists {
			continue
		}
		for _, k := range bf.Keys {
			if keys[k] {
				return bf.Dir
			}
		}
	}
	return ""
}

// countMigrations counts the .sql files directly in dir at the head, and
// those among them the base does not have.
func countMigrations(dir string, head, base []migrations.File) (total, fresh int) {
	onBase := map[string]bool{}
	for _, f := range base {
		onBase[f.Path] = true
	}
	for _, f := range head {
		if path.Dir(f.Path) == dir && strings.HasSuffix(f.Path, ".sql") {
			total++
			if !onBase[f.Path] {
				fresh++
			}
		}
	}
	return total, fresh
}

func migrationOptions(cfg *config.Config) (migrations.Options, error) {
	opts := migrations.Options{Digits: cfg.Migrations.Digits, InferDigits: cfg.Migrations.Digits == 0, Severity: map[string]report.Severity{}}
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

// RuleMigrationsCovered is the notice that says what a push's migration
// check replayed.
const RuleMigrationsCovered = "migrations-covered"

// MigrationsCheck is the RangeCheck pre-push and guard check run. When it
// replays anything it says what, in a notice; a folder moved with its
// migrations_dir is named as a move.
func MigrationsCheck(ctx context.Context, repo *gitx.Repo, cfg *config.Config, r Range, _ *Result) ([]report.Finding, error) {
	name := ""
	if r.Base != "" {
		name = cfg.Remote + "/" + cfg.Branch
	}
	fs, cov, err := CheckMigrations(ctx, repo, cfg, MigrationScope{Base: r.Base, Head: r.Head, BaseName: name})
	if err != nil {
		return nil, err
	}
	checked := false
	for _, f := range cov.Folders {
		checked = checked || f.Checked
		if f.MovedFrom != "" {
			fs = append(fs, report.Finding{Rule: RuleMigrationsCovered, Severity: report.SeverityNotice, File: f.Dir,
				Message: fmt.Sprintf("migrations folder moved from %s: compared file by file with the old folder", f.MovedFrom)})
		}
	}
	if checked {
		fs = append(fs, report.Finding{Rule: RuleMigrationsCovered, Severity: report.SeverityNotice, Message: "D1 migrations: " + cov.String()})
	}
	return fs, nil
}
