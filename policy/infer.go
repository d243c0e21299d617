package policy

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/guardcm/guard/workers"
	"github.com/guardcm/guard/wranglercfg"
)

// ChangeKind is git's status letter for a changed path.
type ChangeKind byte

const (
	Added       ChangeKind = 'A'
	Modified    ChangeKind = 'M'
	Deleted     ChangeKind = 'D'
	Renamed     ChangeKind = 'R' // OldPath -> Path
	Copied      ChangeKind = 'C' // OldPath -> Path; treated as Path added
	TypeChanged ChangeKind = 'T' // treated as modified
)

// Change is one changed path. Content is read lazily: Infer calls Old or
// New only for the few paths whose content decides (package.json, go.mod,
// wrangler configurations), so callers can hand in git blob readers.
type Change struct {
	Path    string // slash-separated, relative to the repository root
	OldPath string // for Renamed and Copied
	Kind    ChangeKind
	Old     func() ([]byte, error) // content before; nil when there is none
	New     func() ([]byte, error) // content after; nil when there is none
}

// Rules are the configurable parts of inference: doublestar globs matched
// against repository paths.
type Rules struct {
	Standard []string // documentation and other pre-approved paths
	Major    []string // paths whose change is always major
	// Configs are wrangler configurations with names guard does not find
	// by itself (guard.toml [[workers]] config): they count as wrangler
	// configurations besides every wrangler.toml|json|jsonc outside
	// node_modules.
	Configs []string
}

// isConfig reports whether p is a wrangler configuration under r.
func (r Rules) isConfig(p string) bool {
	return p != "" && (workers.IsConfigName(p) || slices.Contains(r.Configs, p))
}

// DefaultRules are the policy's defaults (guard.toml [categories]).
func DefaultRules() Rules {
	return Rules{Standard: []string{"**/*.md", "docs/**", "LICENSE*"}}
}

// Validate reports the first glob that doublestar cannot use.
func (r Rules) Validate() error {
	for _, set := range []struct {
		name  string
		globs []string
	}{{"standard", r.Standard}, {"major", r.Major}} {
		for _, g := range set.globs {
			if !doublestar.ValidatePattern(g) {
				return fmt.Errorf("invalid %s glob %q", set.name, g)
			}
		}
	}
	return nil
}

// Reason is why one path got its category.
type Reason struct {
	Path     string
	Category Category
	Why      string
}

func (r Reason) String() string { return r.Path + ": " + r.Why }

// Inference is the lowest category a change may carry, and why.
type Inference struct {
	Category Category
	Reasons  []Reason // every reason at Category, in change order
}

// lockfiles are generated from manifests; changing one alone changes no
// declared dependency.
var lockfiles = map[string]bool{
	"package-lock.json": true, "npm-shrinkwrap.json": true, "yarn.lock": true,
	"pnpm-lock.yaml": true, "bun.lockb": true, "bun.lock": true, "deno.lock": true,
	"go.sum": true, "go.work.sum": true, "Cargo.lock": true, "Gemfile.lock": true,
	"poetry.lock": true, "uv.lock": true, "Pipfile.lock": true, "composer.lock": true,
	"mix.lock": true, "pubspec.lock": true, "Podfile.lock": true,
	"packages.lock.json": true, "flake.lock": true, "gradle.lockfile": true,
}

// Infer returns the category a set of changes requires:
//   - major when a path matches a Major glob, a wrangler configuration
//     (any wrangler.toml|json|jsonc outside node_modules, or one of
//     Rules.Configs)
//     appears (added, or renamed/copied from another directory or name:
//     a new Worker), or a configuration gains a binding (AddedBindings, env
//     sections included), a new env section or a new top-level name (each
//     deploys a new Worker);
//   - standard when every path is documentation (a Standard glob), a
//     lockfile, or a package.json / go.mod whose only change is new versions
//     of dependencies already declared, none crossing a major version
//     (semver: for 0.x the minor, for 0.0.x the patch, is the major);
//   - normal otherwise. Never emergency. No changes at all is standard.
//
// Errors: invalid globs, unreadable content, a wrangler configuration that
// does not parse (a located error). A package.json or go.mod that does not
// parse is not an error: it is not a version bump, so it is normal.
func Infer(changes []Change, rules Rules) (Inference, error) {
	if err := rules.Validate(); err != nil {
		return Inference{}, err
	}
	var reasons []Reason
	final := Standard
	for _, ch := range changes {
		r, err := classify(ch, rules)
		if err != nil {
			return Inference{}, err
		}
		for _, x := range r {
			if x.Category.Rank() > final.Rank() {
				final = x.Category
			}
		}
		reasons = append(reasons, r...)
	}
	out := Inference{Category: final}
	for _, r := range reasons {
		if r.Category == final {
			out.Reasons = append(out.Reasons, r)
		}
	}
	return out, nil
}

func matchAny(globs []string, p string) string {
	for _, g := range globs {
		if ok, _ := doublestar.Match(g, p); ok {
			return g
		}
	}
	return ""
}

func read(ch Change, which string, f func() ([]byte, error)) ([]byte, error) {
	p := ch.Path
	if which == "old" && ch.OldPath != "" {
		p = ch.OldPath
	}
	if f == nil {
		return nil, fmt.Errorf("%s: no %s content to read", p, which)
	}
	b, err := f()
	if err != nil {
		return nil, fmt.Errorf("reading %s content of %s: %w", which, p, err)
	}
	return b, nil
}

// classify returns the reasons for one change (one, or one per added
// binding).
func classify(ch Change, rules Rules) ([]Reason, error) {
	one := func(c Category, format string, args ...any) []Reason {
		return []Reason{{Path: ch.Path, Category: c, Why: fmt.Sprintf(format, args...)}}
	}
	kind := ch.Kind
	switch kind {
	case Added, Modified, Deleted, Renamed, Copied, TypeChanged:
	default:
		return nil, fmt.Errorf("%s: unknown change kind %q", ch.Path, string(kind))
	}
	paths := []string{ch.Path}
	if (kind == Renamed || kind == Copied) && ch.OldPath != "" {
		paths = append(paths, ch.OldPath)
	}
	if kind == Renamed && ch.OldPath == "" {
		kind = Modified
	}

	for _, p := range paths {
		if g := matchAny(rules.Major, p); g != "" {
			return []Reason{{Path: ch.Path, Category: Major, Why: fmt.Sprintf("%s matches major glob %q", p, g)}}, nil
		}
	}

	if rules.isConfig(ch.Path) || kind == Renamed && rules.isConfig(ch.OldPath) {
		return classifyWrangler(ch, kind, rules)
	}

	standard := true
	var why []string
	for _, p := range paths {
		if g := matchAny(rules.Standard, p); g != "" {
			why = append(why, fmt.Sprintf("matches %q", g))
		} else if lockfiles[path.Base(p)] {
			why = append(why, "lockfile")
		} else {
			standard = false
		}
	}
	if standard {
		if kind == Deleted {
			return one(Standard, "deletes documentation or lockfile (%s)", strings.Join(why, ", ")), nil
		}
		return one(Standard, "documentation or lockfile (%s)", strings.Join(why, ", ")), nil
	}

	base := path.Base(ch.Path)
	if (base == "package.json" || base == "go.mod") && (kind == Modified || kind == TypeChanged) {
		old, err := read(ch, "old", ch.Old)
		if err != nil {
			return nil, err
		}
		cur, err := read(ch, "new", ch.New)
		if err != nil {
			return nil, err
		}
		var d bumpDiff
		if base == "package.json" {
			d = diffPackageJSON(old, cur)
		} else {
			d = diffGoMod(ch.Path, old, cur)
		}
		return one(d.category(), "%s", d.why(base)), nil
	}
	switch kind {
	case Added, Copied:
		return one(Normal, "adds a file that is not documentation or a lockfile"), nil
	case Deleted:
		return one(Normal, "deletes a file that is not documentation or a lockfile"), nil
	case Renamed:
		return one(Normal, "renamed from %s; not documentation or a lockfile", ch.OldPath), nil
	}
	return one(Normal, "not documentation, a lockfile or a dependency version bump"), nil
}

func classifyWrangler(ch Change, kind ChangeKind, rules Rules) ([]Reason, error) {
	one := func(c Category, format string, args ...any) []Reason {
		return []Reason{{Path: ch.Path, Category: c, Why: fmt.Sprintf(format, args...)}}
	}
	isNew := rules.isConfig(ch.Path)
	wasOld := kind == Renamed && rules.isConfig(ch.OldPath)
	switch {
	case kind == Deleted:
		return one(Normal, "removes a wrangler configuration"), nil
	case kind == Renamed && !isNew:
		return one(Normal, "renames a wrangler configuration away (to %s)", ch.Path), nil
	case kind == Added || kind == Copied || kind == Renamed && !(wasOld && path.Dir(ch.OldPath) == path.Dir(ch.Path)):
		data, err := read(ch, "new", ch.New)
		if err != nil {
			return nil, err
		}
		c, err := wranglercfg.Parse(ch.Path, data)
		if err != nil {
			return nil, err
		}
		name := c.Name
		if name == "" {
			name = "unnamed"
		}
		return one(Major, "adds wrangler configuration for Worker %q (a new service)", name), nil
	}
	// Modified, or renamed within its directory (e.g. toml -> jsonc).
	oldPath := ch.Path
	if kind == Renamed {
		oldPath = ch.OldPath
	}
	oldData, err := read(ch, "old", ch.Old)
	if err != nil {
		return nil, err
	}
	newData, err := read(ch, "new", ch.New)
	if err != nil {
		return nil, err
	}
	base, err := wranglercfg.Parse(oldPath, oldData)
	if err != nil {
		return nil, fmt.Errorf("base version: %w", err)
	}
	head, err := wranglercfg.Parse(ch.Path, newData)
	if err != nil {
		return nil, err
	}
	var out []Reason
	add := func(format string, args ...any) {
		out = append(out, Reason{Path: ch.Path, Category: Major, Why: fmt.Sprintf(format, args...)})
	}
	if base.Name != head.Name && head.Name != "" {
		add("renames the Worker %q to %q (a new Worker)", base.Name, head.Name)
	}
	for _, e := range head.Envs {
		if !base.HasEnv(e) {
			add("adds environment %s (Worker %q)", e, head.WorkerName(e))
		}
	}
	for _, b := range wranglercfg.AddedBindings(base, head) {
		add("adds binding %s", b)
	}
	if len(out) == 0 {
		return one(Normal, "changes wrangler configuration without new bindings"), nil
	}
	return out, nil
}
