package main

import (
	"io"
	"reflect"
	"testing"

	"github.com/alecthomas/kong"
)

// BenchmarkParseHookArgs is what every hook run pays to parse its command
// line with kong, before any work.
func BenchmarkParseHookArgs(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var cli CLI
		p, err := kong.New(&cli, kong.Name("guard"), kong.Writers(io.Discard, io.Discard), kong.Bind(&Env{}), kong.Vars{"version": Version})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Parse([]string{"hook", "commit-msg", ".git/COMMIT_EDITMSG"}); err != nil {
			b.Fatal(err)
		}
	}
}

// The fast path must build exactly what kong would for the hooks' command
// lines, and leave everything else to kong.
func TestHookCommandMatchesKong(t *testing.T) {
	for _, args := range [][]string{
		{"hook", "commit-msg", ".git/COMMIT_EDITMSG"},
		{"hook", "pre-push", "origin", "../remote.git"},
		{"hook", "pre-push", "origin"},
	} {
		fast := hookCommand(args)
		if fast == nil {
			t.Fatalf("%q: no fast path", args)
		}
		var cli CLI
		p, err := kong.New(&cli, kong.Name("guard"), kong.Writers(io.Discard, io.Discard), kong.Bind(&Env{}), kong.Vars{"version": Version})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Parse(args); err != nil {
			t.Fatal(err)
		}
		var viaKong any
		if args[1] == "commit-msg" {
			viaKong = &cli.Hook.CommitMsg
		} else {
			viaKong = &cli.Hook.PrePush
		}
		if !reflect.DeepEqual(fast, viaKong) {
			t.Errorf("%q: fast path %+v, kong %+v", args, fast, viaKong)
		}
	}
	for _, args := range [][]string{
		{"hook"}, {"hook", "commit-msg"}, {"hook", "commit-msg", "--help"},
		{"hook", "commit-msg", "a", "b"}, {"hook", "pre-push", "a", "b", "c"}, {"hook", "post-commit", "x"},
		{"install"},
	} {
		if hookCommand(args) != nil {
			t.Errorf("%q took the fast path", args)
		}
	}
}
