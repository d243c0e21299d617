package main

import (
	"io"
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
