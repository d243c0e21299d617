package initrepo

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestEnsureIgnored(t *testing.T) {
	cases := []struct {
		name, before, after string
		added               []string
	}{
		{"no file", "", "# wrangler's cache, written on every run (guard init)\n.wrangler/\n", []string{".wrangler/"}},
		{"no newline at the end", "node_modules/", "node_modules/\n# wrangler's cache, written on every run (guard init)\n.wrangler/\n", []string{".wrangler/"}},
		{"already there", "node_modules/\n.wrangler/\n", "node_modules/\n.wrangler/\n", nil},
		{"rooted", "/.wrangler\n", "/.wrangler\n", nil},
		{"any depth", "**/.wrangler/**\n", "**/.wrangler/**\n", nil},
		{"negated later", ".wrangler/\n!.wrangler/\n", ".wrangler/\n!.wrangler/\n# wrangler's cache, written on every run (guard init)\n.wrangler/\n", []string{".wrangler/"}},
		{"a file of that name in a comment", "# .wrangler/\n", "# .wrangler/\n# wrangler's cache, written on every run (guard init)\n.wrangler/\n", []string{".wrangler/"}},
		{"crlf", ".wrangler/\r\n", ".wrangler/\r\n", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			p := filepath.Join(root, ".gitignore")
			if c.name != "no file" {
				if err := os.WriteFile(p, []byte(c.before), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			added, err := EnsureIgnored(root, WranglerIgnore)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(added, c.added) {
				t.Errorf("added %q, want %q", added, c.added)
			}
			got, _ := os.ReadFile(p)
			if string(got) != c.after {
				t.Errorf(".gitignore =\n%q\nwant\n%q", got, c.after)
			}
			// A second run adds nothing.
			if again, err := EnsureIgnored(root, WranglerIgnore); err != nil || len(again) != 0 {
				t.Errorf("second run added %q (%v)", again, err)
			}
		})
	}
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, ".gitignore"), 0o755)
	if _, err := EnsureIgnored(root, WranglerIgnore); err == nil {
		t.Error("a .gitignore folder was accepted")
	}
}
