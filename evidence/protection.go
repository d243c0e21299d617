package evidence

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/install"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/report"
)

// Protection is the branch-protection document's items: what guard
// enforces in this clone and what the hosting provider enforces.
type Protection struct {
	Remote string `json:"remote"`
	Branch string `json:"branch"`
	Local  Local  `json:"local"`
	// Provider is nil when the provider was not asked (no token).
	Provider *GitHubProtection `json:"provider"`
}

// Local is what guard enforces in this clone.
type Local struct {
	Hooks []Hook `json:"hooks"`
	// ProtectedBranches are the configured patterns; BranchProtected says
	// whether they cover Branch.
	ProtectedBranches []string `json:"protected_branches"`
	BranchProtected   bool     `json:"branch_protected"`
	// Config is where the effective configuration came from ("guard.toml"
	// or "defaults") and ConfigSHA256 the SHA-256 of its canonical JSON
	// (sorted keys, no white space), so two clones can be compared.
	Config       string `json:"config"`
	ConfigSHA256 string `json:"config_sha256"`
	// OverdueRecords is what a push does while an emergency record is
	// overdue ("refuse" or "warn").
	OverdueRecords string `json:"overdue_records"`
}

// Hook is one git hook guard manages.
type Hook struct {
	Hook string `json:"hook"`
	// Path is repository-relative when the hooks folder is inside the
	// repository.
	Path string `json:"path"`
	// State is "installed", "missing", "foreign", "edited", "not
	// executable" or "binary missing".
	State string `json:"state"`
	// Chained reports a preserved foreign hook that runs before guard's.
	Chained bool `json:"chained"`
}

// Hook states.
const (
	HookInstalled     = "installed"
	HookMissing       = "missing"
	HookForeign       = "foreign"
	HookEdited        = "edited"
	HookNotExecutable = "not executable"
	HookBinaryMissing = "binary missing"
)

// ProtectionOptions are the inputs of BranchProtection.
type ProtectionOptions struct {
	Repo   *gitx.Repo
	Config *config.Config
	Now    time.Time
	// Generator is "guard <version>".
	Generator string
	// GitHub is nil when no token is set; then the provider is not asked.
	GitHub *GitHub
	// Host, Owner and Name name the repository on GitHub (required with
	// GitHub).
	Host, Owner, Name string
}

// ConfigDigest is the hex SHA-256 of the configuration's canonical JSON.
func ConfigDigest(cfg *config.Config) (string, error) {
	b, err := Canonical(cfg)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// BranchProtection reports what guard enforces locally (its hooks, the
// protected branches, the configuration's digest) and, with a GitHub
// client, the branch's protection on GitHub, with findings for a branch
// without protection, without required reviews or checks, and for hooks
// that are not guard's working hooks. The document's period is the
// instant Now.
func BranchProtection(ctx context.Context, o ProtectionOptions) (*Document, error) {
	repo, cfg := o.Repo, o.Config
	now := o.Now.UTC().Truncate(time.Second)
	doc := newDocument(CollectorBranchProtection, Period{From: now, To: now}, o.Generator)

	digest, err := ConfigDigest(cfg)
	if err != nil {
		return nil, err
	}
	cfgName := cfg.Source
	if cfgName == "" {
		cfgName = "defaults"
	}
	p := &Protection{
		Remote: cfg.Remote,
		Branch: cfg.Branch,
		Local: Local{
			Hooks:             []Hook{},
			ProtectedBranches: append([]string{}, cfg.Protected...),
			BranchProtected:   cfg.IsProtected(cfg.Branch),
			Config:            cfgName,
			ConfigSHA256:      digest,
			OverdueRecords:    cfg.PrePush.OverdueRecords,
		},
	}
	doc.Sources = append(doc.Sources, Source{Kind: "config", Name: cfgName, Revision: "sha256:" + digest})

	states, err := install.Inspect(ctx, repo, nil)
	if err != nil {
		return nil, err
	}
	hooksDir := repo.HooksDir
	var bad []string
	for _, st := range states {
		h := Hook{Hook: st.Hook, Path: relToRoot(repo.Root, st.Path), State: hookState(st), Chained: st.Previous != ""}
		if h.State != HookInstalled {
			bad = append(bad, h.Hook+" "+h.State)
		}
		p.Local.Hooks = append(p.Local.Hooks, h)
	}
	doc.Sources = append(doc.Sources, Source{Kind: "hooks", Name: relToRoot(repo.Root, hooksDir)})
	if len(bad) > 0 {
		doc.Findings = append(doc.Findings, report.Finding{Rule: RuleHooksNotInstalled, Severity: report.SeverityWarning,
			Message: fmt.Sprintf("guard's hooks do not work in this clone (%s): commits and pushes here are not checked", strings.Join(bad, ", ")),
			Fix:     "run 'guard install'"})
	}
	if !p.Local.BranchProtected {
		doc.Findings = append(doc.Findings, report.Finding{Rule: RuleBranchNotProtected, Severity: report.SeverityWarning,
			Message: fmt.Sprintf("guard.toml's protected branches (%s) do not cover %q: guard's pre-push lets direct pushes to it through", strings.Join(cfg.Protected, ", "), cfg.Branch),
			Fix:     fmt.Sprintf("add %q to protected in guard.toml", cfg.Branch)})
	}

	if o.GitHub == nil {
		doc.Sources = append(doc.Sources, Source{Kind: "github-api", Name: "branch protection", Note: "not asked: GITHUB_TOKEN is not set"})
		doc.Findings = append(doc.Findings, report.Finding{Rule: RuleProviderNotChecked, Severity: report.SeverityNotice,
			Message: "the hosting provider's branch protection was not checked: GITHUB_TOKEN is not set",
			Fix:     "export GITHUB_TOKEN (a token that can read the repository's administration settings) to include it"})
		doc.Items = p
		return doc, nil
	}
	gp, srcs, err := o.GitHub.BranchProtection(ctx, o.Host, o.Owner, o.Name, cfg.Branch)
	if err != nil {
		return nil, err
	}
	doc.Sources = append(doc.Sources, srcs...)
	p.Provider = gp
	doc.Findings = append(doc.Findings, providerFindings(gp)...)
	doc.Items = p
	return doc, nil
}

func providerFindings(gp *GitHubProtection) []report.Finding {
	where := fmt.Sprintf("%s branch %q", gp.Repository, gp.Branch)
	if !gp.Protected {
		return []report.Finding{{Rule: RuleNoBranchProtection, Severity: report.SeverityError,
			Message: fmt.Sprintf("%s has no branch protection on GitHub: anyone with write access can push to it without a review", where),
			Fix:     "protect the branch (Settings > Branches or a ruleset): require a pull request with at least one approving review and the CI checks"}}
	}
	var fs []report.Finding
	if gp.RequiredApprovals < 1 {
		fs = append(fs, report.Finding{Rule: RuleNoRequiredReviews, Severity: report.SeverityError,
			Message: fmt.Sprintf("%s is protected but merges need no approving review; the policy requires at least one", where),
			Fix:     "require a pull request with at least 1 approving review in the branch protection or ruleset"})
	}
	if len(gp.RequiredStatusChecks) == 0 {
		fs = append(fs, report.Finding{Rule: RuleNoRequiredChecks, Severity: report.SeverityWarning,
			Message: fmt.Sprintf("%s requires no status checks; the policy requires CI to pass before merging", where),
			Fix:     "require the CI job (and guard check) as status checks"})
	}
	if c := gp.Classic; c != nil {
		if !c.EnforceAdmins {
			fs = append(fs, report.Finding{Rule: RuleAdminsBypass, Severity: report.SeverityWarning,
				Message: fmt.Sprintf("%s: administrators are exempt from the branch protection", where),
				Fix:     "enable \"Do not allow bypassing the above settings\" (enforce_admins)"})
		}
		if c.AllowForcePushes {
			fs = append(fs, report.Finding{Rule: RuleForcePushAllowed, Severity: report.SeverityWarning,
				Message: fmt.Sprintf("%s allows force pushes: history that reached it can be rewritten", where),
				Fix:     "disable force pushes in the branch protection"})
		}
	}
	return fs
}

// hookState names a hook's state in the document.
func hookState(st install.HookState) string {
	switch {
	case !st.Present:
		return HookMissing
	case !st.Guard:
		return HookForeign
	case st.Edited:
		return HookEdited
	case !st.Executable:
		return HookNotExecutable
	case !st.BinaryOK:
		return HookBinaryMissing
	}
	return HookInstalled
}

func relToRoot(root, p string) string {
	if rel, err := filepath.Rel(root, p); err == nil && filepath.IsLocal(rel) {
		return filepath.ToSlash(rel)
	}
	return filepath.ToSlash(p)
}
