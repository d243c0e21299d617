package migrations

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The cases of issue 12 (D1 semantics, rows in the tables, fewer false
// alarms, baselines, bounds) as rule folders: one txtar archive per case
// in testdata/rules, in the format of parseCase.
func ruleFolders(t testing.TB) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "rules", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(p), ".txtar")] = string(data)
	}
	if len(out) == 0 {
		t.Fatal("no rule folders in testdata/rules")
	}
	return out
}

func TestRuleFolders(t *testing.T) {
	for name, src := range ruleFolders(t) {
		t.Run(name, func(t *testing.T) { checkCase(t, src) })
	}
}
