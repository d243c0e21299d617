package wranglercfg

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

// checkParse holds the invariants shared by the fuzz targets: Parse never
// panics; an error is an *Error located inside the input; a success gives
// bindings of known kinds and self-consistent accessors.
func checkParse(t *testing.T, path string, data []byte) {
	c, err := Parse(path, data)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %T (%v) is not *Error", err, err)
		}
		if e.Path != path || e.Msg == "" {
			t.Fatalf("bad error %#v", e)
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		if e.Line < 1 || e.Line > lines || e.Col < 1 {
			t.Fatalf("error position %d:%d outside the input (%d lines): %v", e.Line, e.Col, lines, err)
		}
		return
	}
	kinds := BindingKinds()
	for _, b := range c.Bindings() {
		if !slices.Contains(kinds, b.Kind) {
			t.Fatalf("unknown kind %q", b.Kind)
		}
		if b.Env != "" && !slices.Contains(c.Envs, b.Env) {
			t.Fatalf("binding %v of an env that does not exist", b)
		}
	}
	if a := AddedBindings(c, c); len(a) != 0 {
		t.Fatalf("AddedBindings(c, c) = %v", a)
	}
	for _, env := range append([]string{""}, c.Envs...) {
		_ = c.WorkerName(env)
		_ = c.D1Databases(env)
	}
}

func FuzzParseJSONC(f *testing.F) {
	f.Add([]byte(`{"name": "w", /* c */ "d1_databases": [{"binding": "DB",},],}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, "wrangler.jsonc", data)
	})
}

func FuzzParseTOML(f *testing.F) {
	f.Add([]byte("name = \"w\"\n[[env.a.d1_databases]]\nbinding = \"DB\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, "wrangler.toml", data)
	})
}
