package config

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	toml "github.com/pelletier/go-toml/v2"
)

// normalized is c without its Source and with nil slices and maps made
// empty: TOML cannot tell an absent list from an empty one.
func normalized(c *Config) *Config {
	cp := *c
	cp.Source = ""
	v := reflect.ValueOf(&cp).Elem()
	fillNil(v)
	return &cp
}

func fillNil(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fillNil(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.IsNil() {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		}
		for i := 0; i < v.Len(); i++ {
			fillNil(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			fillNil(v.Elem())
		}
	}
}

// roundTrip marshals c, parses the result and checks that it is c again,
// and that marshalling is then a fixed point.
func roundTrip(t *testing.T, c *Config) {
	t.Helper()
	b, err := c.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	back, err := Parse("guard.toml", b)
	if err != nil {
		t.Fatalf("Parse of Marshal output: %v\n%s", err, b)
	}
	if back.Source != "guard.toml" {
		t.Errorf("Source = %q", back.Source)
	}
	if got, want := normalized(back), normalized(c); !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip changed the configuration:\n got %#v\nwant %#v\nTOML:\n%s", got, want, b)
	}
	again, err := back.Marshal()
	if err != nil || !bytes.Equal(again, b) {
		t.Fatalf("Marshal is not stable: %v\nfirst:\n%s\nsecond:\n%s", err, b, again)
	}
}

func TestMarshalRoundTripsDefaults(t *testing.T) {
	roundTrip(t, Defaults())
	// Parse of nothing is the defaults.
	c, err := Parse("guard.toml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normalized(c), normalized(Defaults())) {
		t.Errorf("Parse(empty) = %#v, want the defaults", c)
	}
}

func TestMarshalRoundTripsEveryField(t *testing.T) {
	f := false
	c := Defaults()
	c.Remote = "upstream"
	c.Branch = "trunk"
	c.Protected = []string{"trunk", "release/*", "hot fix/**"}
	c.Categories = Categories{
		Standard:    []string{"**/*.md", "docs/**"},
		Major:       []string{"infra/**", "src/{auth,billing}/**"},
		ThreatModel: "security/threat model.md",
		RolloutDir:  "plans/rollouts",
	}
	c.PrePush = PrePush{
		Commands:               []string{`bun run typecheck:all && bun run test:all`, "echo 'single' \"double\" \\ back\tslash", "printf 'a\\nb'\necho second line", "ünï 日本"},
		EmergencySkipsCommands: &f,
		OverdueRecords:         "warn",
	}
	c.Migrations = Migrations{Dir: "db/migrations", Digits: 6, Severity: map[string]string{"drop-table": "warning", "drop-column": "off", "rename.with.dots": "notice"}}
	c.Deploy = Deploy{
		Wrangler: `node "node_modules/wrangler/bin/wrangler.js"`,
		Config:   "workers/api/wrangler.jsonc",
		Verify:   []string{"bun run compliance:dev"},
		Health: []Health{
			{URL: "https://api.example.com/health?x=1&y=2", Status: 204, Retries: 3, Timeout: Duration{1500 * time.Millisecond}, Interval: Duration{250 * time.Millisecond}},
			{URL: "http://localhost:8787/", Status: 200, Retries: 5, Timeout: Duration{10 * time.Second}, Interval: Duration{time.Second}},
		},
		D1:           []D1{{Binding: "DB"}, {Binding: "AUDIT_LOG"}},
		FetchTimeout: Duration{2*time.Minute + 3*time.Second},
		Isolation:    IsolationCheckout,
		Build:        "npm run build -- --mode 'production'",
		TeamLock:     TeamLockRequired,
		TeamLockTTL:  Duration{45 * time.Minute},
	}
	c.Rollback.RecordsDir = "changes/emergency"
	c.PR = PR{MotivationHeadings: []string{"Why", "Motivation & context"}, ChecklistFiles: []string{}, ChecklistHeading: "Checklist"}
	roundTrip(t, c)

	// Emptied lists stay empty rather than falling back to the defaults.
	e := Defaults()
	e.Protected, e.Categories.Standard, e.PR.MotivationHeadings = []string{}, []string{}, []string{}
	roundTrip(t, e)
}

// Health defaults are filled in on Parse, so a parsed entry marshals with
// them and comes back unchanged.
func TestHealthDefaultsSurviveRoundTrip(t *testing.T) {
	c, err := Parse("guard.toml", []byte("[[deploy.health]]\nurl = \"https://x.example/h\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Health{URL: "https://x.example/h", Status: 200, Retries: 5, Timeout: Duration{10 * time.Second}, Interval: Duration{time.Second}}
	if len(c.Deploy.Health) != 1 || c.Deploy.Health[0] != want {
		t.Fatalf("health = %+v, want %+v", c.Deploy.Health, want)
	}
	roundTrip(t, c)
}

// problem classifies input the way the configuration contract does: TOML
// that does not parse, or a key or type the schema does not have, must be
// reported at a line.
func problem(data []byte) string {
	var raw map[string]any
	if err := toml.Unmarshal(data, &raw); err != nil {
		return "syntax"
	}
	var c Config
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var strict *toml.StrictMissingError
		if errors.As(err, &strict) {
			return "unknown key"
		}
		return "type"
	}
	return ""
}

func TestLocatedErrorsHaveLines(t *testing.T) {
	for _, in := range []string{
		"remote = \n",
		"[pre_push]\ncommands = \"not a list\"\n",
		"\n\n[migrations]\ndigits = \"four\"\n",
		"[deploy]\nfetch_timeout = 30\n",
		"[deploy]\nfetch_timeout = \"-1s\"\n",
		"[[deploy.health]]\nurl = \"https://x\"\nstatus = \"ok\"\n",
		"[[deploy.health]]\nurl = \"https://x\"\nbogus = 1\n",
		"[pre_push]\nemergency_skips_commands = \"yes\"\n",
		"protected = [\"main\", 3]\n",
		"[categories]\n[categories]\n",
		"remote = \"a\"\nremote = \"b\"\n",
		"x = 1\n",
		"[migrations.severity]\ndrop-table = 1\n",
		"[migrations]\ndigits = 99999999999999999999\n",
		"[migrations]\ndigits = 1.5\n",
		"\"unterminated\n",
	} {
		kind := problem([]byte(in))
		if kind == "" {
			t.Errorf("%q: the classifier finds no problem", in)
			continue
		}
		_, err := Parse("guard.toml", []byte(in))
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("%q (%s): error %v is not a *config.Error", in, kind, err)
			continue
		}
		if ce.Line <= 0 || ce.File != "guard.toml" {
			t.Errorf("%q (%s): error %q has no line", in, kind, err)
		}
		if !strings.HasPrefix(err.Error(), fmt.Sprintf("guard.toml:%d:%d: ", ce.Line, ce.Col)) {
			t.Errorf("%q: error %q is not located", in, err)
		}
	}
}

// A number is not a duration, not even 0 (which go-toml would hand to
// Duration.UnmarshalText as "0", a valid Go duration).
func TestDurationMustBeAString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"[deploy]\nfetch_timeout = 0\n", "guard.toml:2:17: deploy.fetch_timeout: must be a duration string"},
		{"[deploy]\nfetch_timeout = 30\n", "guard.toml:2:17: deploy.fetch_timeout: must be a duration string"},
		{"[[deploy.health]]\nurl = \"https://x\"\ninterval = true\n", "guard.toml:3:12: deploy.health.interval: must be a duration string"},
		{"deploy = { fetch_timeout = 1.5 }\n", "guard.toml:1:"},
	} {
		_, err := Parse("guard.toml", []byte(tc.in))
		var ce *Error
		if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want %q…", tc.in, err, tc.want)
		}
	}
	c, err := Parse("guard.toml", []byte("[deploy]\nfetch_timeout = \"0s\"\n"))
	if err != nil || c.Deploy.FetchTimeout.Duration != 0 {
		t.Errorf("\"0s\": %v, %v", c, err)
	}
}

func TestErrorString(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{File: "guard.toml", Line: 3, Col: 1, Key: "pre_push.comands", Msg: "unknown key"}, "guard.toml:3:1: pre_push.comands: unknown key"},
		{Error{File: "guard.toml", Msg: "read failed"}, "guard.toml: read failed"},
		{Error{File: "g.toml", Line: 2, Col: 5, Msg: "bad"}, "g.toml:2:5: bad"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}
