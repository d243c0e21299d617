package initrepo

import "strings"

// EvidenceWorkflowPath is the scheduled workflow that runs the evidence
// collectors on the policy's cadence.
const EvidenceWorkflowPath = ".github/workflows/guard-evidence.yml"

// The evidence workflow's schedules: daily (merge-activity and
// branch-protection) and weekly on Mondays (deployments), in UTC as GitHub
// runs them. Each run collects the period that ended at the last midnight
// UTC, so a run delayed by GitHub's scheduler by hours still names the
// same period.
const (
	DailyCron  = "17 1 * * *"
	WeeklyCron = "37 1 * * 1"
)

// EvidenceWorkflow is the scheduled GitHub Actions workflow that publishes
// the evidence into the store named by the repository variable
// GUARD_EVIDENCE_STORE (r2://BUCKET/PREFIX); the secrets and variables it
// reads are documented at its top. It is a file of its own, kept apart
// from Files' templates, and like them deterministic. It installs the
// guard opts pins, as the pull-request workflow does.
func EvidenceWorkflow(opts Options) File {
	b, _ := templateFS.ReadFile("templates/guard-evidence.yml.tmpl") // embedded; the tests read it
	b = []byte(strings.ReplaceAll(string(b), "@GUARD_INSTALL@", guardInstall(opts)))
	return File{Path: EvidenceWorkflowPath, Content: b, Mode: 0o644}
}
