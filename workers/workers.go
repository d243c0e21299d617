// Package workers is guard's one list of the Workers a repository deploys:
// every wrangler configuration, the Worker name it deploys per environment,
// its bindings, and the D1 migrations folders of its databases. Category
// inference, the migration checks, deploy, rollback, history and evidence
// all take their workers from here, so a monorepo is covered everywhere or
// nowhere, never by one command and not another.
//
// Contract:
//   - A Source is a tree to read: the work tree (tracked and untracked
//     files, without what .gitignore excludes) or a commit. Load lists every
//     file named wrangler.toml, wrangler.json or wrangler.jsonc at any depth,
//     except under a node_modules folder, plus every file named by
//     guard.toml's [[workers]] config, which must exist (a usage error
//     otherwise: a configured worker that silently vanishes is a check that
//     covers nothing).
//   - Paths are relative to the repository root with forward slashes,
//     whatever the working directory, so a command run from a sub-folder
//     sees the same list as at the root.
//   - A D1 database's migrations folder is resolved as wrangler resolves it:
//     migrations_dir (default "migrations") relative to the folder of the
//     configuration that declares it. Folders lists each folder once, with
//     every database that uses it, plus guard.toml's [migrations] dir when
//     set; a folder that does not exist in the Source is still listed, with
//     Exists false, so reports can say so.
//   - A configuration that does not parse is a located *wranglercfg.Error;
//     nothing is guessed around it.
package workers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/wranglercfg"
)

// Worker is one wrangler configuration and what it deploys.
type Worker struct {
	// Config is the configuration file, relative to the repository root.
	Config string `json:"config"`
	// Configured is set when guard.toml's [[workers]] names the file.
	Configured bool `json:"configured,omitempty"`
	// Names are the Workers it deploys: the top level (Env "") first, then
	// one per env section, sorted by env.
	Names    []Name                `json:"names"`
	Bindings []wranglercfg.Binding `json:"bindings"`
	D1       []D1                  `json:"d1"`
	// Parsed is the configuration itself.
	Parsed *wranglercfg.Config `json:"-"`
}

// Name is the Worker a configuration deploys for one environment ("" when
// the configuration sets no name).
type Name struct {
	Env    string `json:"env"`
	Worker string `json:"worker"`
}

// D1 is one d1_databases entry with its migrations folder resolved.
type D1 struct {
	Env      string `json:"env"`
	Binding  string `json:"binding"`
	Database string `json:"database"`
	// MigrationsDir is relative to the repository root.
	MigrationsDir string `json:"migrations_dir"`
	// MigrationsPattern is the configuration's migrations_pattern as
	// written (relative to the configuration), "" when unset.
	MigrationsPattern string `json:"migrations_pattern,omitempty"`
}

// Folder is one D1 migrations folder and who uses it.
type Folder struct {
	Dir string `json:"dir"`
	// Users are "<config> <binding>" (with " env.<name>" for an env
	// section), or "guard.toml migrations.dir".
	Users  []string `json:"used_by"`
	Exists bool     `json:"exists"`
	// Required folders must exist: guard.toml names them.
	Required bool `json:"required,omitempty"`
	// Keys identify the databases that use it across revisions (see Key).
	Keys []string `json:"-"`
	// Patterns are the migrations_pattern values of the databases that use
	// it: wrangler then applies files in its subfolders, which guard does
	// not check (CheckMigrations says so instead of "ok").
	Patterns []string `json:"migrations_pattern,omitempty"`
}

// ConfigUser is how guard.toml's own migrations folder appears in Users.
const ConfigUser = "guard.toml migrations.dir"

// List is every worker of a tree and every migrations folder.
type List struct {
	Workers []Worker `json:"workers"`
	Folders []Folder `json:"migration_folders"`
}

// Source is a tree Load reads.
type Source interface {
	// Paths lists candidate files (all files of the tree, slash paths
	// relative to the root).
	Paths(ctx context.Context) ([]string, error)
	// Read returns a file's content; ok=false when it does not exist.
	Read(ctx context.Context, p string) (data []byte, ok bool, err error)
	// Files lists the files directly in dir.
	Files(ctx context.Context, dir string) ([]string, error)
	// Name says which tree this is, for messages ("the work tree", "commit 1a2b3c4d5e6f").
	Name() string
}

// IsConfigName reports whether p is a wrangler configuration Load finds by
// itself: named wrangler.toml|json|jsonc and not under node_modules.
func IsConfigName(p string) bool {
	if !wranglercfg.IsConfigFile(p) {
		return false
	}
	for _, el := range strings.Split(p, "/") {
		if el == "node_modules" {
			return false
		}
	}
	return true
}

// IsConfig reports whether p is a wrangler configuration under cfg: found
// by name, or named in [[workers]].
func IsConfig(cfg *config.Config, p string) bool {
	if IsConfigName(p) {
		return true
	}
	for _, w := range cfg.Workers {
		if w.Config == p {
			return true
		}
	}
	return false
}

// Load lists the workers and migrations folders of src under cfg.
func Load(ctx context.Context, src Source, cfg *config.Config) (*List, error) {
	paths, err := src.Paths(ctx)
	if err != nil {
		return nil, err
	}
	configured := map[string]bool{}
	for _, w := range cfg.Workers {
		configured[w.Config] = true
	}
	var names []string
	seen := map[string]bool{}
	for _, p := range paths {
		if IsConfigName(p) && !seen[p] {
			seen[p] = true
			names = append(names, p)
		}
	}
	for _, w := range cfg.Workers {
		if !seen[w.Config] {
			seen[w.Config] = true
			names = append(names, w.Config)
		}
	}
	sort.Strings(names)
	l := &List{Workers: []Worker{}, Folders: []Folder{}}
	for _, p := range names {
		data, ok, err := src.Read(ctx, p)
		if err != nil {
			return nil, err
		}
		if !ok {
			if configured[p] {
				return nil, fail.Usage(fmt.Errorf("guard.toml: [[workers]] config %q does not exist in %s", p, src.Name()),
					"fix the path in guard.toml (relative to the repository root), or remove the entry")
			}
			continue // listed by git but deleted from the work tree
		}
		wc, err := wranglercfg.Parse(p, data)
		if err != nil {
			return nil, err
		}
		l.Workers = append(l.Workers, newWorker(p, wc, configured[p]))
	}
	if err := l.folders(ctx, src, cfg); err != nil {
		return nil, err
	}
	return l, nil
}

func newWorker(p string, wc *wranglercfg.Config, configured bool) Worker {
	w := Worker{Config: p, Configured: configured, Parsed: wc, Bindings: wc.Bindings(), D1: []D1{}}
	if w.Bindings == nil {
		w.Bindings = []wranglercfg.Binding{}
	}
	dir := path.Dir(p)
	for _, env := range append([]string{""}, wc.Envs...) {
		w.Names = append(w.Names, Name{Env: env, Worker: wc.WorkerName(env)})
		if env != "" && !wc.HasEnv(env) {
			continue
		}
		for _, db := range wc.D1Databases(env) {
			name := db.DatabaseName
			if name == "" {
				name = db.Binding
			}
			w.D1 = append(w.D1, D1{Env: env, Binding: db.Binding, Database: name, MigrationsDir: Resolve(dir, db.MigrationsDir), MigrationsPattern: db.MigrationsPattern})
		}
	}
	return w
}

// Resolve joins a migrations_dir to the folder of its configuration the way
// wrangler does (path.Join semantics, "./" and ".." allowed), relative to
// the repository root.
func Resolve(configDir, migrationsDir string) string {
	if migrationsDir == "" {
		migrationsDir = "migrations"
	}
	if path.IsAbs(migrationsDir) {
		return path.Clean(migrationsDir)
	}
	return path.Join(configDir, migrationsDir)
}

// Key identifies a database across revisions: its configuration's folder
// is not part of it, so a configuration moved with its migrations keeps
// its databases.
func Key(worker string, d D1) string {
	return worker + "\x00" + d.Env + "\x00" + d.Binding
}

func (l *List) folders(ctx context.Context, src Source, cfg *config.Config) error {
	idx := map[string]int{}
	add := func(dir, user, key string, required bool) {
		i, ok := idx[dir]
		if !ok {
			i = len(l.Folders)
			idx[dir] = i
			l.Folders = append(l.Folders, Folder{Dir: dir})
		}
		f := &l.Folders[i]
		f.Users = append(f.Users, user)
		if key != "" {
			f.Keys = append(f.Keys, key)
		}
		f.Required = f.Required || required
	}
	for _, w := range l.Workers {
		top := ""
		if len(w.Names) > 0 {
			top = w.Names[0].Worker
		}
		if top == "" {
			top = w.Config
		}
		for _, d := range w.D1 {
			user := w.Config + " " + d.Binding
			if d.Env != "" {
				user += " env." + d.Env
			}
			add(d.MigrationsDir, user, Key(top, d), false)
			if d.MigrationsPattern != "" {
				f := &l.Folders[idx[d.MigrationsDir]]
				if !slices.Contains(f.Patterns, d.MigrationsPattern) {
					f.Patterns = append(f.Patterns, d.MigrationsPattern)
				}
			}
		}
	}
	if cfg.Migrations.Dir != "" {
		add(path.Clean(filepath.ToSlash(cfg.Migrations.Dir)), ConfigUser, "", true)
	}
	sort.Slice(l.Folders, func(i, j int) bool { return l.Folders[i].Dir < l.Folders[j].Dir })
	for i := range l.Folders {
		f := &l.Folders[i]
		if !filepath.IsLocal(filepath.FromSlash(f.Dir)) {
			continue // outside the repository: nothing guard can read
		}
		files, err := src.Files(ctx, f.Dir)
		if err != nil {
			return err
		}
		f.Exists = len(files) > 0
		if f.Required && !f.Exists {
			return fail.Usage(fmt.Errorf("guard.toml: migrations.dir %q does not exist in %s", f.Dir, src.Name()),
				"fix [migrations] dir (relative to the repository root), or remove it: the wrangler configurations' folders are found by themselves")
		}
	}
	return nil
}

// Find returns the worker whose configuration is p (root-relative).
func (l *List) Find(p string) (*Worker, bool) {
	for i := range l.Workers {
		if l.Workers[i].Config == p {
			return &l.Workers[i], true
		}
	}
	return nil, false
}

// FoldersOf lists the migrations folders the databases of configuration
// config use (every environment), plus guard.toml's [migrations] dir when
// no configuration claims it: that folder belongs to no other worker, so a
// view of one worker keeps it. ok is false when config is not in the list.
func (l *List) FoldersOf(config string) (dirs []string, ok bool) {
	w, ok := l.Find(config)
	if !ok {
		return nil, false
	}
	mine := map[string]bool{}
	for _, d := range w.D1 {
		mine[d.MigrationsDir] = true
	}
	for _, f := range l.Folders {
		if mine[f.Dir] || len(f.Users) == 1 && f.Users[0] == ConfigUser {
			dirs = append(dirs, f.Dir)
		}
	}
	return dirs, true
}

// Deployable lists the workers that have a name: a configuration without
// one (a Pages helper, a fragment) cannot be deployed by wrangler deploy.
func (l *List) Deployable() []Worker {
	var out []Worker
	for _, w := range l.Workers {
		if len(w.Names) > 0 && w.Names[0].Worker != "" {
			out = append(out, w)
		}
	}
	return out
}

// Match is a worker chosen by name: the configuration and the environment
// whose Worker has that name.
type Match struct {
	Worker *Worker
	Env    string
}

// ByName finds the configurations and environments that deploy the Worker
// called name.
func (l *List) ByName(name string) []Match {
	var out []Match
	for i := range l.Workers {
		for _, n := range l.Workers[i].Names {
			if n.Worker == name {
				out = append(out, Match{Worker: &l.Workers[i], Env: n.Env})
			}
		}
	}
	return out
}

// workTree reads the files on disk: git's tracked and untracked files,
// without the ignored ones.
type workTree struct {
	repo *gitx.Repo
}

// WorkTree is the Source of the files on disk.
func WorkTree(repo *gitx.Repo) Source { return workTree{repo} }

func (w workTree) Name() string { return "the work tree" }

func (w workTree) Paths(ctx context.Context) ([]string, error) {
	out, err := w.repo.Git(ctx, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--deduplicate")
	if err != nil {
		return nil, fmt.Errorf("listing the work tree: %w", err)
	}
	return splitZ(out), nil
}

func (w workTree) Read(_ context.Context, p string) ([]byte, bool, error) {
	data, err := os.ReadFile(filepath.Join(w.repo.Root, filepath.FromSlash(p)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return data, true, nil
}

func (w workTree) Files(_ context.Context, dir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(w.repo.Root, filepath.FromSlash(dir)))
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil // a file where a folder was expected holds no migrations
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			out = append(out, path.Join(dir, e.Name()))
		}
	}
	return out, nil
}

// atRev reads a commit's tree.
type atRev struct {
	repo *gitx.Repo
	rev  string
}

// AtRev is the Source of the tree of commit rev.
func AtRev(repo *gitx.Repo, rev string) Source { return atRev{repo, rev} }

func (a atRev) Name() string { return "commit " + gitx.ShortHash(a.rev) }

func (a atRev) Paths(ctx context.Context) ([]string, error) {
	out, err := a.repo.GitFixed(ctx, []string{a.rev}, "ls-tree", "-r", "-z", "--name-only", "--full-tree", a.rev)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", a.Name(), err)
	}
	return splitZ(out), nil
}

func (a atRev) Read(ctx context.Context, p string) ([]byte, bool, error) {
	return a.repo.Blob(ctx, a.rev, p)
}

func (a atRev) Files(ctx context.Context, dir string) ([]string, error) {
	return a.repo.LsTree(ctx, a.rev, dir, false)
}

func splitZ(out []byte) []string {
	var res []string
	for _, f := range bytes.Split(out, []byte{0}) {
		if len(f) > 0 {
			res = append(res, string(f))
		}
	}
	return res
}
