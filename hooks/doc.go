// Package hooks is what guard's git hooks and `guard check` decide.
//
// commit-msg (CommitMsg): every commit carries a Change-Category trailer.
// When the message has none, the category is inferred from the staged change
// and appended in git's trailer format; when it has one that understates the
// change (standard < normal < major), the commit is refused, naming the
// paths or bindings that raised it.
//
// pre-push (PrePush) and CI (CheckRange): every pushed commit is re-checked
// from git objects — commits made with --no-verify included — then the
// range rules apply: protected branches take only emergency commits, a major
// change brings a threat-model update and a rollout plan, D1 migrations pass
// the migration checker, no emergency record is overdue; last, the
// configured commands run. All violations are reported in one run.
//
// The package reads git only through internal/gitx and reads file contents
// lazily, so a hook pays only for what the change touches.
package hooks
