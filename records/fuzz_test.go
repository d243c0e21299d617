package records

import (
	"reflect"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParse: any bytes parse or fail with a located error, never panic;
// what parses re-renders to a record that parses to the same fields.
func FuzzParse(f *testing.F) {
	f.Add(rollbackRecord().Render([]Event{{opened, "started"}}))
	f.Add([]byte("---\ncategory: emergency\ncontrol: A.8.32\nopened: 2026-11-02T09:41:27Z\ndue: 2026-11-03T09:41:27Z\ncommit: abc\nx-y: 'a''b' # c\n---\nTODO\n"))
	f.Add([]byte("---\r\ncategory: \"emergency\"\r\n---"))
	f.Add([]byte("---\nreason: \"\\ud83d\\ude00 \\x41 \\U0001F600\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse("f.md", data)
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		again, err := Parse("f.md", r.Render(nil))
		if err != nil {
			t.Fatalf("re-rendered record does not parse: %v\n%s", err, r.Render(nil))
		}
		strip := func(x *Record) Record {
			c := *x
			c.TODO = nil
			c.Extra = nil
			for _, e := range x.Extra {
				c.Extra = append(c.Extra, Field{Key: e.Key, Value: e.Value})
			}
			return c
		}
		if a, b := strip(r), strip(again); !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip changed the record:\n%+v\n%+v", a, b)
		}
	})
}

// FuzzRoundTrip: whatever the values, the rendered front matter reads back
// exactly, and the body keeps every event on its own line.
func FuzzRoundTrip(f *testing.F) {
	f.Add("api", "staging", "checkout 500s", "abc", "line\nbreak")
	f.Add("yes", "", `"quoted" # not a comment`, "1e3", "- dash")
	f.Add("w", "e", "\\u0041 \t tab", "'", "TODO")
	f.Fuzz(func(t *testing.T, worker, env, reason, version, event string) {
		for _, s := range []string{worker, env, reason, version, event} {
			if !utf8.ValidString(s) {
				return
			}
		}
		r := NewRollback(opened)
		r.Worker, r.Env, r.Reason, r.ToVersion, r.Operator = worker, env, reason, version, event
		data := r.Render([]Event{{opened, event}})
		got, err := Parse("f.md", data)
		if err != nil {
			t.Fatalf("%v\n%s", err, data)
		}
		if got.Worker != worker || got.Env != env || got.Reason != reason || got.ToVersion != version || got.Operator != event {
			t.Fatalf("round trip: got %+v", got)
		}
		if !got.Due.Equal(got.Opened.Add(24 * time.Hour)) {
			t.Fatalf("due %s opened %s", got.Due, got.Opened)
		}
		if len(got.TODO) < 6 {
			t.Fatalf("TODO lines %v", got.TODO)
		}
	})
}
