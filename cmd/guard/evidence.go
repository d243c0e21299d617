package main

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/guardcm/guard/deploy"
	"github.com/guardcm/guard/evidence"
	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/ledger"
	"github.com/guardcm/guard/workers"
)

// EvidenceCmd groups the policy's evidence collectors.
type EvidenceCmd struct {
	MergeActivity    EvidenceMergeActivityCmd    `cmd:"" name:"merge-activity" help:"Every change that reached the remote branch in the period: merges, squash merges and direct pushes, with categories, reviews and emergency records (daily; A.8.25, A.8.32)."`
	Deployments      EvidenceDeploymentsCmd      `cmd:"" help:"Every deployment and rollback of the worker in the period, from the Cloudflare API joined with guard's records (weekly; A.5.8, A.8.32). In a repository with several workers and without --worker or --config: one document for each worker, published with --out."`
	BranchProtection EvidenceBranchProtectionCmd `cmd:"" name:"branch-protection" help:"What guard enforces in this clone and, with GITHUB_TOKEN, GitHub's protection of the branch (daily; A.8.19, A.8.25, A.8.31)."`
	Verify           EvidenceVerifyCmd           `cmd:"" help:"Check an evidence store (a folder or r2://BUCKET/PREFIX) against its index: every document present, unchanged and indexed."`
}

// EvidenceMergeActivityCmd is guard evidence merge-activity.
type EvidenceMergeActivityCmd struct {
	Since   string `default:"24h" help:"Start of the period: a length counted back from its end (24h, 7d, 2w, 1d12h), a date or an RFC 3339 instant." placeholder:"WHEN"`
	Until   string `help:"End of the period: a date (2026-12-01: its midnight UTC) or an RFC 3339 instant, in the past. Default: now." placeholder:"WHEN"`
	Out     string `help:"Publish the document, its .sha256 and an index entry into this evidence store: a folder, or r2://BUCKET/PREFIX under a bucket lock. Nothing is ever overwritten; the same period again is a no-op. Default: print the document on stdout." placeholder:"DIR|r2://BUCKET/PREFIX"`
	NoFetch bool   `help:"Read the last fetched remote branch instead of fetching it first."`
}

// EvidenceDeploymentsCmd is guard evidence deployments.
type EvidenceDeploymentsCmd struct {
	Since string `default:"7d" help:"Start of the period: a length counted back from its end (24h, 7d, 2w), a date or an RFC 3339 instant." placeholder:"WHEN"`
	Until string `help:"End of the period: a date (2026-12-01: its midnight UTC) or an RFC 3339 instant, in the past. Default: now." placeholder:"WHEN"`
	Out   string `help:"Publish the document, its .sha256 and an index entry into this evidence store: a folder, or r2://BUCKET/PREFIX under a bucket lock. Nothing is ever overwritten; the same period again is a no-op. Default: print the document on stdout." placeholder:"DIR|r2://BUCKET/PREFIX"`
	WorkerFlags
	NoFetch bool `help:"Do not fetch the remote branch and the team's deploy records first."`
}

// EvidenceBranchProtectionCmd is guard evidence branch-protection.
type EvidenceBranchProtectionCmd struct {
	Out string `help:"Publish the document, its .sha256 and an index entry into this evidence store: a folder, or r2://BUCKET/PREFIX under a bucket lock. Nothing is ever overwritten; the same period again is a no-op. Default: print the document on stdout." placeholder:"DIR|r2://BUCKET/PREFIX"`
}

// EvidenceVerifyCmd is guard evidence verify.
type EvidenceVerifyCmd struct {
	Store string `arg:"" optional:"" help:"The evidence store: a folder or r2://BUCKET/PREFIX (default: [evidence] store in guard.toml)." placeholder:"DIR|r2://BUCKET/PREFIX"`
}

// evidenceNow is the collectors' clock: guardClock (GUARD_NOW when set,
// so tests and re-runs produce the same document, else the system clock).
func evidenceNow() (time.Time, error) {
	now, err := guardClock()
	if err != nil {
		return time.Time{}, err
	}
	return now().UTC(), nil
}

// evidencePeriod resolves --since and --until at the collectors' clock.
func evidencePeriod(since, until string) (evidence.Period, error) {
	now, err := evidenceNow()
	if err != nil {
		return evidence.Period{}, err
	}
	p, err := evidence.ParsePeriod(since, until, now)
	if err != nil {
		return evidence.Period{}, fail.Usage(err)
	}
	return p, nil
}

func generator() string { return "guard " + Version }

// emitEvidence prints or publishes a document and reports its findings on
// stderr. Findings are the evidence, not a failure of the collection: the
// exit status is 0 once the document is out.
func emitEvidence(env *Env, doc *evidence.Document, subject, out string) error {
	data, err := evidence.Encode(doc)
	if err != nil {
		return fail.External(err)
	}
	if out == "" {
		if _, err := env.Stdout.Write(data); err != nil {
			return fail.External(err)
		}
	} else {
		st, err := env.EvidenceStore(out)
		if err != nil {
			return err
		}
		if err := publishEvidence(env, st, evidence.FileName(doc, subject), data); err != nil {
			return err
		}
	}
	if err := report.Write(env.Stderr, report.FormatText, doc.Findings); err != nil {
		return fail.External(err)
	}
	fmt.Fprintf(env.Stderr, "guard: %s %s..%s: %s, %s\n", doc.Collector,
		doc.Period.From.Format(time.RFC3339), doc.Period.To.Format(time.RFC3339), countItems(doc), countFindings(doc.Findings))
	return nil
}

// publishEvidence publishes one document into a store and says what was
// written, or that the store already held it.
func publishEvidence(env *Env, st evidence.Store, name string, data []byte) error {
	if err := checkEvidenceLock(env, st); err != nil {
		return err
	}
	p, err := evidence.Publish(env.Ctx, st, name, data)
	if errors.Is(err, evidence.ErrDiffers) {
		return fail.Refused(err, "evidence is never rewritten: a period collected again with another result means its history changed; keep the published document and investigate ('guard evidence verify "+st.Location()+"')")
	}
	if err != nil {
		return storeError(err)
	}
	if p.Already {
		fmt.Fprintf(env.Stderr, "guard: %s already holds %s (index entry %d, sha256 %s): nothing written\n", st.Location(), p.Name, p.Seq, p.SHA256)
	} else {
		fmt.Fprintf(env.Stderr, "guard: wrote %s into %s: %s\n", p.Name, st.Location(), strings.Join(p.Wrote, ", "))
	}
	fmt.Fprintln(env.Stdout, storePath(st, p.Name))
	return nil
}

func countItems(doc *evidence.Document) string {
	switch items := doc.Items.(type) {
	case []evidence.Change:
		return plural(len(items), "change")
	case []evidence.Deployment:
		return plural(len(items), "deployment")
	}
	return "1 snapshot"
}

func countFindings(fs []report.Finding) string {
	errs := 0
	for _, f := range fs {
		if f.Severity == report.SeverityError {
			errs++
		}
	}
	s := plural(len(fs), "finding")
	if errs > 0 {
		s += " (" + plural(errs, "error") + ")"
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// Run collects the merge activity.
func (c *EvidenceMergeActivityCmd) Run(env *Env) error {
	repo, cfg, err := env.Workspace()
	if err != nil {
		return err
	}
	period, err := evidencePeriod(c.Since, c.Until)
	if err != nil {
		return err
	}
	clock, err := guardClock()
	if err != nil {
		return err
	}
	doc, err := evidence.MergeActivity(env.Ctx, evidence.MergeOptions{
		Repo: repo, Config: cfg, Period: period, Generator: generator(),
		Fetch: !c.NoFetch, FetchTimeout: cfg.Deploy.FetchTimeout.Duration, Now: clock,
	})
	if err != nil {
		return fail.OrExternal(err)
	}
	warnSources(env, doc)
	return emitEvidence(env, doc, "", c.Out)
}

// Run collects the deployments of the worker the flags choose or, in a
// repository with several workers and neither --worker nor --config, of
// every worker, one document each (collectEveryWorker): the weekly
// workflow runs this one command, so a worker added later is in the
// evidence without anyone listing it.
func (c *EvidenceDeploymentsCmd) Run(env *Env) error {
	period, err := evidencePeriod(c.Since, c.Until)
	if err != nil {
		return err
	}
	if c.Worker == "" && c.Config == "" {
		list, err := env.Workers()
		if err != nil {
			return err
		}
		if configs := deploymentConfigs(env, list); len(configs) > 1 {
			return c.collectEveryWorker(env, list, configs, period)
		}
	}
	cf, err := env.Cloudflare(c.WorkerFlags)
	if err != nil {
		return err
	}
	t := cf.Target
	return collectDeployments(env, t.Worker, t.Env, t.Account, cf.API(), period, !c.NoFetch, c.Out)
}

// deploymentConfigs are the wrangler configurations (relative to the root)
// whose deployments the evidence covers: every deployable worker of the
// list, and guard.toml's [deploy] config, the one guard deploy uses without
// flags, when the list does not have it (a file name guard does not find
// by itself).
func deploymentConfigs(env *Env, list *workers.List) []string {
	var out []string
	for _, w := range list.Deployable() {
		out = append(out, w.Config)
	}
	repo, cfg, err := env.Workspace()
	if err != nil || cfg.Deploy.Config == "" {
		return out
	}
	p := cfg.Deploy.Config
	if filepath.IsAbs(p) {
		rel, err := filepath.Rel(repo.Root, p)
		if err != nil || !filepath.IsLocal(rel) {
			return append(out, p) // outside the repository: resolved as guard deploy resolves it
		}
		p = rel
	}
	p = path.Clean(filepath.ToSlash(p))
	if _, ok := list.Find(p); !ok {
		out = append(out, p)
	}
	return out
}

// collectEveryWorker publishes a deployments document for the worker of
// each configuration (for --env, the Worker it deploys in that
// environment; a configuration without that environment is skipped, and
// said so), each named after its worker. One worker that fails does not
// stop the others; the command fails after them, naming it.
func (c *EvidenceDeploymentsCmd) collectEveryWorker(env *Env, list *workers.List, configs []string, period evidence.Period) error {
	repo, cfg, err := env.Workspace()
	if err != nil {
		return err
	}
	if c.Out == "" {
		return fail.Usage(fmt.Errorf("this repository has %d workers: their deployments are one document each, which only --out can hold", len(configs)),
			"publish them all with --out DIR|r2://BUCKET/PREFIX, or print one with --worker NAME: "+workerChoices(list))
	}
	token := os.Getenv(tokenEnv)
	if token == "" {
		return deploy.TokenMissing()
	}
	var done, failed []string
	var first error
	for _, config := range configs {
		if w, ok := list.Find(config); ok && !hasEnv(w, c.Env) {
			fmt.Fprintf(env.Stderr, "guard: %s has no env %s: no deployments document for it\n", config, c.Env)
			continue
		}
		abs := config
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(repo.Root, filepath.FromSlash(config))
		}
		name := config
		t, err := deploy.ResolveTarget(repo.Root, cfg, abs, c.Env, os.Getenv(accountEnv))
		if err == nil {
			name = t.Worker
			fmt.Fprintf(env.Stderr, "guard: worker %s (%s):\n", t.Worker, config)
			err = collectDeployments(env, t.Worker, t.Env, t.Account, cfapi.New(token, t.Account), period, !c.NoFetch, c.Out)
		}
		if env.Ctx.Err() != nil {
			return env.Ctx.Err()
		}
		if err != nil {
			fmt.Fprintf(env.Stderr, "guard: error: %s: %s\n", name, lowerFirst(err.Error()))
			for _, h := range fail.HintsOf(err) {
				fmt.Fprintf(env.Stderr, "guard: hint: %s\n", h)
			}
			failed = append(failed, name)
			if first == nil {
				first = err
			}
			continue
		}
		done = append(done, name)
	}
	if first != nil {
		return fail.AlreadyReported(fail.KindOf(first), fmt.Sprintf("deployments evidence published for %d of %d workers; failed: %s",
			len(done), len(done)+len(failed), strings.Join(failed, ", ")))
	}
	if len(done) == 0 {
		return fail.Usage(fmt.Errorf("no worker of this repository has env %s: no deployments evidence", c.Env),
			"drop --env, or pick a worker with --worker NAME: "+workerChoices(list))
	}
	fmt.Fprintf(env.Stderr, "guard: deployments evidence published for %s: %s\n", plural(len(done), "worker"), strings.Join(done, ", "))
	return nil
}

// hasEnv reports whether w declares environment name ("" is its top level).
func hasEnv(w *workers.Worker, name string) bool {
	for _, n := range w.Names {
		if n.Env == name {
			return true
		}
	}
	return false
}

// collectDeployments collects a worker's deployments document for period
// and prints or publishes it (emitEvidence).
func collectDeployments(env *Env, worker, wranglerEnv, account string, api *cfapi.Client, period evidence.Period, fetch bool, out string) error {
	repo, cfg, err := env.Workspace()
	if err != nil {
		return err
	}
	doc, err := evidence.Deployments(env.Ctx, evidence.DeploymentOptions{
		Repo: repo, Config: cfg, Period: period, Generator: generator(),
		Worker: worker, Env: wranglerEnv, Account: account,
		API:    api,
		Ledger: ledger.Open(ledger.DefaultPath(repo)),
		Fetch:  fetch, FetchTimeout: cfg.Deploy.FetchTimeout.Duration,
	})
	if err != nil {
		return fail.OrExternal(err, "check CLOUDFLARE_API_TOKEN and the network: the deployments evidence needs the Cloudflare API")
	}
	warnSources(env, doc)
	return emitEvidence(env, doc, worker, out)
}

// Run collects the branch protection.
func (c *EvidenceBranchProtectionCmd) Run(env *Env) error {
	repo, cfg, err := env.Workspace()
	if err != nil {
		return err
	}
	now, err := evidenceNow()
	if err != nil {
		return err
	}
	o := evidence.ProtectionOptions{Repo: repo, Config: cfg, Now: now, Generator: generator()}
	if token := os.Getenv("GITHUB_TOKEN"); token != "" {
		host, owner, name, err := githubRepository(env, cfg.Remote)
		if err != nil {
			return err
		}
		o.Host, o.Owner, o.Name = host, owner, name
		o.GitHub = &evidence.GitHub{BaseURL: githubAPIURL(host), Token: token}
	}
	doc, err := evidence.BranchProtection(env.Ctx, o)
	if err != nil {
		var ge *evidence.GitHubError
		if errors.As(err, &ge) && ge.Hint() != "" {
			return fail.External(err, ge.Hint())
		}
		return fail.External(err)
	}
	warnSources(env, doc)
	return emitEvidence(env, doc, "", c.Out)
}

// githubRepository names the repository on GitHub: GITHUB_REPOSITORY (set
// in GitHub Actions) or the remote's URL.
func githubRepository(env *Env, remote string) (host, owner, name string, err error) {
	if v := os.Getenv("GITHUB_REPOSITORY"); v != "" {
		owner, name, err := evidence.ParseRepository(v)
		if err != nil {
			return "", "", "", fail.Usage(err)
		}
		host := "github.com"
		if s := os.Getenv("GITHUB_SERVER_URL"); s != "" {
			if r, err := evidence.ParseRemoteURL(strings.TrimRight(s, "/") + "/x/y"); err == nil {
				host = r.Host
			}
		}
		return host, owner, name, nil
	}
	repo, err := env.Repo()
	if err != nil {
		return "", "", "", err
	}
	u, ok, err := repo.ConfigValue(env.Ctx, "remote."+remote+".url")
	if err != nil {
		return "", "", "", fail.External(err)
	}
	if !ok {
		return "", "", "", fail.Usage(fmt.Errorf("remote %q has no URL", remote), "set GITHUB_REPOSITORY=owner/repo, or add the remote")
	}
	r, err := evidence.ParseRemoteURL(u)
	if err != nil {
		return "", "", "", fail.Usage(err, "set GITHUB_REPOSITORY=owner/repo")
	}
	return r.Host, r.Owner, r.Name, nil
}

// githubAPIURL is GITHUB_API_URL, else the API of the repository's host:
// api.github.com for github.com, https://HOST/api/v3 for GitHub Enterprise
// Server.
func githubAPIURL(host string) string {
	if v := strings.TrimSpace(os.Getenv("GITHUB_API_URL")); v != "" {
		return v
	}
	if host == "" || host == "github.com" {
		return evidence.DefaultGitHubAPI
	}
	return "https://" + host + "/api/v3"
}

// warnSources prints what a collector could not read as warnings.
func warnSources(env *Env, doc *evidence.Document) {
	for _, s := range doc.Sources {
		if s.Warning {
			fmt.Fprintf(env.Stderr, "guard: warning: %s %s: %s\n", s.Kind, s.Name, s.Note)
		}
	}
}

// Run verifies a store against its index.
func (c *EvidenceVerifyCmd) Run(env *Env) error {
	location := c.Store
	if location == "" {
		_, cfg, err := env.Workspace()
		if err != nil {
			return err
		}
		if location = cfg.Evidence.Store; location == "" {
			return fail.Usage(errors.New("no evidence store given"), "name one (guard evidence verify DIR|r2://BUCKET/PREFIX) or set [evidence] store in guard.toml")
		}
	}
	st, err := env.EvidenceStore(location)
	if err != nil {
		return err
	}
	if d, ok := st.(evidence.DirStore); ok {
		if fi, err := os.Stat(d.Dir); err != nil || !fi.IsDir() {
			return fail.Usage(fmt.Errorf("%s is not an evidence folder", d.Dir))
		}
	}
	// What keeps the store from being rewritten is part of the answer.
	if err := checkEvidenceLock(env, st); err != nil {
		var fe *fail.Error
		if !errors.As(err, &fe) || fe.Kind != fail.KindRefused {
			return err
		}
		fmt.Fprintf(env.Stderr, "guard: warning: %v: its objects can be overwritten or deleted\n", fe.Err)
	}
	res, err := evidence.Verify(env.Ctx, st)
	if err != nil {
		return storeError(err)
	}
	for _, p := range res.Problems {
		fmt.Fprintf(env.Stderr, "guard: error: %s: %s\n", storePath(st, p.File), p.Message)
	}
	if len(res.Problems) > 0 {
		return fail.AlreadyReported(fail.KindRefused, fmt.Sprintf("%s in %s failed verification (%s verified)",
			plural(len(res.Problems), "problem"), st.Location(), plural(len(res.Verified), "document")))
	}
	if len(res.Verified) == 0 {
		return fail.Refused(fmt.Errorf("%s holds no indexed evidence document", st.Location()))
	}
	fmt.Fprintf(env.Stderr, "guard: %s in %s verified against its index (head: entry %d, sha256 %s)\n",
		plural(len(res.Verified), "document"), st.Location(), res.HeadSeq, res.HeadSHA256)
	return nil
}
