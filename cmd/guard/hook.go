package main

import (
	"fmt"
	"io"

	"github.com/guardcm/guard/hooks"
	"github.com/guardcm/guard/install"
	"github.com/guardcm/guard/internal/fail"
)

// HookCmd is what the installed hook scripts run.
type HookCmd struct {
	CommitMsg HookCommitMsgCmd `cmd:"" name:"commit-msg" help:"The commit-msg hook."`
	PrePush   HookPrePushCmd   `cmd:"" name:"pre-push" help:"The pre-push hook."`
}

// HookCommitMsgCmd is git's commit-msg hook.
type HookCommitMsgCmd struct {
	MessageFile string `arg:"" help:"The file holding the proposed commit message."`
}

// Run runs the hook that was there before guard, then guard's check.
func (c *HookCommitMsgCmd) Run(env *Env) error {
	inputs := hooks.StartCommitMsg(env.Ctx, ".", c.MessageFile)
	repo, err := env.Repo()
	if err != nil {
		return err
	}
	if err := runPrevious(env, "commit-msg", []string{c.MessageFile}, nil); err != nil {
		return err
	}
	cfg, err := env.Config()
	if err != nil {
		return err
	}
	return hooks.CommitMsg(env.Ctx, repo, cfg, c.MessageFile, inputs, env.Stderr)
}

// HookPrePushCmd is git's pre-push hook.
type HookPrePushCmd struct {
	Remote string `arg:"" help:"The remote's name."`
	URL    string `arg:"" optional:"" help:"The remote's URL."`
}

// Run runs the hook that was there before guard, then guard's checks.
func (c *HookPrePushCmd) Run(env *Env) error {
	repo, err := env.Repo()
	if err != nil {
		return err
	}
	stdin, err := io.ReadAll(env.Stdin)
	if err != nil {
		return fail.External(fmt.Errorf("reading the pushed refs: %w", err))
	}
	if err := runPrevious(env, "pre-push", []string{c.Remote, c.URL}, stdin); err != nil {
		return err
	}
	cfg, err := env.Config()
	if err != nil {
		return err
	}
	return hooks.PrePush(env.Ctx, repo, cfg, hooks.PrePushOptions{
		Remote: c.Remote, Stdin: stdin, Stdout: env.Stdout, Stderr: env.Stderr,
		Extra: rangeExtras(env),
	})
}

// runPrevious runs the hook guard preserved at install; its failure fails
// the hook, as it would have without guard.
func runPrevious(env *Env, hook string, args []string, stdin []byte) error {
	repo, err := env.Repo()
	if err != nil {
		return err
	}
	dir, err := install.HooksDir(env.Ctx, repo)
	if err != nil {
		return fail.External(err)
	}
	ran, err := install.RunPrevious(env.Ctx, dir, hook, args, stdin, env.Stdout, env.Stderr)
	if err != nil {
		if env.Ctx.Err() != nil {
			return env.Ctx.Err()
		}
		return fail.Refused(fmt.Errorf("the %s hook that was installed before guard failed: %w", hook, err))
	}
	_ = ran
	return nil
}
