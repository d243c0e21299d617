package hooks

import (
	"testing"

	"github.com/guardcm/guard/internal/gitx"
)

func TestRecordsOnly(t *testing.T) {
	dir := "docs/changes/emergency"
	rec := "docs/changes/emergency/2026-11-02-1005-emergency-0123456789ab.md"
	for _, tc := range []struct {
		name    string
		changes []gitx.FileChange
		want    bool
	}{
		{"adds a record", []gitx.FileChange{{Kind: 'A', Path: rec}}, true},
		{"completes a record", []gitx.FileChange{{Kind: 'M', Path: rec}}, true},
		{"renames within", []gitx.FileChange{{Kind: 'R', OldPath: rec, Path: dir + "/other.md"}}, true},
		{"deletes a record", []gitx.FileChange{{Kind: 'D', Path: rec}}, false},
		{"moves one away", []gitx.FileChange{{Kind: 'R', OldPath: rec, Path: "docs/x.md"}}, false},
		{"and code", []gitx.FileChange{{Kind: 'M', Path: rec}, {Kind: 'M', Path: "src/index.js"}}, false},
		{"not markdown", []gitx.FileChange{{Kind: 'A', Path: dir + "/run.sh"}}, false},
		{"a sub-folder", []gitx.FileChange{{Kind: 'A', Path: dir + "/x/y.md"}}, false},
		{"nothing", nil, false},
	} {
		if got := RecordsOnly(tc.changes, dir+"/"); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
