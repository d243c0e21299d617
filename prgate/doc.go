// Package prgate is the pull-request gate of the change-management policy:
// what `guard check --pr` adds to the commit-range checks when CI runs for a
// pull request.
//
// The policy's process asks for a pull request "with description of the
// change and its motivation", a self-review against the code-review checklist
// for normal and major changes, a threat-model update and a rollout plan for
// major ones, and documentation within 24 hours for emergencies. Hooks can be
// skipped on a laptop; the pull request is where these hold for everyone.
//
// Contract:
//   - LoadEvent reads the event payload GitHub Actions writes at
//     $GITHUB_EVENT_PATH (pull_request or pull_request_target); no network,
//     no token. Malformed JSON is an error located as file:line:col.
//   - ParseChecklist and LoadChecklist read the repository's checklist.
//   - Check is pure: it takes an Input the caller gathered (the event, the
//     commits' categories, the checklist, the changed paths, the emergency
//     records) and returns report.Findings with stable rule ids
//     (pr-description, pr-checklist, pr-major-links, pr-category-mismatch,
//     pr-emergency-record), each with a Fix. Only errors refuse; the
//     emergency reminder is a notice.
//   - Summary renders the Markdown for $GITHUB_STEP_SUMMARY.
//
// Markdown is read closely enough to never be fooled by the common cases:
// ATX and setext headings, task-list items ("- [ ]", "- [x]", "- [X]"),
// fenced code blocks and HTML comments (which templates use for
// instructions) are recognised; nothing inside a fence or a comment counts.
package prgate
