package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/guardcm/guard/evidence"
	"github.com/guardcm/guard/internal/cfapi"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/ledger"
)

// EvidenceCmd groups the policy's evidence collectors.
type EvidenceCmd struct {
	MergeActivity    EvidenceMergeActivityCmd    `cmd:"" name:"merge-activity" help:"Every change that reached the remote branch in the period: merges, squash merges and direct pushes, with categories, reviews and emergency records (daily; A.8.25, A.8.32)."`
	Deployments      EvidenceDeploymentsCmd      `cmd:"" help:"Every deployment and rollback of the worker in the period, from the Cloudflare API joined with guard's records (weekly; A.5.8, A.8.32)."`
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
	doc, err := evidence.MergeActivity(env.Ctx, evidence.MergeOptions{
		Repo: repo, Config: cfg, Period: period, Generator: generator(),
		Fetch: !c.NoFetch, FetchTimeout: cfg.Deploy.FetchTimeout.Duration,
	})
	if err != nil {
		return fail.OrExternal(err)
	}
	warnSources(env, doc)
	return emitEvidence(env, doc, "", c.Out)
}

// Run collects the deployments.
func (c *EvidenceDeploymentsCmd) Run(env *Env) error {
	period, err := evidencePeriod(c.Since, c.Until)
	if err != nil {
		return err
	}
	cf, err := env.Cloudflare(c.WorkerFlags)
	if err != nil {
		return err
	}
	t := cf.Target
	return collectDeployments(env, t.Worker, t.Env, t.Account, cf.API(), period, !c.NoFetch, c.Out)
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
