package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	version "github.com/hashicorp/go-version"
	"golang.org/x/mod/modfile"
)

// A version bump is standard only when nothing but versions of
// dependencies that were already declared changed, and no version crosses
// a major version.

type bump struct{ name, from, to string }

func (b bump) String() string { return fmt.Sprintf("%s %s -> %s", b.name, b.from, b.to) }

type bumpDiff struct {
	// npm semantics: like a caret range, 0.x's minor (and 0.0.x's patch)
	// is its major. Go's semantics (go get -u): only the first number.
	npm          bool
	invalid      string   // the file does not parse
	other        []string // changes that are not versions of existing dependencies
	bumps        []bump
	crossing     []bump // bumps across a major version
	incomparable []bump // bumps whose versions cannot be compared
}

func (d *bumpDiff) add(b bump) {
	d.bumps = append(d.bumps, b)
	switch crosses, ok := crossesMajor(b.from, b.to, d.npm); {
	case !ok:
		d.incomparable = append(d.incomparable, b)
	case crosses:
		d.crossing = append(d.crossing, b)
	}
}

func (d bumpDiff) category() Category {
	if d.invalid != "" || len(d.other) > 0 || len(d.crossing) > 0 || len(d.incomparable) > 0 {
		return Normal
	}
	return Standard
}

func list[T any](xs []T) string {
	const show = 3
	parts := make([]string, 0, show)
	for i, x := range xs {
		if i == show {
			parts = append(parts, fmt.Sprintf("and %d more", len(xs)-show))
			break
		}
		parts = append(parts, fmt.Sprint(x))
	}
	return strings.Join(parts, ", ")
}

func (d bumpDiff) why(file string) string {
	switch {
	case d.invalid != "":
		return fmt.Sprintf("%s does not parse, so it is not a version bump: %s", file, d.invalid)
	case len(d.other) > 0:
		return fmt.Sprintf("changes %s beyond dependency versions: %s", file, list(d.other))
	case len(d.crossing) > 0:
		return "bumps across a major version: " + list(d.crossing)
	case len(d.incomparable) > 0:
		return "bumps to versions that cannot be compared: " + list(d.incomparable)
	case len(d.bumps) == 0:
		return "no change beyond formatting"
	}
	return "only bumps dependency versions: " + list(d.bumps)
}

// crossesMajor compares two version specifications (npm ranges or Go
// module versions). The lower bound of a range stands for it: "^1.2.3",
// "~1.2", ">=1.2.3 <2", "1.x", "v1.2.3", "npm:pkg@^1.2.3". The major
// version is the first number; with npm semantics it is the first non-zero
// one of major.minor.patch, as npm's caret ranges have it (^0.2 allows
// 0.2.x only), while go get -u moves v0.18 to v0.19 freely. ok is false
// when either side is not a version (a tag, a URL, "workspace:*", "*", an
// upper bound only).
func crossesMajor(from, to string, npm bool) (crosses, ok bool) {
	a, okA := lowerBound(from)
	b, okB := lowerBound(to)
	if !okA || !okB {
		return false, false
	}
	sa, sb := a.Segments(), b.Segments()
	if !npm {
		return sa[0] != sb[0], true
	}
	for i := 0; i < 3; i++ {
		if sa[i] != sb[i] {
			return true, true
		}
		if sa[i] != 0 {
			return false, true
		}
	}
	return false, true
}

var wildcardTail = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(\.[xX*])+$`) })

func lowerBound(spec string) (*version.Version, bool) {
	s := strings.TrimSpace(spec)
	if i := strings.LastIndex(s, "@"); strings.HasPrefix(s, "npm:") && i > 0 {
		s = s[i+1:] // npm alias: npm:other-package@^1.2.3
	}
	if i := strings.Index(s, "||"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	if i := strings.Index(s, " - "); i >= 0 {
		s = s[:i] // hyphen range: the left side is the lower bound
	}
	if f := strings.Fields(s); len(f) > 0 {
		s = f[0]
	}
	if strings.HasPrefix(s, "<") {
		return nil, false // an upper bound says nothing about the lower one
	}
	s = strings.TrimLeft(s, "^~>=vV ")
	s = wildcardTail().ReplaceAllString(s, "")
	if s == "" || strings.ContainsAny(s, ":/#*") {
		return nil, false
	}
	v, err := version.NewVersion(s)
	if err != nil {
		return nil, false
	}
	return v, true
}

// package.json

// depSections map a dependency name to a version; a change of a version
// there is a bump. resolutions and overrides pin versions the same way.
var depSections = []string{"dependencies", "devDependencies", "peerDependencies", "optionalDependencies", "resolutions", "overrides"}

func decodeJSONObject(file string, data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
			return nil, fmt.Errorf("%s:%d: %v", file, line, se)
		}
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: not a JSON object", file)
	}
	return m, nil
}

func diffPackageJSON(oldData, newData []byte) bumpDiff {
	d := bumpDiff{npm: true}
	o, err := decodeJSONObject("package.json (before)", oldData)
	if err != nil {
		d.invalid = err.Error()
		return d
	}
	n, err := decodeJSONObject("package.json", newData)
	if err != nil {
		d.invalid = err.Error()
		return d
	}
	for _, k := range unionKeys(o, n) {
		ov, inOld := o[k]
		nv, inNew := n[k]
		switch {
		case slices.Contains(depSections, k):
			d.diffDeps(k, ov, nv)
		case k == "packageManager":
			prev, _ := ov.(string)
			ns, _ := nv.(string)
			on, ovs, okO := strings.Cut(prev, "@")
			nn, nvs, okN := strings.Cut(ns, "@")
			if prev == ns && inOld == inNew {
				continue
			}
			if inOld && inNew && okO && okN && on != "" && on == nn {
				ovs, _, _ = strings.Cut(ovs, "+") // drop the +sha512... integrity suffix
				nvs, _, _ = strings.Cut(nvs, "+")
				d.add(bump{name: "packageManager " + on, from: ovs, to: nvs})
				continue
			}
			d.other = append(d.other, fmt.Sprintf("changes %q", k))
		case !inOld:
			d.other = append(d.other, fmt.Sprintf("adds %q", k))
		case !inNew:
			d.other = append(d.other, fmt.Sprintf("removes %q", k))
		case !reflect.DeepEqual(ov, nv):
			d.other = append(d.other, fmt.Sprintf("changes %q", k))
		}
	}
	return d
}

func (d *bumpDiff) diffDeps(section string, ov, nv any) {
	om, okO := ov.(map[string]any)
	nm, okN := nv.(map[string]any)
	if ov != nil && !okO || nv != nil && !okN {
		if !reflect.DeepEqual(ov, nv) {
			d.other = append(d.other, fmt.Sprintf("changes %q", section))
		}
		return
	}
	for _, name := range unionKeys(om, nm) {
		a, inOld := om[name]
		b, inNew := nm[name]
		switch {
		case !inOld:
			d.other = append(d.other, fmt.Sprintf("adds %s %q", section, name))
		case !inNew:
			d.other = append(d.other, fmt.Sprintf("removes %s %q", section, name))
		default:
			as, okA := a.(string)
			bs, okB := b.(string)
			if okA && okB {
				if as != bs {
					d.add(bump{name: name, from: as, to: bs})
				}
			} else if !reflect.DeepEqual(a, b) {
				d.other = append(d.other, fmt.Sprintf("changes %s %q", section, name))
			}
		}
	}
}

func unionKeys(a, b map[string]any) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// go.mod

func diffGoMod(file string, oldData, newData []byte) bumpDiff {
	var d bumpDiff
	o, err := modfile.Parse(file+" (before)", oldData, nil)
	if err != nil {
		d.invalid = err.Error()
		return d
	}
	n, err := modfile.Parse(file, newData, nil)
	if err != nil {
		d.invalid = err.Error()
		return d
	}
	oreq, nreq := map[string]*modfile.Require{}, map[string]*modfile.Require{}
	var paths []string
	for _, r := range o.Require {
		oreq[r.Mod.Path] = r
		paths = append(paths, r.Mod.Path)
	}
	for _, r := range n.Require {
		if _, ok := oreq[r.Mod.Path]; !ok {
			paths = append(paths, r.Mod.Path)
		}
		nreq[r.Mod.Path] = r
	}
	sort.Strings(paths)
	for _, p := range slices.Compact(paths) {
		a, b := oreq[p], nreq[p]
		switch {
		case a == nil:
			d.other = append(d.other, "adds requirement "+p)
		case b == nil:
			d.other = append(d.other, "removes requirement "+p)
		case a.Indirect != b.Indirect:
			d.other = append(d.other, "changes whether "+p+" is indirect")
		case a.Mod.Version != b.Mod.Version:
			d.add(bump{name: p, from: a.Mod.Version, to: b.Mod.Version})
		}
	}
	ol, nl := goModOther(o), goModOther(n)
	for _, l := range nl {
		if !slices.Contains(ol, l) {
			d.other = append(d.other, "adds "+l)
		}
	}
	for _, l := range ol {
		if !slices.Contains(nl, l) {
			d.other = append(d.other, "removes "+l)
		}
	}
	return d
}

// goModOther lists every go.mod statement but require, canonically.
func goModOther(f *modfile.File) []string {
	var out []string
	if f.Module != nil {
		out = append(out, "module "+f.Module.Mod.Path)
	}
	if f.Go != nil {
		out = append(out, "go "+f.Go.Version)
	}
	if f.Toolchain != nil {
		out = append(out, "toolchain "+f.Toolchain.Name)
	}
	for _, g := range f.Godebug {
		out = append(out, "godebug "+g.Key+"="+g.Value)
	}
	for _, e := range f.Exclude {
		out = append(out, "exclude "+e.Mod.String())
	}
	for _, r := range f.Replace {
		out = append(out, "replace "+r.Old.String()+" => "+r.New.String())
	}
	for _, r := range f.Retract {
		out = append(out, "retract ["+r.Low+", "+r.High+"]")
	}
	for _, t := range f.Tool {
		out = append(out, "tool "+t.Path)
	}
	for _, i := range f.Ignore {
		out = append(out, "ignore "+i.Path)
	}
	sort.Strings(out)
	return out
}
