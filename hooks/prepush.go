package hooks

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/guardcm/guard/wranglercfg"
	"io"
	"slices"
	"strings"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/proc"
	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/policy"
)

// RefUpdate is one line git gives pre-push on stdin.
type RefUpdate struct {
	LocalRef, LocalSHA, RemoteRef, RemoteSHA string
}

const zeroSHA = "0000000000000000000000000000000000000000"

func isZero(sha string) bool { return strings.Trim(sha, "0") == "" }

// ParseRefUpdates parses pre-push's stdin: "<local ref> <local sha>
// <remote ref> <remote sha>" per line.
func ParseRefUpdates(in []byte) ([]RefUpdate, error) {
	var res []RefUpdate
	sc := bufio.NewScanner(bytes.NewReader(in))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 4 {
			return nil, fmt.Errorf("pre-push input line %d: want 4 fields, got %q", n, line)
		}
		res = append(res, RefUpdate{f[0], f[1], f[2], f[3]})
	}
	return res, sc.Err()
}

// PrePushOptions is what the pre-push hook is given.
type PrePushOptions struct {
	Remote string // the remote's name (or URL when pushing to a URL)
	Stdin  []byte
	Stdout io.Writer
	Stderr io.Writer
	// Extra range checks added by later features (migrations, records).
	Extra []RangeCheck
}

// RangeCheck is an additional whole-range rule; it returns findings.
type RangeCheck func(ctx context.Context, repo *gitx.Repo, cfg *config.Config, r Range, res *Result) ([]report.Finding, error)

// PrePush checks every ref update and then runs the configured commands.
func PrePush(ctx context.Context, repo *gitx.Repo, cfg *config.Config, o PrePushOptions) error {
	updates, err := ParseRefUpdates(o.Stdin)
	if err != nil {
		return fail.Usage(err)
	}
	var findings []report.Finding
	allEmergency, onlyRecords := true, true
	checked := 0
	for _, u := range updates {
		if isZero(u.LocalSHA) || strings.HasPrefix(u.RemoteRef, "refs/notes/") {
			continue // deletions and notes (deploy records) pass untouched
		}
		if !strings.HasPrefix(u.RemoteRef, "refs/heads/") && !strings.HasPrefix(u.RemoteRef, "refs/tags/") {
			continue
		}
		r, err := rangeFor(ctx, repo, cfg, o.Remote, u)
		if err != nil {
			return fail.External(err)
		}
		res, err := CheckRange(ctx, repo, cfg, r)
		if err != nil {
			return ClassifyError(err)
		}
		for _, extra := range o.Extra {
			fs, err := extra(ctx, repo, cfg, r, res)
			if err != nil {
				return ClassifyError(err)
			}
			findings = append(findings, fs...)
		}
		findings = append(findings, res.Findings...)
		if len(res.Commits) > 0 {
			checked += len(res.Commits)
			if !res.AllEmergency {
				allEmergency = false
			}
			for _, c := range res.Commits {
				if !c.IsMerge() && !slices.Contains(res.Records, c.Hash) {
					onlyRecords = false
				}
			}
		}
	}
	report.Write(o.Stderr, report.FormatText, findings)
	if report.HasErrors(findings) {
		return fail.AlreadyReported(fail.KindRefused, fmt.Sprintf("push refused: %d problem(s) found", countErrors(findings)))
	}
	if checked == 0 {
		return nil
	}
	if onlyRecords && len(cfg.PrePush.Commands) > 0 {
		fmt.Fprintln(o.Stderr, "guard: this push only adds or completes emergency-change records: the configured pre-push commands are not run")
		return nil
	}
	if allEmergency && cfg.EmergencySkips() && len(cfg.PrePush.Commands) > 0 {
		fmt.Fprintln(o.Stderr, "guard: emergency push: skipping the configured pre-push commands (document the change within 24 hours)")
		return nil
	}
	for i, c := range cfg.PrePush.Commands {
		fmt.Fprintf(o.Stderr, "guard: running %s\n", c)
		if err := proc.Shell(ctx, repo.Root, c, o.Stdout, o.Stderr); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ee *proc.ExitError
			if errors.As(err, &ee) && (ee.Code == 127 || ee.Code == 126) {
				// The shell could not find or run the program: the
				// configuration is wrong for this machine, not the code.
				return fail.Usage(fmt.Errorf("push refused: pre-push command %q could not run (exit %d: a program it names is missing or not executable here)", c, ee.Code),
					fmt.Sprintf("install it, or edit pre_push.commands[%d] in guard.toml; 'guard doctor' checks every configured command", i))
			}
			return fail.Refused(fmt.Errorf("push refused: pre-push command %q failed", c), "fix what it reports, or run it yourself: "+c)
		}
	}
	return nil
}

func countErrors(fs []report.Finding) int {
	n := 0
	for _, f := range fs {
		if f.Severity == report.SeverityError {
			n++
		}
	}
	return n
}

// ClassifyError keeps a located configuration error (an unparsable wrangler
// configuration in a commit) as a usage error and anything else external.
func ClassifyError(err error) error {
	if fail.KindOf(err) != fail.KindExternal {
		return err
	}
	var located *wranglercfg.Error
	if errors.As(err, &located) {
		return fail.Usage(err, "fix the wrangler configuration in that commit (git rebase -i), then push again")
	}
	return fail.External(err)
}

// rangeFor turns a ref update into the commits it brings: for an existing
// remote ref, those not reachable from it; for a new one, those not
// reachable from any of the remote's tracking refs.
func rangeFor(ctx context.Context, repo *gitx.Repo, cfg *config.Config, remote string, u RefUpdate) (Range, error) {
	r := Range{Head: u.LocalSHA, Push: true}
	if strings.HasPrefix(u.RemoteRef, "refs/heads/") {
		r.Branch = strings.TrimPrefix(u.RemoteRef, "refs/heads/")
	}
	known := false
	if !isZero(u.RemoteSHA) {
		if _, ok, err := repo.ResolveCommit(ctx, u.RemoteSHA); err != nil {
			return r, err
		} else {
			known = ok
		}
	}
	if known {
		r.Exclude = []string{u.RemoteSHA}
	} else {
		r.Exclude = []string{"--remotes=" + remote}
	}
	// The base of the whole-range rules is where the commits are headed:
	// the remote's main branch (what production is built from), else the
	// remote ref being updated.
	if hash, ok, err := repo.RefHash(ctx, "refs/remotes/"+remote+"/"+cfg.Branch); err != nil {
		return r, err
	} else if ok {
		r.Base = hash
	} else if known {
		r.Base = u.RemoteSHA
	}
	return r, nil
}

var _ = policy.TrailerKey
