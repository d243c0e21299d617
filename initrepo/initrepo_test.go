package initrepo

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	toml "github.com/pelletier/go-toml/v2"
	yaml "go.yaml.in/yaml/v3"

	"github.com/guardcm/guard/config"
)

// activeKeys are the guard.toml keys guard init sets; exampleKeys those it
// shows commented out. The config loader is strict, so both must be keys it
// knows (TestGuardTOMLLoads).
var (
	activeKeys = []string{
		"remote", "branch", "protected",
		"categories.standard", "categories.major", "categories.threat_model", "categories.rollout_dir",
		"pre_push.commands", "pre_push.emergency_skips_commands",
		"migrations.digits",
		"deploy.verify",
		"rollback.records_dir",
	}
	exampleKeys = []string{
		"workers.config", "migrations.dir",
		"deploy.wrangler", "deploy.health.url", "deploy.health.status", "deploy.d1.binding",
		"pr.motivation_headings", "pr.checklist_files", "pr.checklist_heading",
	}
)

func fileMap(t *testing.T, opts Options) map[string]File {
	t.Helper()
	m := map[string]File{}
	for _, f := range Files(opts) {
		if _, dup := m[f.Path]; dup {
			t.Fatalf("duplicate path %s", f.Path)
		}
		m[f.Path] = f
	}
	return m
}

func TestFiles(t *testing.T) {
	fs1, fs2 := Files(Options{ProjectName: "billing"}), Files(Options{ProjectName: "billing"})
	if !reflect.DeepEqual(fs1, fs2) {
		t.Fatal("Files is not deterministic")
	}
	var paths []string
	for _, f := range fs1 {
		paths = append(paths, f.Path)
		if f.Mode != 0o644 {
			t.Errorf("%s: mode %v", f.Path, f.Mode)
		}
		if len(f.Content) == 0 || !bytes.HasSuffix(f.Content, []byte("\n")) {
			t.Errorf("%s: empty or without a final newline", f.Path)
		}
		if bytes.Contains(f.Content, []byte("\r")) || !isUTF8(f.Content) {
			t.Errorf("%s: CR or invalid UTF-8", f.Path)
		}
	}
	want := []string{"guard.toml", ".github/pull_request_template.md", "docs/threat-model.md", "docs/rollouts/README.md", ".github/workflows/guard.yml", EvidenceWorkflowPath}
	if !reflect.DeepEqual(paths, want) {
		t.Errorf("paths %q, want %q", paths, want)
	}
	for _, f := range fs1 {
		for _, ph := range []string{"@PROJECT@", "@COMMANDS@", "@VERIFY@", "@CHECKLIST@"} {
			if bytes.Contains(f.Content, []byte(ph)) {
				t.Errorf("%s: placeholder %s left", f.Path, ph)
			}
		}
	}
}

func isUTF8(b []byte) bool { return strings.ToValidUTF8(string(b), "\x00") == string(b) }

type snapshot map[string]struct {
	data  string
	mode  fs.FileMode
	mtime time.Time
}

func snap(t *testing.T, root string) snapshot {
	t.Helper()
	s := snapshot{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		var data []byte
		if info.Mode().IsRegular() {
			if data, err = os.ReadFile(p); err != nil {
				return err
			}
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			data = []byte("-> " + l)
		}
		rel, _ := filepath.Rel(root, p)
		s[rel] = struct {
			data  string
			mode  fs.FileMode
			mtime time.Time
		}{string(data), info.Mode(), info.ModTime()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWriteTwice(t *testing.T) {
	root := t.TempDir()
	files := Files(Options{ProjectName: "billing"})
	res, err := Write(root, files)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Written) != len(files) || len(res.Skipped) != 0 {
		t.Fatalf("first run: %+v", res)
	}
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f.Path)))
		if err != nil || !bytes.Equal(got, f.Content) {
			t.Fatalf("%s not written as given: %v", f.Path, err)
		}
		info, _ := os.Stat(filepath.Join(root, filepath.FromSlash(f.Path)))
		if info.Mode().Perm()&0o600 != 0o600 || info.Mode().Perm()&0o022 != 0 && info.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v", f.Path, info.Mode())
		}
	}
	before := snap(t, root)
	time.Sleep(10 * time.Millisecond) // so a rewrite would show in mtimes
	res, err = Write(root, Files(Options{ProjectName: "other name", Commands: []string{"make test"}}))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Written) != 0 || len(res.Skipped) != len(files) {
		t.Fatalf("second run: %+v", res)
	}
	if after := snap(t, root); !reflect.DeepEqual(before, after) {
		t.Fatalf("second run changed the tree:\nbefore %v\nafter  %v", before, after)
	}
}

func TestWriteKeepsExisting(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	mustWrite := func(p, s string, mode fs.FileMode) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	// Someone's own guard.toml, with CRLF and no final newline.
	mustWrite(filepath.Join(root, "guard.toml"), "remote = \"upstream\"\r\n# mine", 0o600)
	// The workflow path is a symbolic link to a file elsewhere: not followed.
	target := filepath.Join(outside, "target.yml")
	mustWrite(target, "original\n", 0o644)
	if err := os.MkdirAll(filepath.Join(root, ".github", "workflows"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(root, ".github", "workflows", "guard.yml")); err != nil {
		t.Fatal(err)
	}
	// A dangling link at the template path: not created through.
	dangling := filepath.Join(outside, "nothing-here.md")
	if err := os.Symlink(dangling, filepath.Join(root, ".github", "pull_request_template.md")); err != nil {
		t.Fatal(err)
	}
	// A directory where the threat model would go.
	if err := os.MkdirAll(filepath.Join(root, "docs", "threat-model.md"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := snap(t, root)
	beforeOutside := snap(t, outside)

	res, err := Write(root, Files(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	wantSkipped := []string{"guard.toml", ".github/pull_request_template.md", "docs/threat-model.md", ".github/workflows/guard.yml"}
	if !reflect.DeepEqual(res.Skipped, wantSkipped) || !reflect.DeepEqual(res.Written, []string{"docs/rollouts/README.md", EvidenceWorkflowPath}) {
		t.Fatalf("result %+v", res)
	}
	after := snap(t, root)
	for k, v := range before {
		a := after[k]
		if v.mode.IsDir() {
			// A folder gains entries (docs/rollouts); only its mode counts.
			a.mtime, v.mtime = time.Time{}, time.Time{}
		}
		if a != v {
			t.Errorf("%s changed: %+v -> %+v", k, v, after[k])
		}
	}
	if !reflect.DeepEqual(beforeOutside, snap(t, outside)) {
		t.Error("a file outside the repository changed")
	}
	if _, err := os.Lstat(dangling); !os.IsNotExist(err) {
		t.Errorf("the dangling link's target was created: %v", err)
	}
}

func TestWriteErrors(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"", "../escape.txt", "/etc/guard-test", "a/../../escape.txt"} {
		res, err := Write(root, []File{{Path: p, Content: []byte("x")}})
		if err == nil || !strings.Contains(err.Error(), "not a relative path inside the repository") {
			t.Errorf("path %q: err %v", p, err)
		}
		if len(res.Written) != 0 {
			t.Errorf("path %q written", p)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(root), "escape.txt")); !os.IsNotExist(err) {
		t.Error("escaped the root")
	}
	// A file where a folder is needed: an error naming the file, after the
	// files before it were written.
	if err := os.WriteFile(filepath.Join(root, "docs"), []byte("a file"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Write(root, Files(Options{}))
	if err == nil || !strings.Contains(err.Error(), "docs/threat-model.md") {
		t.Fatalf("err %v", err)
	}
	if !reflect.DeepEqual(res.Written, []string{"guard.toml", ".github/pull_request_template.md"}) {
		t.Errorf("partial result %+v", res)
	}
	// The default mode applies when none is given.
	res, err = Write(root, []File{{Path: "x/y.txt", Content: []byte("y")}})
	if err != nil || len(res.Written) != 1 {
		t.Fatal(res, err)
	}
	if info, err := os.Stat(filepath.Join(root, "x", "y.txt")); err != nil || info.Mode().Perm()&0o600 != 0o600 {
		t.Errorf("mode %v, %v", info, err)
	}
}

// tomlKeys flattens a decoded TOML document into dotted keys; arrays of
// tables contribute their entries' keys.
func tomlKeys(prefix string, m map[string]any, out map[string]bool) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		switch v := v.(type) {
		case map[string]any:
			tomlKeys(key, v, out)
		case []any:
			tables := false
			for _, e := range v {
				if mm, ok := e.(map[string]any); ok {
					tables = true
					tomlKeys(key, mm, out)
				}
			}
			if !tables {
				out[key] = true
			}
		default:
			out[key] = true
		}
	}
}

func keySet(t *testing.T, doc []byte) []string {
	t.Helper()
	var m map[string]any
	if err := toml.Unmarshal(doc, &m); err != nil {
		t.Fatalf("guard.toml does not parse: %v\n%s", err, doc)
	}
	set := map[string]bool{}
	tomlKeys("", m, set)
	var keys []string
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// uncomment turns the commented examples ("# key = value", "# [table]")
// into settings, leaving prose comments alone.
var exampleLine = regexp.MustCompile(`(?m)^# ((?:[a-z_]+ = .+)|(?:\[\[?[a-z0-9_.]+\]\]?))$`)

func uncomment(doc []byte) []byte { return exampleLine.ReplaceAll(doc, []byte("$1")) }

func sorted(ss ...[]string) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s...)
	}
	sort.Strings(out)
	return out
}

func TestGuardTOMLKeys(t *testing.T) {
	doc := fileMap(t, Options{})[ConfigPath].Content
	if got := keySet(t, doc); !reflect.DeepEqual(got, sorted(activeKeys)) {
		t.Errorf("active keys:\n got %q\nwant %q", got, sorted(activeKeys))
	}
	full := uncomment(doc)
	if got := keySet(t, full); !reflect.DeepEqual(got, sorted(activeKeys, exampleKeys)) {
		t.Errorf("keys with the examples uncommented:\n got %q\nwant %q\n%s", got, sorted(activeKeys, exampleKeys), full)
	}
	var v struct {
		PrePush struct {
			Commands []string `toml:"commands"`
			Skips    bool     `toml:"emergency_skips_commands"`
		} `toml:"pre_push"`
		Deploy struct {
			Verify []string `toml:"verify"`
		} `toml:"deploy"`
	}
	if err := toml.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(v.PrePush.Commands, []string{"bun run typecheck:all", "bun run test:all"}) || !v.PrePush.Skips ||
		!reflect.DeepEqual(v.Deploy.Verify, []string{"bun run compliance:dev"}) {
		t.Errorf("policy commands: %+v", v)
	}
}

// The lead's loader is strict (unknown keys are errors): the generated file,
// and the file with every example uncommented, must load, and say what the
// generated file means to say.
func TestGuardTOMLLoads(t *testing.T) {
	doc := fileMap(t, Options{})[ConfigPath].Content
	c, err := config.Parse("guard.toml", doc)
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	def := config.Defaults()
	if c.Remote != def.Remote || c.Branch != def.Branch || !reflect.DeepEqual(c.Protected, def.Protected) ||
		!reflect.DeepEqual(c.Categories, def.Categories) || c.Migrations.Dir != def.Migrations.Dir ||
		c.Rollback != def.Rollback || !reflect.DeepEqual(c.PR, def.PR) {
		t.Errorf("generated values differ from the defaults they document: %+v", c)
	}
	if !reflect.DeepEqual(c.PrePush.Commands, DefaultCommands) || !reflect.DeepEqual(c.Deploy.Verify, DefaultVerify) {
		t.Errorf("commands: %q, verify %q", c.PrePush.Commands, c.Deploy.Verify)
	}
	full, err := config.Parse("guard.toml", uncomment(doc))
	if err != nil {
		t.Fatalf("config.Parse with examples: %v\n%s", err, uncomment(doc))
	}
	if full.Deploy.Wrangler != "npx wrangler" || len(full.Deploy.Health) != 1 || full.Deploy.Health[0].Status != 200 ||
		len(full.Deploy.D1) != 1 || full.Deploy.D1[0].Binding != "DB" || !reflect.DeepEqual(full.PR, def.PR) {
		t.Errorf("examples: %+v", full.Deploy)
	}
}

func TestGuardTOMLQuoting(t *testing.T) {
	cmds := []string{`echo "quoted" \ back\slash`, "tab\there", "new\nline", "bell\a", "ünïcode ✓", "bad\xffutf8", ""}
	doc := fileMap(t, Options{ProjectName: "evil\n[pre_push]\ncommands = [\"rm -rf /\"]", Commands: cmds, Verify: []string{}})[ConfigPath].Content
	if got := keySet(t, doc); !reflect.DeepEqual(got, sorted(activeKeys)) {
		t.Fatalf("a project name or command changed the keys: %q\n%s", got, doc)
	}
	var v struct {
		PrePush struct {
			Commands []string `toml:"commands"`
		} `toml:"pre_push"`
		Deploy struct {
			Verify []string `toml:"verify"`
		} `toml:"deploy"`
	}
	if err := toml.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	want := append([]string(nil), cmds...)
	want[5] = "bad\uFFFDutf8"
	if !reflect.DeepEqual(v.PrePush.Commands, want) {
		t.Errorf("commands round trip:\n got %q\nwant %q", v.PrePush.Commands, want)
	}
	if v.Deploy.Verify == nil || len(v.Deploy.Verify) != 0 {
		t.Errorf("empty verify: %q", v.Deploy.Verify)
	}
	if !bytes.Contains(doc, []byte("# guard.toml: the change-management policy of evil [pre_push] commands = [\"rm -rf /\"], as guard")) {
		t.Errorf("project name not kept on its comment line:\n%s", doc)
	}
}

func TestWorkflow(t *testing.T) {
	for _, tc := range []struct {
		opts       Options
		uses, runs []string
		contains   string
	}{
		{Options{}, []string{"actions/checkout@v6", "actions/checkout@v6", "actions/setup-go@v6"},
			[]string{"go install ./cmd/guard", "guard check --format github"}, "ref: " + UnpinnedRef},
		{Options{GuardRef: "0123456789abcdef0123456789abcdef01234567"}, []string{"actions/checkout@v6", "actions/checkout@v6", "actions/setup-go@v6"},
			[]string{"go install ./cmd/guard", "guard check --format github"}, "ref: 0123456789abcdef0123456789abcdef01234567 #"},
		{Options{GuardVersion: "v1.4.2"}, []string{"actions/checkout@v6", "actions/setup-go@v6"},
			[]string{"go install github.com/guardcm/guard/cmd/guard@v1.4.2", "guard check --format github"}, `go-version: "` + GoVersion + `"`},
	} {
		doc := fileMap(t, tc.opts)[WorkflowPath].Content
		if !strings.Contains(string(doc), tc.contains) || strings.Contains(string(doc), "@latest") {
			t.Errorf("%+v: workflow lacks %q or floats:\n%s", tc.opts, tc.contains, doc)
		}
		checkWorkflow(t, doc, tc.uses, tc.runs)
	}
}

func TestGoVersionMatchesGoMod(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "\ngo "+GoVersion+"\n") {
		t.Errorf("initrepo.GoVersion %s is not go.mod's go directive", GoVersion)
	}
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "Go "+GoVersion) {
		t.Errorf("README does not name Go %s, go.mod's version", GoVersion)
	}
}

func checkWorkflow(t *testing.T, doc []byte, wantUses, wantRuns []string) {
	t.Helper()
	var wf struct {
		Name string `yaml:"name"`
		On   struct {
			PullRequest struct {
				Types []string `yaml:"types"`
			} `yaml:"pull_request"`
		} `yaml:"on"`
		Permissions map[string]string `yaml:"permissions"`
		Jobs        map[string]struct {
			RunsOn string `yaml:"runs-on"`
			Steps  []struct {
				Uses string         `yaml:"uses"`
				With map[string]any `yaml:"with"`
				Run  string         `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(doc, &wf); err != nil {
		t.Fatalf("workflow is not valid YAML: %v", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(doc, &raw); err != nil {
		t.Fatal(err)
	}
	on, _ := raw["on"].(map[string]any)
	if len(on) != 1 || on["pull_request"] == nil {
		t.Errorf("triggers %v, want only pull_request (never pull_request_target)", raw["on"])
	}
	for _, typ := range []string{"opened", "edited", "synchronize", "reopened", "labeled", "unlabeled"} {
		if !contains(wf.On.PullRequest.Types, typ) {
			t.Errorf("pull_request types %q lack %q", wf.On.PullRequest.Types, typ)
		}
	}
	if wf.Permissions["contents"] != "read" || len(wf.Permissions) != 1 {
		t.Errorf("permissions %v", wf.Permissions)
	}
	if len(wf.Jobs) != 1 {
		t.Fatalf("jobs %v", wf.Jobs)
	}
	for _, job := range wf.Jobs {
		var uses, runs []string
		checkoutDepth := any(nil)
		for _, s := range job.Steps {
			if s.Uses != "" {
				uses = append(uses, s.Uses)
			}
			if s.Run != "" {
				runs = append(runs, s.Run)
			}
			if strings.HasPrefix(s.Uses, "actions/checkout@") && checkoutDepth == nil {
				checkoutDepth = s.With["fetch-depth"]
			}
		}
		if !reflect.DeepEqual(uses, wantUses) {
			t.Errorf("actions %q", uses)
		}
		if checkoutDepth != 0 {
			t.Errorf("checkout fetch-depth %v (%T), want 0: guard reads every commit", checkoutDepth, checkoutDepth)
		}
		if !reflect.DeepEqual(runs, wantRuns) {
			t.Errorf("run steps %q", runs)
		}
		if job.RunsOn != "ubuntu-latest" {
			t.Errorf("runs-on %q", job.RunsOn)
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestChecklistCommands(t *testing.T) {
	last := func(o Options) string { c := Checklist(o); return c[len(c)-2] }
	tests := []struct {
		opts Options
		want string
	}{
		{Options{}, "Tests: the change is covered by tests, and `bun run typecheck:all` and `bun run test:all` pass"},
		{Options{Commands: []string{}}, "Tests: the change is covered by tests, and the project's checks pass"},
		{Options{Commands: []string{"make test"}}, "Tests: the change is covered by tests, and `make test` passes"},
		{Options{Commands: []string{"a", "b", "echo `date`\n"}}, "Tests: the change is covered by tests, and `a`, `b` and `` echo `date` `` pass"},
	}
	for _, tt := range tests {
		if got := last(tt.opts); got != tt.want {
			t.Errorf("%+v:\n got %q\nwant %q", tt.opts, got, tt.want)
		}
	}
}

func TestDocs(t *testing.T) {
	m := fileMap(t, Options{ProjectName: "billing -- <worker>"})
	tm := string(m[ThreatModelPath].Content)
	for _, want := range []string{"# Threat model: billing - worker\n", "## Trust boundaries", "## Assets and data categories", "## Threats and mitigations", "## Changes", "TODO"} {
		if !strings.Contains(tm, want) {
			t.Errorf("threat model lacks %q:\n%s", want, tm)
		}
	}
	ro := string(m[RolloutsPath].Content)
	for _, want := range []string{"docs/rollouts/YYYY-MM-DD-<change>.md", "docs/threat-model.md", "## Rollback", "guard rollback"} {
		if !strings.Contains(ro, want) {
			t.Errorf("rollouts README lacks %q", want)
		}
	}
	// The paths the docs name are the ones the configuration sets.
	c, err := config.Parse("guard.toml", m[ConfigPath].Content)
	if err != nil {
		t.Fatal(err)
	}
	if c.Categories.ThreatModel != ThreatModelPath || c.Categories.RolloutDir+"/README.md" != RolloutsPath ||
		!contains(c.PR.ChecklistFiles, TemplatePath) || c.PR.ChecklistHeading != ChecklistHeading {
		t.Errorf("paths disagree with the configuration: %+v %+v", c.Categories, c.PR)
	}
}
