package initrepo

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/guardcm/guard/config"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fakePATH puts executables named progs (that exit 0) first on PATH and
// nothing else, so which managers are "installed" is the test's choice.
func fakePATH(t *testing.T, progs ...string) {
	t.Helper()
	dir := t.TempDir()
	for _, p := range progs {
		if err := os.WriteFile(filepath.Join(dir, p), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
}

func TestDetect(t *testing.T) {
	fakePATH(t, "npm", "pnpm")
	for _, tc := range []struct {
		files              map[string]string
		manager, lockfile  string
		installed, hasJSON bool
	}{
		{map[string]string{"package.json": `{}`, "package-lock.json": "{}"}, "npm", "package-lock.json", true, true},
		{map[string]string{"package.json": `{}`, "pnpm-lock.yaml": ""}, "pnpm", "pnpm-lock.yaml", true, true},
		{map[string]string{"package.json": `{}`, "yarn.lock": ""}, "yarn", "yarn.lock", false, true},
		{map[string]string{"package.json": `{}`, "bun.lockb": ""}, "bun", "bun.lockb", false, true},
		{map[string]string{"package.json": `{}`, "bun.lock": ""}, "bun", "bun.lock", false, true},
		// corepack's field, without a lockfile yet; a lockfile wins over it.
		{map[string]string{"package.json": `{"packageManager": "pnpm@9.3.0"}`}, "pnpm", "", true, true},
		{map[string]string{"package.json": `{"packageManager": "yarn@4"}`, "package-lock.json": "{}"}, "npm", "package-lock.json", true, true},
		{map[string]string{"package.json": `{}`}, "npm", "", true, true},
		{map[string]string{"README.md": "x"}, "", "", false, false},
	} {
		p, err := Detect(writeFiles(t, tc.files))
		if err != nil {
			t.Fatal(err)
		}
		if p.Manager != tc.manager || p.Lockfile != tc.lockfile || p.Installed != tc.installed || p.HasPackageJSON != tc.hasJSON {
			t.Errorf("%v: got %+v", tc.files, p)
		}
	}
	if _, err := Detect(writeFiles(t, map[string]string{"package.json": `{"scripts": `})); err == nil || !strings.Contains(err.Error(), "package.json") {
		t.Errorf("broken package.json: %v", err)
	}
}

func TestCommandsFitTheProject(t *testing.T) {
	fakePATH(t, "npm")
	// The policy's scripts when present.
	p := Project{Manager: "npm", Installed: true, HasPackageJSON: true, Scripts: map[string]bool{"typecheck:all": true, "test:all": true, "compliance:dev": true}}
	checks, notes, verify, vnotes := p.Commands()
	if !reflect.DeepEqual(checks, []string{"npm run typecheck:all", "npm run test:all"}) || notes != nil ||
		!reflect.DeepEqual(verify, []string{"npm run compliance:dev"}) || vnotes != nil {
		t.Errorf("policy scripts: %q %q %q %q", checks, notes, verify, vnotes)
	}
	// Else the usual ones that exist; the others as notes.
	p = Project{Manager: "pnpm", Installed: true, HasPackageJSON: true, Scripts: map[string]bool{"test": true, "lint": true}}
	checks, notes, verify, vnotes = p.Commands()
	if !reflect.DeepEqual(checks, []string{"pnpm run test", "pnpm run lint"}) || len(notes) != 1 || !strings.Contains(notes[0], `package.json has no "typecheck" script`) ||
		len(verify) != 0 || len(vnotes) != 1 {
		t.Errorf("usual scripts: %q %q %q %q", checks, notes, verify, vnotes)
	}
	// A manager that is not installed: nothing runs, everything is a note.
	p.Installed = false
	checks, notes, _, _ = p.Commands()
	if len(checks) != 0 || len(notes) != 3 || !strings.Contains(notes[1], "pnpm is not installed on this machine") {
		t.Errorf("not installed: %q %q", checks, notes)
	}
	// The generated guard.toml loads, runs exactly the commands that exist,
	// and never names bun.
	p = Project{Manager: "npm", Installed: true, HasPackageJSON: true, Scripts: map[string]bool{"test": true}}
	opts := Options{}
	opts.Commands, opts.CommandNotes, opts.Verify, opts.VerifyNotes = p.Commands()
	doc := fileMap(t, opts)[ConfigPath].Content
	c, err := config.Parse("guard.toml", doc)
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	if !reflect.DeepEqual(c.PrePush.Commands, []string{"npm run test"}) || len(c.Deploy.Verify) != 0 || strings.Contains(string(doc), "bun") {
		t.Errorf("generated: %q %q\n%s", c.PrePush.Commands, c.Deploy.Verify, doc)
	}
	if _, err := config.Parse("guard.toml", uncomment(doc)); err != nil {
		t.Errorf("uncommented notes do not load: %v\n%s", err, uncomment(doc))
	}
}

func TestScriptOf(t *testing.T) {
	for cmd, want := range map[string]string{
		"npm run test":                "npm test",
		"pnpm run typecheck:all":      "pnpm typecheck:all",
		"pnpm --filter api run build": "pnpm build",
		"npm test":                    "npm test",
		"bun run test:all":            "bun test:all",
		"yarn run lint":               "yarn lint",
		"npm run-script compliance":   "npm compliance",
		"yarn test":                   "",
		"npx vitest":                  "",
		"npm install":                 "",
		"npm run":                     "",
	} {
		ref, ok := ScriptOf(strings.Fields(cmd))
		got := ""
		if ok {
			got = ref.Manager + " " + ref.Script
		}
		if got != want {
			t.Errorf("ScriptOf(%q) = %q, want %q", cmd, got, want)
		}
	}
}

func TestCheckCommands(t *testing.T) {
	fakePATH(t, "npm", "sh")
	root := writeFiles(t, map[string]string{"package.json": `{"scripts": {"test": "x"}}`, "package-lock.json": "{}"})
	if err := os.WriteFile(filepath.Join(root, "check.sh"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Detect(root)
	if err != nil {
		t.Fatal(err)
	}
	probs := CheckCommands(root, p, "pre_push.commands", []string{
		"npm run test",                // fine
		"bun run typecheck:all",       // bun missing, and this is an npm repository
		"npm run lint",                // no such script
		"CI=1 npm test",               // fine
		"./check.sh",                  // not executable
		"vitest run",                  // not installed
		"npm test && echo 'done",      // unbalanced quote: left to the shell
		"cd packages/api && npm test", // a builtin first
	})
	var got []string
	for _, pr := range probs {
		got = append(got, pr.Key+": "+pr.Problem+" | "+pr.Fix)
	}
	want := []string{
		`pre_push.commands[1]: bun is not installed (not on PATH) | this repository uses npm (package-lock.json): edit pre_push.commands in guard.toml`,
		`pre_push.commands[2]: package.json has no "lint" script (it has: test) | add the script to package.json, or edit pre_push.commands in guard.toml`,
		`pre_push.commands[4]: ./check.sh is not an executable file | edit pre_push.commands in guard.toml`,
		`pre_push.commands[5]: vitest is not installed (not on PATH) | install vitest, or edit pre_push.commands in guard.toml`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
