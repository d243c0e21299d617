package evidence

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/guardcm/guard/internal/gittest"
	"github.com/guardcm/guard/internal/gitx"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// gitEnv isolates git from the machine's configuration.
func gitEnv(t testing.TB) {
	t.Helper()
	gittest.Isolate(t, gittest.Options{
		Author: gittest.Identity{Name: "Ada Lovelace", Email: "ada@example.com"},
		Date:   "2026-11-01T10:00:00Z",
	})
}

// newClone makes a bare remote and a clone of it; it returns the clone's
// root and the remote's path.
func newClone(t testing.TB) (work, remote string) {
	t.Helper()
	remote = gittest.Bare(t)
	return gittest.Clone(t, remote), remote
}

func openRepo(t testing.TB, dir string) *gitx.Repo {
	t.Helper()
	return gittest.Open(t, gitx.Open, dir)
}

// golden compares got with testdata/golden/name, or rewrites it with
// -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./evidence -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./evidence -run '%s' -update rewrites it):\n%s", path, t.Name(), lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the first differing lines.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 12; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl + "\n")
			shown++
		}
	}
	return b.String()
}
