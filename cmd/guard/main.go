// Command guard makes every commit, push, deploy and rollback of a
// Cloudflare Workers project follow the team's change-management policy.
//
// This file only wires things: a context cancelled by SIGINT/SIGTERM, the
// command line parsed by kong, and errors mapped to the documented exit
// codes (0 ok, 1 refused by policy, 2 usage or configuration, 3 an external
// tool or API failed, 130 interrupted). Each command lives in its own file
// and returns errors; nothing below main calls os.Exit.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/guardcm/guard/internal/fail"
)

func main() {
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Main runs guard with args and returns the exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	env := &Env{Ctx: ctx, Stdin: stdin, Stdout: stdout, Stderr: stderr}
	if hook := hookCommand(args); hook != nil {
		err := hook.Run(env)
		env.Close()
		return printError(stderr, err)
	}
	var cli CLI
	exitCode := -1
	parser, err := kong.New(&cli,
		kong.Name("guard"),
		kong.Description("Change-management guard rails for Cloudflare Workers and D1: hooks, guarded deploys, rollbacks, evidence."),
		kong.UsageOnError(),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { exitCode = code }),
		kong.Bind(env),
		kong.Vars{"version": Version},
	)
	if err != nil {
		fmt.Fprintf(stderr, "guard: internal error: %v\n", err)
		return 3
	}
	kctx, err := parser.Parse(args)
	if exitCode >= 0 {
		// --help or --version printed and asked to exit.
		return exitCode
	}
	if err != nil {
		fmt.Fprintf(stderr, "guard: %s\n", lowerFirst(err.Error()))
		fmt.Fprintf(stderr, "guard: hint: run 'guard --help' for usage\n")
		return 2
	}
	if cli.Chdir != "" {
		if err := os.Chdir(cli.Chdir); err != nil {
			fmt.Fprintf(stderr, "guard: %v\n", err)
			return 2
		}
	}
	err = kctx.Run()
	env.Close()
	return printError(stderr, err)
}

// hookCommand recognises the exact command lines the installed hook
// scripts run ("hook commit-msg FILE", "hook pre-push REMOTE [URL]") and
// returns the command without building kong's model of the whole CLI:
// every commit pays for hook startup, and the model costs ~0.5 ms. Any
// other shape goes through kong as usual.
func hookCommand(args []string) interface{ Run(*Env) error } {
	if len(args) < 3 || args[0] != "hook" {
		return nil
	}
	for _, a := range args[2:] {
		if strings.HasPrefix(a, "-") {
			return nil
		}
	}
	switch {
	case args[1] == "commit-msg" && len(args) == 3:
		return &HookCommitMsgCmd{MessageFile: args[2]}
	case args[1] == "pre-push" && len(args) == 3:
		return &HookPrePushCmd{Remote: args[2]}
	case args[1] == "pre-push" && len(args) == 4:
		return &HookPrePushCmd{Remote: args[2], URL: args[3]}
	}
	return nil
}

// printError prints err in guard's voice and returns its exit code.
func printError(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	kind := fail.KindOf(err)
	if kind == fail.KindInterrupted {
		fmt.Fprintln(stderr, "guard: interrupted")
		return 130
	}
	var fe *fail.Error
	if !(errors.As(err, &fe) && fe.Reported && fe.Err.Error() == "") {
		fmt.Fprintf(stderr, "guard: %s\n", lowerFirst(err.Error()))
	}
	for _, h := range fail.HintsOf(err) {
		fmt.Fprintf(stderr, "guard: hint: %s\n", h)
	}
	return int(kind)
}

// lowerFirst lowers the first letter of a message that starts with an
// ordinary capitalised word ("Checking x" → "checking x"), and keeps any
// other first word as written: acronyms, paths, and names like
// Change-Category or GitHub, whose spelling is what the user must type.
func lowerFirst(s string) string {
	word := s
	if i := strings.IndexAny(s, " :\t\n"); i >= 0 {
		word = s[:i]
	}
	if len(word) < 2 || word[0] < 'A' || word[0] > 'Z' {
		return s
	}
	for _, r := range word[1:] {
		if r < 'a' || r > 'z' {
			return s
		}
	}
	return strings.ToLower(s[:1]) + s[1:]
}
