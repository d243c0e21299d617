package install

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guardcm/guard/internal/gittest"
)

func TestWithBlockIsIdempotentAndKeepsTheHook(t *testing.T) {
	husky := "#!/usr/bin/env sh\n. \"$(dirname -- \"$0\")/_/husky.sh\"\n\nnpx lint-staged"
	once := withBlock([]byte(husky), "pre-push")
	if !strings.HasPrefix(string(once), husky+"\n\n"+blockBegin+"\n") || !strings.HasSuffix(string(once), blockEnd+"\n") {
		t.Fatalf("appended:\n%s", once)
	}
	if twice := withBlock(once, "pre-push"); string(twice) != string(once) {
		t.Fatalf("not idempotent:\n%s", twice)
	}
	// An edited block is replaced in place; what follows it stays.
	edited := strings.Replace(string(once), "|| exit $?", "|| true", 1) + "echo after\n"
	fixed := withBlock([]byte(edited), "pre-push")
	if !strings.Contains(string(fixed), "|| exit $?") || !strings.HasSuffix(string(fixed), blockEnd+"\necho after\n") {
		t.Fatalf("replaced:\n%s", fixed)
	}
	if fresh := withBlock(nil, "commit-msg"); !strings.HasPrefix(string(fresh), "#!/bin/sh\n"+blockBegin) {
		t.Fatalf("new file:\n%s", fresh)
	}
	if strings.Contains(block("pre-push"), "/") && strings.Contains(block("pre-push"), os.TempDir()) {
		t.Fatal("the block names a path")
	}
}

func TestTrackedLayouts(t *testing.T) {
	isolate(t)
	for _, tc := range []struct {
		name, hooksPath, files string
		ignore                 string
		tracked, husky         bool
	}{
		{"private .git/hooks", "", ".git/hooks", "", false, false},
		{"husky 8", ".husky", ".husky", "", true, true},
		{"husky 9", ".husky/_", ".husky", ".husky/_\n", true, true},
		{"githooks", ".githooks", ".githooks", "", true, false},
		{"ignored folder", ".hooks-local", ".hooks-local", ".hooks-local/\n", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := newRepo(t)
			if tc.hooksPath != "" {
				gittest.Git(t, dir, "config", "core.hooksPath", tc.hooksPath)
			}
			if tc.ignore != "" {
				gittest.WriteFile(t, filepath.Join(dir, ".gitignore"), tc.ignore)
			}
			l, err := Locate(ctx, open(t, dir))
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(dir, l.Files)
			if filepath.ToSlash(rel) != tc.files || l.Tracked != tc.tracked || l.Husky != tc.husky {
				t.Errorf("layout %+v (files %s)", l, rel)
			}
		})
	}
}

func TestTrackedInstallUninstallAndLegacyScript(t *testing.T) {
	isolate(t)
	dir := newRepo(t)
	gittest.Git(t, dir, "config", "core.hooksPath", ".husky")
	husky := "#!/usr/bin/env sh\necho husky\n"
	writeFile(t, filepath.Join(dir, ".husky", "pre-push"), husky, 0o755)
	// What an older guard left: its script (with one machine's path) in
	// place of husky's hook, which it had moved aside.
	writeFile(t, filepath.Join(dir, ".husky", "commit-msg.pre-guard"), "#!/usr/bin/env sh\necho mine\n", 0o755)
	writeFile(t, filepath.Join(dir, ".husky", "commit-msg"), string(script("/home/ada/bin/guard", "commit-msg")), 0o755)
	repo := open(t, dir)

	states, err := Inspect(ctx, repo, nil)
	if err != nil || !states[0].MachineSpecific || states[0].Binary != "/home/ada/bin/guard" || states[1].Guard {
		t.Fatalf("before: %+v %v", states, err)
	}
	acts := mustInstall(t, repo, Options{Binary: "relative/is/fine/here"})
	if got := whats(acts); got != "commit-msg: replaced guard's machine-specific script with the portable block; pre-push: added guard's block" {
		t.Fatalf("actions %q", got)
	}
	cm := readFile(t, filepath.Join(dir, ".husky", "commit-msg"))
	if !strings.HasPrefix(cm, "#!/usr/bin/env sh\necho mine\n\n"+blockBegin) || strings.Contains(cm, "/home/ada") {
		t.Fatalf("commit-msg:\n%s", cm)
	}
	if _, err := os.Stat(filepath.Join(dir, ".husky", "commit-msg.pre-guard")); !os.IsNotExist(err) {
		t.Fatalf(".pre-guard left behind: %v", err)
	}
	states, err = Inspect(ctx, repo, nil)
	if err != nil || !states[0].Guard || states[0].Edited || !states[0].Tracked || !states[1].Guard {
		t.Fatalf("after: %+v %v", states, err)
	}
	acts, err = Uninstall(ctx, repo, nil)
	if err != nil || whats(acts) != "commit-msg: removed guard's block; pre-push: removed guard's block" {
		t.Fatalf("uninstall %q %v", whats(acts), err)
	}
	if got := readFile(t, filepath.Join(dir, ".husky", "pre-push")); got != husky {
		t.Fatalf("pre-push after uninstall:\n%q", got)
	}
}
