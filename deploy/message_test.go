package deploy

import (
	"context"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/guardcm/guard/internal/gittest"
	"github.com/guardcm/guard/policy"
)

func TestMessage(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	if got, want := Message("Add login rate limit", sha, "normal"), "Add login rate limit [guard 0123456789ab normal]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := Message("  spaced\tsubject  ", sha, "standard"), "spaced subject [guard 0123456789ab standard]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := Message("", sha, "major"), "[guard 0123456789ab major]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// A subject too long for Cloudflare's annotation is cut, never the marker,
	// and never inside a character.
	long := strings.Repeat("é", 800)
	got := Message(long, sha, "emergency")
	if len(got) > MaxMessageBytes || !utf8.ValidString(got) || !strings.HasSuffix(got, "… [guard 0123456789ab emergency]") {
		t.Errorf("long subject: %d bytes, valid %v, tail %q", len(got), utf8.ValidString(got), got[len(got)-40:])
	}
	if Tag(sha) != sha {
		t.Errorf("tag %q", Tag(sha))
	}
}

func TestCategories(t *testing.T) {
	cases := []struct {
		in      []policy.Category
		names   []string
		highest string
	}{
		{nil, []string{}, "redeploy"},
		{[]policy.Category{policy.Standard}, []string{"standard"}, "standard"},
		{[]policy.Category{policy.Normal, policy.Standard, policy.Normal}, []string{"standard", "normal"}, "normal"},
		{[]policy.Category{policy.Major, policy.Emergency}, []string{"major", "emergency"}, "emergency"},
		{[]policy.Category{policy.Unknown, policy.Standard}, []string{"standard", "unknown"}, "standard"},
		{[]policy.Category{policy.Unknown}, []string{"unknown"}, "unknown"},
	}
	for _, c := range cases {
		var cc []CommitCategory
		for _, x := range c.in {
			cc = append(cc, CommitCategory{Category: x})
		}
		names, highest := Categories(cc)
		if !reflect.DeepEqual(names, c.names) || highest != c.highest {
			t.Errorf("%v: got %q %q, want %q %q", c.in, names, highest, c.names, c.highest)
		}
	}
}

func TestCommitCategories(t *testing.T) {
	gitEnv(t)
	work, _ := cloneWithRemote(t)
	base := gittest.Git(t, work, "rev-parse", "HEAD")
	commit := func(file, msg string) {
		gittest.WriteFile(t, filepath.Join(work, file), msg)
		gittest.Git(t, work, "add", file)
		gittest.Git(t, work, "commit", "--quiet", "-m", msg)
	}
	commit("a", "docs: readme\n\nChange-Category: standard")
	commit("b", "feat: login\n\nChange-Category: normal")
	commit("c", "no trailer at all")
	commit("d", "fixup! feat: login")
	commit("e", "hotfix\n\nChange-Category: Emergency")
	got, err := CommitCategories(context.Background(), openRepo(t, work), base, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	var cats []string
	for _, c := range got {
		cats = append(cats, c.Category.String())
	}
	// Newest first, the fixup! commit skipped.
	if want := []string{"emergency", "unknown", "normal", "standard"}; !reflect.DeepEqual(cats, want) {
		t.Errorf("got %q, want %q", cats, want)
	}
	// A first deploy ships every reachable commit: the initial commit of
	// cloneWithRemote included, whatever it declared.
	got, err = CommitCategories(context.Background(), openRepo(t, work), "", "HEAD")
	if err != nil || len(got) != 5 || got[0].Category != policy.Emergency {
		t.Errorf("first deploy: %v %v", got, err)
	}

	// A branch carrying a major commit, merged with a merge commit: the
	// major commit counts (the walk goes through the merge), and so does a
	// merge message that declares a category; one that declares none adds
	// nothing.
	merged := gittest.Git(t, work, "rev-parse", "HEAD")
	gittest.Git(t, work, "switch", "--quiet", "-c", "feature")
	commit("f", "feat: queue\n\nChange-Category: major")
	gittest.Git(t, work, "switch", "--quiet", "-")
	commit("g", "docs: more\n\nChange-Category: standard")
	gittest.Git(t, work, "merge", "--quiet", "--no-ff", "-m", "Merge feature", "feature")
	got, err = CommitCategories(context.Background(), openRepo(t, work), merged, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	names, highest := Categories(got)
	if !reflect.DeepEqual(names, []string{"standard", "major"}) || highest != "major" || len(got) != 2 {
		t.Errorf("merged branch: %v %q %q", got, names, highest)
	}
	// On a first deploy too (the bug: only the newest non-merge commit).
	got, _ = CommitCategories(context.Background(), openRepo(t, work), "", "HEAD")
	if names, _ := Categories(got); !slices.Contains(names, "major") {
		t.Errorf("first deploy of a merged major change: %q", names)
	}
	gittest.Git(t, work, "commit", "--quiet", "--allow-empty", "-m", "Merge-like\n\nChange-Category: emergency")
	gittest.Git(t, work, "switch", "--quiet", "-c", "other", "HEAD~1")
	commit("h", "feat: other\n\nChange-Category: normal")
	gittest.Git(t, work, "switch", "--quiet", "main")
	gittest.Git(t, work, "merge", "--quiet", "--no-ff", "-m", "Merge other\n\nChange-Category: major", "other")
	got, _ = CommitCategories(context.Background(), openRepo(t, work), "HEAD~1", "HEAD")
	if names, _ := Categories(got); !reflect.DeepEqual(names, []string{"normal", "major"}) {
		t.Errorf("a merge declaring major: %q", names)
	}
}

func TestRollbackCommand(t *testing.T) {
	cases := []struct{ to, env, cfg, want string }{
		{"", "", "", "guard rollback"},
		{"b1946ac9-2f5b-4c1a-9d43-7c0e6d8a1f20", "", "", "guard rollback --to b1946ac9-2f5b-4c1a-9d43-7c0e6d8a1f20"},
		{"v1", "staging", "workers/api/wrangler.toml", "guard rollback --to v1 --env staging --config workers/api/wrangler.toml"},
		{"v1", "", "my config.toml", "guard rollback --to v1 --config 'my config.toml'"},
	}
	for _, c := range cases {
		if got := RollbackCommand(c.to, c.env, c.cfg); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

func TestCheckExtraArgs(t *testing.T) {
	for _, ok := range [][]string{nil, {"--minify"}, {"--keep-vars"}} {
		if err := CheckExtraArgs(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range [][]string{{"--env", "x"}, {"--env=x"}, {"-e", "x"}, {"--name=other"}, {"--message", "m"}, {"--tag=t"}, {"--dry-run"}, {"--config=x.toml"}, {"--outdir", "dist"}, {"--metafile=m.json"}} {
		if err := CheckExtraArgs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
