package config

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzParse: Parse never panics; every error is a *config.Error naming the
// file, with a line when the TOML does not parse or has a key or type the
// schema lacks; and what parses marshals back to the same configuration.
// Seeds: testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte("remote = \"origin\"\nbranch = \"main\"\nprotected = [\"main\", \"release/*\"]\n"))
	f.Add([]byte("[pre_push]\ncommands = [\"bun run test:all\"]\nemergency_skips_commands = false\n[deploy]\nfetch_timeout = \"45s\"\n[[deploy.health]]\nurl = \"https://x.example\"\n"))
	f.Add([]byte("[migrations.severity]\ndrop-table = \"warning\"\n[pr]\nchecklist_heading = \"x\"\n"))
	f.Add([]byte("[pre_push]\ncomands = []\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("guard.toml", data)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v is not a *config.Error", err, err)
			}
			if ce.File != "guard.toml" {
				t.Fatalf("error names file %q", ce.File)
			}
			if kind := problem(data); kind != "" && ce.Line <= 0 {
				t.Fatalf("%s problem reported without a line: %v", kind, err)
			}
			return
		}
		if c.Source != "guard.toml" {
			t.Fatalf("Source = %q", c.Source)
		}
		b, err := c.Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		back, err := Parse("guard.toml", b)
		if err != nil {
			t.Fatalf("Parse of Marshal output: %v\n%s", err, b)
		}
		if !reflect.DeepEqual(normalized(back), normalized(c)) {
			t.Fatalf("round trip:\n got %#v\nwant %#v\n%s", normalized(back), normalized(c), b)
		}
	})
}
