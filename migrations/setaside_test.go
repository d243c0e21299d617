package migrations

import (
	"context"
	"testing"
)

// TestSetAsideChangesNothing replays every rule folder and corpus scenario
// twice: as usual, and with rows of sqlite_schema set aside after every
// statement that creates something. The findings, the final schema table
// and its integrity must be the same, and the mechanism must have run.
func TestSetAsideChangesNothing(t *testing.T) {
	type input struct {
		name string
		in   Input
		opts Options
	}
	var inputs []input
	for name, src := range ruleFolders(t) {
		cs := parseCase(t, src)
		inputs = append(inputs, input{"rules/" + name, cs.in, cs.opts})
	}
	for _, sc := range d1Scenarios {
		in := Input{Dir: dir, Head: d1Files(t, sc.head), HasBase: !sc.nobase}
		if !sc.nobase {
			in.Base = d1Files(t, sc.base)
		}
		inputs = append(inputs, input{"d1/" + sc.name, in, Options{Digits: sc.digits}})
	}
	inputs = append(inputs, input{"generated/120", Input{Dir: dir, Head: generateFolder(120, 7)}, Options{}})
	var total setAsideAudit
	for _, c := range inputs {
		t.Run(c.name, func(t *testing.T) {
			var plain, aside setAsideAudit
			c.opts.setAside = setAsidePolicy{min: 1 << 30, batch: 1 << 30, audit: &plain}
			want, err := Check(context.Background(), c.in, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			c.opts.setAside = setAsidePolicy{min: 1, batch: 1, audit: &aside}
			got, err := Check(context.Background(), c.in, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if format(got) != format(want) {
				t.Errorf("findings differ with rows set aside\ngot:\n%swant:\n%s", format(got), format(want))
			}
			if plain.setAside != 0 {
				t.Errorf("rows were set aside %d times under a policy that never does", plain.setAside)
			}
			if aside.schema != plain.schema {
				t.Errorf("sqlite_schema differs with rows set aside\ngot:\n%swant:\n%s", aside.schema, plain.schema)
			}
			if aside.integrity != plain.integrity || plain.schema != "" && plain.integrity != "ok" {
				t.Errorf("integrity_check: %q with rows set aside, %q without", aside.integrity, plain.integrity)
			}
			total.setAside += aside.setAside
			total.putBack += aside.putBack
			total.reloads += aside.reloads
		})
	}
	// Every path must have run somewhere: setting aside, putting back for a
	// statement or a full read, and putting back with a reload after a
	// failure or rollback.
	if total.setAside < 100 || total.putBack < 50 || total.reloads < 5 {
		t.Errorf("the mechanism barely ran: %+v", total)
	}
	t.Logf("set aside %d times, put back %d times (%d with a reload)", total.setAside, total.putBack, total.reloads)
}

// FuzzSetAside replays arbitrary SQL with rows of sqlite_schema set aside
// after every statement that creates something, and as usual: findings,
// the final schema table and its integrity must not differ.
func FuzzSetAside(f *testing.F) {
	addCheckSeeds(f)
	f.Add("CREATE TABLE a(x); CREATE TABLE b(y REFERENCES a(x)); SELECT count(*) FROM sqlite_master; DROP TABLE a;")
	f.Add("CREATE TABLE a(x); CREATE INDEX ai ON a(x); INSERT INTO a VALUES (1); CREATE TABLE c AS SELECT * FROM sqlite_schema;")
	f.Fuzz(func(t *testing.T, sql string) {
		in := Input{Dir: dir, HasBase: true, Base: []File{fuzzBase},
			Head: []File{fuzzBase, {Path: dir + "/0002_fuzz.sql", Content: []byte(sql)}}}
		var plain, aside setAsideAudit
		want, err := Check(context.Background(), in, Options{setAside: setAsidePolicy{min: 1 << 30, batch: 1 << 30, audit: &plain}})
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		got, err := Check(context.Background(), in, Options{setAside: setAsidePolicy{min: 1, batch: 1, audit: &aside}})
		if err != nil {
			t.Fatalf("Check with rows set aside: %v", err)
		}
		if format(got) != format(want) {
			t.Fatalf("findings differ with rows set aside\ngot:\n%swant:\n%s", format(got), format(want))
		}
		if aside.schema != plain.schema || aside.integrity != plain.integrity {
			t.Fatalf("schema differs with rows set aside (integrity %q vs %q)\ngot:\n%swant:\n%s", aside.integrity, plain.integrity, aside.schema, plain.schema)
		}
	})
}
