package initrepo

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/guardcm/guard/internal/wrangler"
)

// Managers are the package managers guard init knows, in the order their
// lockfiles are looked for.
var Managers = []struct {
	Name      string
	Lockfiles []string
}{
	{"pnpm", []string{"pnpm-lock.yaml"}},
	{"yarn", []string{"yarn.lock"}},
	{"bun", []string{"bun.lock", "bun.lockb"}},
	{"npm", []string{"package-lock.json", "npm-shrinkwrap.json"}},
}

// Project is what guard init learns about a repository's JavaScript
// tooling: the package manager its lockfile names and the scripts of its
// root package.json.
type Project struct {
	// Manager is "npm", "pnpm", "yarn" or "bun"; "" without a package.json.
	Manager string
	// Lockfile is the file the manager was read from ("" when guessed).
	Lockfile string
	// HasPackageJSON is set when the root has a package.json.
	HasPackageJSON bool
	// Scripts are the names of package.json's scripts.
	Scripts map[string]bool
	// Installed reports whether Manager's program is on PATH.
	Installed bool
}

// Detect reads root's package.json and lockfile. A package.json that does
// not parse is an error naming it: guard init must not guess around it.
func Detect(root string) (Project, error) {
	p := Project{Scripts: map[string]bool{}}
	data, err := os.ReadFile(filepath.Join(root, "package.json"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return p, err
	default:
		p.HasPackageJSON = true
		var pkg struct {
			Scripts        map[string]any `json:"scripts"`
			PackageManager string         `json:"packageManager"`
		}
		if err := json.Unmarshal(data, &pkg); err != nil {
			return p, fmt.Errorf("package.json: %w", err)
		}
		for name := range pkg.Scripts {
			p.Scripts[name] = true
		}
		// corepack's field says which manager the project means, when no
		// lockfile is committed yet.
		if name, _, _ := strings.Cut(pkg.PackageManager, "@"); name != "" {
			p.Manager = name
		}
	}
	for _, m := range Managers {
		for _, lf := range m.Lockfiles {
			if _, err := os.Stat(filepath.Join(root, lf)); err == nil {
				p.Manager, p.Lockfile = m.Name, lf
				break
			}
		}
		if p.Lockfile != "" {
			break
		}
	}
	if p.Manager == "" && p.HasPackageJSON {
		p.Manager = "npm"
	}
	if p.Manager != "" {
		_, err := exec.LookPath(p.Manager)
		p.Installed = err == nil
	}
	return p, nil
}

// Run is the command that runs a package script with the project's manager.
func (p Project) Run(script string) string {
	return p.Manager + " run " + script
}

// Script sets: the policy's own names first; when a project has none of
// them, the usual ones.
var (
	policyChecks = []string{"typecheck:all", "test:all"}
	usualChecks  = []string{"typecheck", "test", "lint"}
	policyVerify = []string{"compliance:dev"}
)

// Commands chooses the pre-push commands and deploy verify commands for
// the project: a command for each script that exists (the policy's
// typecheck:all, test:all and compliance:dev when present, else typecheck,
// test, lint), and, as comments, the ones that do not exist or whose
// manager is not installed, each with its reason. It never proposes a
// program that is not on PATH.
func (p Project) Commands() (checks, checkNotes, verify, verifyNotes []string) {
	pick := func(names []string) (on, off []string) {
		for _, s := range names {
			switch {
			case p.Manager == "":
				off = append(off, fmt.Sprintf("%s,   # no package.json at the root: a command that runs %s", tomlString("npm run "+s), s))
			case !p.Scripts[s]:
				off = append(off, fmt.Sprintf("%s,   # package.json has no %q script", tomlString(p.Run(s)), s))
			case !p.Installed:
				off = append(off, fmt.Sprintf("%s,   # %s is not installed on this machine", tomlString(p.Run(s)), p.Manager))
			default:
				on = append(on, p.Run(s))
			}
		}
		return on, off
	}
	names := policyChecks
	if !p.Scripts["typecheck:all"] && !p.Scripts["test:all"] {
		names = usualChecks
	}
	checks, checkNotes = pick(names)
	verify, verifyNotes = pick(policyVerify)
	if checks == nil {
		checks = []string{}
	}
	if verify == nil {
		verify = []string{}
	}
	return checks, checkNotes, verify, verifyNotes
}

// ScriptRef is a package script a command runs.
type ScriptRef struct {
	Manager, Script string
}

// ScriptOf recognises "<manager> run <script>" (also run-script, and npm's,
// pnpm's and bun's "test" shorthand) in a configured command, the forms
// guard init writes and people type.
func ScriptOf(words []string) (ScriptRef, bool) {
	if len(words) < 2 {
		return ScriptRef{}, false
	}
	m := words[0]
	switch m {
	case "npm", "pnpm", "yarn", "bun":
	default:
		return ScriptRef{}, false
	}
	rest := words[1:]
	for len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
		// --silent, --filter=x and the like before the verb; the flags
		// that take a separate value take it along.
		if valueFlags[rest[0]] && len(rest) > 1 {
			rest = rest[1:]
		}
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return ScriptRef{}, false
	}
	switch rest[0] {
	case "run", "run-script":
		if len(rest) > 1 && !strings.HasPrefix(rest[1], "-") {
			return ScriptRef{m, rest[1]}, true
		}
	case "test", "t":
		if m != "yarn" {
			return ScriptRef{m, "test"}, true
		}
	}
	return ScriptRef{}, false
}

// CommandProblem is one thing wrong with a configured command.
type CommandProblem struct {
	// Key names where it is configured: "pre_push.commands[2]".
	Key, Command, Problem, Fix string
}

// CheckCommands reports, for each configured command, a program that is
// not on PATH and a package script that package.json does not have.
// key is the configuration key of the list ("pre_push.commands").
func CheckCommands(root string, p Project, key string, commands []string) []CommandProblem {
	var out []CommandProblem
	for i, c := range commands {
		k := fmt.Sprintf("%s[%d]", key, i)
		words, err := wrangler.SplitCommand(c)
		if err != nil || len(words) == 0 {
			continue // a shell construct: /bin/sh will judge it
		}
		for len(words) > 0 && strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "=") {
			words = words[1:] // VAR=value prefixes
		}
		if len(words) == 0 || shellBuiltin[words[0]] {
			continue
		}
		prog := words[0]
		if strings.Contains(prog, "/") {
			path := prog
			if !filepath.IsAbs(path) {
				path = filepath.Join(root, path)
			}
			if fi, err := os.Stat(path); err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
				out = append(out, CommandProblem{k, c, fmt.Sprintf("%s is not an executable file", prog), "edit " + key + " in guard.toml"})
				continue
			}
		} else if _, err := exec.LookPath(prog); err != nil {
			fix := fmt.Sprintf("install %s, or edit %s in guard.toml", prog, key)
			if p.Manager != "" && p.Manager != prog && isManager(prog) {
				fix = fmt.Sprintf("this repository uses %s (%s): edit %s in guard.toml", p.Manager, orWord(p.Lockfile, "package.json"), key)
			}
			out = append(out, CommandProblem{k, c, fmt.Sprintf("%s is not installed (not on PATH)", prog), fix})
			continue
		}
		if ref, ok := ScriptOf(words); ok {
			if !p.HasPackageJSON {
				out = append(out, CommandProblem{k, c, fmt.Sprintf("it runs the package script %q, but there is no package.json at the root", ref.Script), "edit " + key + " in guard.toml"})
			} else if !p.Scripts[ref.Script] {
				out = append(out, CommandProblem{k, c, fmt.Sprintf("package.json has no %q script (it has: %s)", ref.Script, scriptList(p.Scripts)),
					fmt.Sprintf("add the script to package.json, or edit %s in guard.toml", key)})
			}
		}
	}
	return out
}

var valueFlags = map[string]bool{"--filter": true, "-F": true, "--dir": true, "-C": true, "--prefix": true, "--workspace": true, "-w": true, "--cwd": true}

var shellBuiltin = map[string]bool{"cd": true, "exit": true, "true": true, "false": true, "test": true, "[": true, ":": true, ".": true, "export": true, "set": true, "exec": true, "eval": true, "command": true}

func isManager(s string) bool {
	for _, m := range Managers {
		if m.Name == s {
			return true
		}
	}
	return false
}

func orWord(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func scriptList(m map[string]bool) string {
	if len(m) == 0 {
		return "none"
	}
	var names []string
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
