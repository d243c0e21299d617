package migrations

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestSnapshotLayers derives snapshots through every layer fold (top into
// mid, mid into base) and checks each against a plain map, old snapshots
// included: a snapshot must never change once made.
func TestSnapshotLayers(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	want := map[okey]*object{}
	s := newSnapshot(map[okey]*object{})
	type kept struct {
		s    *snapshot
		want map[okey]*object
	}
	var history []kept
	for step := 0; step < 3000; step++ {
		changes := map[okey]*object{}
		for i := rng.IntN(4); i >= 0; i-- {
			k := objKey("main", "table", fmt.Sprintf("t%d", rng.IntN(400)))
			if rng.IntN(3) == 0 {
				changes[k] = nil
			} else {
				changes[k] = &object{name: k.name, sql: sql.NullString{String: fmt.Sprint(step), Valid: true}}
			}
		}
		s = s.derive(changes)
		next := map[okey]*object{}
		for k, o := range want {
			next[k] = o
		}
		for k, o := range changes {
			if o == nil {
				delete(next, k)
			} else {
				next[k] = o
			}
		}
		want = next
		if step%7 == 0 {
			history = append(history, kept{s, want})
		}
	}
	for i, h := range history {
		got := map[okey]*object{}
		h.s.each(func(k okey, o *object) {
			if _, dup := got[k]; dup {
				t.Fatalf("snapshot %d: each gives %v twice", i, k)
			}
			got[k] = o
		})
		if len(got) != len(h.want) {
			t.Fatalf("snapshot %d: %d objects, want %d", i, len(got), len(h.want))
		}
		for k, o := range h.want {
			if got[k] != o || h.s.get(k) != o {
				t.Fatalf("snapshot %d: %v differs", i, k)
			}
		}
		for j := 0; j < 400; j++ {
			k := objKey("main", "table", fmt.Sprintf("t%d", j))
			if h.s.get(k) != h.want[k] {
				t.Fatalf("snapshot %d: get(%v) differs", i, k)
			}
		}
	}
}
