package wrangler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
)

// MaxRollbackMessage is the longest rollback message Cloudflare keeps
// (wrangler's prompt says "120 characters max"; characters as JavaScript
// counts them, UTF-16 code units).
const MaxRollbackMessage = 120

// DeployArgs are the inputs of `wrangler deploy`.
type DeployArgs struct {
	Config  string // --config; empty lets wrangler find wrangler.toml/json(c)
	Env     string // --env; empty is the top-level environment
	Message string // --message: the version's and deployment's workers/message
	Tag     string // --tag: the version's workers/tag
	// OutDir and Metafile, when set, receive the bundle wrangler uploads
	// and esbuild's metadata of it (--outdir, --metafile).
	OutDir, Metafile string
	Extra            []string // more arguments, passed through after guard's
}

// DeployResult is what wrangler reports about a deploy.
type DeployResult struct {
	VersionID  string
	WorkerName string
	WorkerTag  string // empty on a worker's first deploy
	Targets    []string
}

// RollbackArgs are the inputs of `wrangler rollback`.
type RollbackArgs struct {
	Config    string
	Env       string
	VersionID string // required: guard never lets wrangler pick the target
	Message   string // truncated to MaxRollbackMessage
}

// D1Args are the inputs of `wrangler d1 migrations apply`.
type D1Args struct {
	Config   string
	Env      string
	Database string // binding or database_name in the wrangler configuration
	Remote   bool   // --remote (else --local)
}

// common returns the flags every command gets. --env is always passed, an
// empty value meaning the top-level environment, so that a CLOUDFLARE_ENV in
// the caller's environment cannot silently pick another worker.
func common(config, env string) []string {
	var out []string
	if config != "" {
		out = append(out, "--config="+config)
	}
	return append(out, "--env="+env)
}

var (
	versionIDRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?m)^\s*Current Version ID:\s*([0-9a-fA-F-]{36})\s*$`)
	})
	uploadedRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)^\s*Uploaded (\S+) \(`) })
)

// Deploy runs `wrangler deploy` and returns the version Cloudflare assigned.
func (r *Runner) Deploy(ctx context.Context, a DeployArgs) (*DeployResult, error) {
	return r.upload(ctx, "deploy", "deploy", versionIDRE(), a)
}

// Argv is the arguments of `wrangler deploy` for a (after the command that
// runs wrangler): what guard deploy --dry-run shows.
func (a DeployArgs) Argv() []string {
	return append([]string{"deploy"}, a.flags()...)
}

// flags are an upload's own flags, then the pass-through arguments.
func (a DeployArgs) flags() []string {
	args := common(a.Config, a.Env)
	if a.Message != "" {
		args = append(args, "--message="+a.Message)
	}
	if a.Tag != "" {
		args = append(args, "--tag="+a.Tag)
	}
	if a.OutDir != "" {
		args = append(args, "--outdir="+a.OutDir)
	}
	if a.Metafile != "" {
		args = append(args, "--metafile="+a.Metafile)
	}
	return append(args, a.Extra...)
}

// upload runs a command that uploads a version (`deploy`, `versions
// upload`) and returns the version from its output record of kind
// recordType, else from the line idLine matches.
func (r *Runner) upload(ctx context.Context, subcommand, recordType string, idLine *regexp.Regexp, a DeployArgs) (*DeployResult, error) {
	name := "wrangler " + subcommand
	res, err := r.run(ctx, name, append(strings.Fields(subcommand), a.flags()...)...)
	if err != nil {
		return nil, err
	}
	if d := deployRecord(res.records, recordType); d != nil {
		return d, nil
	}
	// No structured record (an older wrangler, or the file could not be
	// written): read the printed lines.
	m := idLine.FindStringSubmatch(res.stdout)
	if m == nil {
		return nil, &Error{Command: name, ExitCode: 0, Stderr: res.stderr,
			Message: fmt.Sprintf("wrangler reported success but no version ID (no %s record and no version ID line)", recordType)}
	}
	out := &DeployResult{VersionID: m[1]}
	if u := uploadedRE().FindStringSubmatch(res.stdout); u != nil {
		out.WorkerName = u[1]
	}
	return out, nil
}

// deployRecord returns the last output record of type recordType with a
// version ID.
func deployRecord(records []map[string]any, recordType string) *DeployResult {
	for i := len(records) - 1; i >= 0; i-- {
		rec := records[i]
		if rec["type"] != recordType {
			continue
		}
		id, _ := rec["version_id"].(string)
		if id == "" {
			continue
		}
		d := &DeployResult{VersionID: id}
		d.WorkerName, _ = rec["worker_name"].(string)
		d.WorkerTag, _ = rec["worker_tag"].(string)
		if ts, ok := rec["targets"].([]any); ok {
			for _, t := range ts {
				if s, ok := t.(string); ok {
					d.Targets = append(d.Targets, s)
				}
			}
		}
		return d
	}
	return nil
}

// TruncateMessage shortens msg to at most max UTF-16 code units without
// splitting a character.
func TruncateMessage(msg string, max int) string {
	n := 0
	for i, r := range msg {
		w := 1
		if utf16.RuneLen(r) == 2 {
			w = 2
		}
		if n+w > max {
			return msg[:i]
		}
		n += w
	}
	return msg
}

// Rollback runs `wrangler rollback <version> --message <m>` and returns the
// version wrangler reports as now serving.
func (r *Runner) Rollback(ctx context.Context, a RollbackArgs) (string, error) {
	if a.VersionID == "" {
		return "", errors.New("wrangler rollback: a version ID is required (without one wrangler picks the previous deployment, which may be the bad one)")
	}
	if strings.HasPrefix(a.VersionID, "-") {
		return "", fmt.Errorf("wrangler rollback: version ID %q looks like a flag", a.VersionID)
	}
	args := []string{"rollback", a.VersionID}
	args = append(args, common(a.Config, a.Env)...)
	msg := TruncateMessage(strings.TrimSpace(a.Message), MaxRollbackMessage)
	if msg != "" {
		args = append(args, "--message="+msg)
	}
	// --yes is ignored by wrangler 4.86 (the null stdin is what skips the
	// prompts) but says what is meant and helps if a later wrangler honours it.
	args = append(args, "--yes")
	res, err := r.run(ctx, "wrangler rollback", args...)
	if err != nil {
		return "", err
	}
	m := versionIDRE().FindStringSubmatch(res.stdout)
	if m == nil {
		return "", &Error{Command: "wrangler rollback", ExitCode: 0, Stderr: res.stderr,
			Message: "wrangler reported success but printed no \"Current Version ID:\" line"}
	}
	if !strings.EqualFold(m[1], a.VersionID) {
		return m[1], &Error{Command: "wrangler rollback", ExitCode: 0, Stderr: res.stderr,
			Message: fmt.Sprintf("wrangler reports version %s serving, not the requested %s", m[1], a.VersionID)}
	}
	return m[1], nil
}

// D1MigrationsApply runs `wrangler d1 migrations apply <db> --remote|--local`.
// wrangler applies pending files in order, each in its own transaction; on
// failure the files before the failing one stay applied.
func (r *Runner) D1MigrationsApply(ctx context.Context, a D1Args) error {
	if a.Database == "" {
		return errors.New("wrangler d1 migrations apply: a database binding or name is required")
	}
	if strings.HasPrefix(a.Database, "-") {
		return fmt.Errorf("wrangler d1 migrations apply: database %q looks like a flag", a.Database)
	}
	where := "--local"
	if a.Remote {
		where = "--remote"
	}
	args := append([]string{"d1", "migrations", "apply", a.Database, where}, common(a.Config, a.Env)...)
	_, err := r.run(ctx, "wrangler d1 migrations apply", args...)
	return err
}

// parseRecords reads WRANGLER_OUTPUT_FILE_PATH's JSON lines; a line that is
// not JSON (a crash mid-write) is skipped.
func parseRecords(data string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(data, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec != nil {
			out = append(out, rec)
		}
	}
	return out
}

var errorLineRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^✘ \[ERROR\] (.*)$`) })

// failureMessage is wrangler's own explanation of a failure: the
// "✘ [ERROR]" blocks of stderr in order (their indented lines carry the API's
// error, e.g. "... [code: 10013]"), plus any command-failed record they do not
// already contain (stderr may have been cut to its last 64 KiB).
func failureMessage(res *result) string {
	parts := errorBlocks(res.stderr)
	for _, rec := range res.records {
		if rec["type"] != "command-failed" {
			continue
		}
		m, _ := rec["message"].(string)
		if m == "" {
			continue
		}
		covered := false
		for _, p := range parts {
			if strings.Contains(p, m) {
				covered = true
				break
			}
		}
		if !covered {
			parts = append(parts, m)
		}
	}
	return strings.Join(parts, "; ")
}

// errorBlocks returns each "✘ [ERROR]" line of stderr joined with its
// indented continuation lines, skipping wrangler's "open an issue" advice.
func errorBlocks(stderr string) []string {
	var out []string
	lines := strings.Split(stderr, "\n")
	for i := 0; i < len(lines); i++ {
		m := errorLineRE().FindStringSubmatch(strings.TrimRight(lines[i], " \r"))
		if m == nil {
			continue
		}
		block := []string{strings.TrimSpace(m[1])}
		for j := i + 1; j < len(lines); j++ {
			l := strings.TrimRight(lines[j], " \r")
			if l == "" {
				if j+1 < len(lines) && strings.HasPrefix(lines[j+1], "  ") {
					continue
				}
				break
			}
			if !strings.HasPrefix(l, "  ") {
				break
			}
			t := strings.TrimSpace(l)
			if strings.HasPrefix(t, "If you think this is a bug") {
				continue
			}
			block = append(block, t)
			i = j
		}
		out = append(out, strings.Join(block, " "))
	}
	return out
}

var workerVersionIDRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?m)^\s*Worker Version ID:\s*([0-9a-fA-F-]{36})\s*$`)
})

// VersionsUpload runs `wrangler versions upload` with a deploy's arguments
// (Metafile must be empty: it cannot write one): a new version of the
// worker that serves no traffic until a deployment names it.
func (r *Runner) VersionsUpload(ctx context.Context, a DeployArgs) (*DeployResult, error) {
	if a.Metafile != "" {
		return nil, errors.New("wrangler versions upload cannot write an esbuild metafile (build with DryRunBundle first)")
	}
	return r.upload(ctx, "versions upload", "version-upload", workerVersionIDRE(), a)
}

// Share is one version's share of a deployment, in percent.
type Share struct {
	VersionID string
	Percent   float64
}

// VersionsDeployArgs are the inputs of `wrangler versions deploy`.
type VersionsDeployArgs struct {
	Config  string
	Env     string
	Shares  []Share // one or two versions whose percentages sum to 100
	Message string  // the deployment's workers/message
}

// VersionsDeploy runs `wrangler versions deploy <id>@<p>% ... --yes` and
// returns the ID of the deployment wrangler created (its version-deploy
// record; "" when wrangler wrote none, and the caller asks the API).
func (r *Runner) VersionsDeploy(ctx context.Context, a VersionsDeployArgs) (string, error) {
	const name = "wrangler versions deploy"
	if len(a.Shares) == 0 || len(a.Shares) > 2 {
		return "", fmt.Errorf("%s: one or two versions, not %d", name, len(a.Shares))
	}
	total := 0.0
	args := []string{"versions", "deploy"}
	for _, s := range a.Shares {
		if !versionIDShape().MatchString(s.VersionID) {
			return "", fmt.Errorf("%s: %q is not a version ID", name, s.VersionID)
		}
		if s.Percent < 0 || s.Percent > 100 {
			return "", fmt.Errorf("%s: percentage %g out of range", name, s.Percent)
		}
		total += s.Percent
		args = append(args, fmt.Sprintf("%s@%s%%", s.VersionID, strconv.FormatFloat(s.Percent, 'f', -1, 64)))
	}
	if math.Abs(total-100) > 1e-9 {
		return "", fmt.Errorf("%s: percentages sum to %g, not 100", name, total)
	}
	args = append(args, common(a.Config, a.Env)...)
	if msg := strings.TrimSpace(a.Message); msg != "" {
		args = append(args, "--message="+msg)
	}
	args = append(args, "--yes")
	res, err := r.run(ctx, name, args...)
	if err != nil {
		return "", err
	}
	for i := len(res.records) - 1; i >= 0; i-- {
		if rec := res.records[i]; rec["type"] == "version-deploy" {
			id, _ := rec["deployment_id"].(string)
			return id, nil
		}
	}
	return "", nil
}

// versionIDShape is a Cloudflare version ID (a UUID): anything else could be
// read by wrangler as a flag or a second spec.
var versionIDShape = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
})

// BundleArgs are the inputs of `wrangler deploy --dry-run`: the build alone.
type BundleArgs struct {
	Config, Env      string
	OutDir, Metafile string   // required: where the bundle and esbuild's metadata go
	Extra            []string // the deploy's pass-through arguments (they shape the build)
}

// DryRunBundle runs `wrangler deploy --dry-run --outdir --metafile`: the
// bundle a deploy would upload, built without any API call. A gradual
// deploy checks it before `versions upload` (which cannot write esbuild's
// metafile).
func (r *Runner) DryRunBundle(ctx context.Context, a BundleArgs) error {
	if a.OutDir == "" {
		return errors.New("wrangler deploy --dry-run: an output directory is required")
	}
	args := append([]string{"deploy", "--dry-run", "--outdir=" + a.OutDir}, common(a.Config, a.Env)...)
	if a.Metafile != "" {
		args = append(args, "--metafile="+a.Metafile)
	}
	args = append(args, a.Extra...)
	_, err := r.run(ctx, "wrangler deploy --dry-run", args...)
	return err
}
