package install

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// tricky are binary paths sh would mangle without correct quoting.
var tricky = []string{
	"/usr/local/bin/guard",
	"/home/o'neil/bin/guard",
	"/a b/c  d/guard",
	`/x/'"'"'/guard`,
	"/x/''/guard'",
	`/x/$HOME/$(id)/guard`,
	"/x/`id`/guard",
	`/x/back\slash\n/guard`,
	"/x/*?[a]/guard",
	"/x/\t\v/guard",
	"/x/é 日本/\xff/guard",
	"/-/guard",
}

// TestShQuoteThroughSh proves the quoting with the shell that runs the hooks.
func TestShQuoteThroughSh(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("sh is required: %v", err)
	}
	dir := t.TempDir()
	for i, s := range tricky {
		file := filepath.Join(dir, "q.sh")
		writeFile(t, file, binaryPrefix+shQuote(s)+"\nprintf '%s' \"$guard\"\n", 0o644)
		out, err := exec.Command(sh, file).Output()
		if err != nil {
			t.Fatalf("%d: sh: %v", i, err)
		}
		if string(out) != s {
			t.Errorf("sh read %q back as %q", s, out)
		}
		if got, ok := shUnquote(shQuote(s)); !ok || got != s {
			t.Errorf("shUnquote(shQuote(%q)) = %q, %v", s, got, ok)
		}
	}
	for _, bad := range []string{"", "abc", "'open", `'a'\`, `'a'b`, `\"`} {
		if got, ok := shUnquote(bad); ok {
			t.Errorf("shUnquote(%q) accepted as %q", bad, got)
		}
	}
}

func TestScriptGolden(t *testing.T) {
	got := script("/home/o'neil/bin/guard", "commit-msg")
	golden := filepath.Join("testdata", "commit-msg.golden")
	if os.Getenv("UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("script changed (UPDATE_GOLDEN=1 to accept):\n%s", got)
	}
}

// TestFingerprintDetectsEveryEdit flips each byte of a hook in turn: the
// result is either no longer guard's or reported as edited.
func TestFingerprintDetectsEveryEdit(t *testing.T) {
	for _, bin := range tricky {
		s := script(bin, "pre-push")
		p := parseHook(s)
		if !p.guard || p.edited || p.binary != bin {
			t.Fatalf("fresh script for %q parsed as %+v", bin, p)
		}
		for i := range s {
			m := bytes.Clone(s)
			m[i] ^= 0x20
			if q := parseHook(m); q.guard && !q.edited {
				t.Fatalf("flip at %d (%q) not detected for %q", i, s[i], bin)
			}
		}
		if q := parseHook(append(bytes.Clone(s), "echo extra\n"...)); !q.guard || !q.edited {
			t.Fatalf("appended line not detected: %+v", q)
		}
	}
}

func TestParseHookForeign(t *testing.T) {
	for _, s := range []string{
		"",
		"#!/bin/sh\nexit 0\n",
		"#!/bin/sh\n# guard-managed hook\nguard='/x'\n",
		"#!/bin/sh\n #" + strings.TrimPrefix(markerPrefix, "#") + "abc\n",
	} {
		if p := parseHook([]byte(s)); p != (parsed{}) {
			t.Errorf("parseHook(%q) = %+v, want not guard's", s, p)
		}
	}
	// The marker counts on any line, so a guard hook with a line added on
	// top is still guard's (and edited), never taken for a foreign hook to
	// chain to, which would loop.
	s := append([]byte("# added\n"), script("/g", "commit-msg")...)
	if p := parseHook(s); !p.guard || !p.edited || p.binary != "/g" {
		t.Errorf("prefixed hook %+v", p)
	}
}

func FuzzParseHook(f *testing.F) {
	f.Add(script("/usr/local/bin/guard", "commit-msg"))
	f.Add(script("/home/o'neil/bin/guard", "pre-push"))
	f.Add([]byte("#!/bin/sh\nexec lefthook run commit-msg \"$@\"\n"))
	f.Add([]byte(markerPrefix))
	f.Add([]byte(markerPrefix + "\n" + binaryPrefix + "'a'\\''b'\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := parseHook(data)
		if !p.guard && (p.edited || p.binary != "") {
			t.Fatalf("not guard's but %+v", p)
		}
		if p.binary != "" {
			if got, ok := shUnquote(shQuote(p.binary)); !ok || got != p.binary {
				t.Fatalf("binary %q does not round-trip", p.binary)
			}
		}
		if p.guard && !p.edited && p.binary != "" && !bytes.Contains(data, []byte(binaryPrefix+shQuote(p.binary))) {
			t.Fatalf("binary %q not on its line", p.binary)
		}
	})
}

func FuzzScriptRoundTrip(f *testing.F) {
	for _, s := range tricky {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, bin string) {
		if bin == "" || strings.ContainsAny(bin, "\x00\n\r") {
			return // checkBinary refuses these
		}
		s := script(bin, "commit-msg")
		p := parseHook(s)
		if !p.guard || p.edited || p.binary != bin {
			t.Fatalf("script(%q) parsed as %+v", bin, p)
		}
	})
}
