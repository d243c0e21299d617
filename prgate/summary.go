package prgate

import (
	"fmt"
	"strings"

	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/policy"
)

// Summary renders the Markdown job summary for $GITHUB_STEP_SUMMARY: the pull
// request, its category (and what the title or labels declare), the commits'
// categories, base and head, and a table of the findings. Text that comes
// from the pull request (title, labels, messages quoting it) is escaped so it
// cannot break the table or inject HTML.
func Summary(in Input, findings []report.Finding) string {
	ev := in.Event
	if ev == nil {
		ev = &Event{}
	}
	var b strings.Builder
	title := "pull request"
	if ev.Number > 0 {
		title = fmt.Sprintf("pull request #%d", ev.Number)
	}
	if ev.Title != "" {
		title += ": " + cell(ev.Title)
	}
	fmt.Fprintf(&b, "## guard · %s\n\n", title)

	b.WriteString("| | |\n|---|---|\n")
	cat := "unknown"
	if in.Category != policy.Unknown {
		cat = in.Category.String()
	}
	fmt.Fprintf(&b, "| Category | **%s** |\n", cat)
	declared := "none"
	if ds, err := declarations(ev.Title, ev.Labels); err != nil {
		declared = "invalid: " + cell(err.Error())
	} else if len(ds) > 0 {
		var parts []string
		for _, d := range ds {
			parts = append(parts, fmt.Sprintf("%s (%s)", d.cat, cell(d.source)))
		}
		declared = strings.Join(parts, ", ")
	}
	fmt.Fprintf(&b, "| Declared | %s |\n", declared)
	commits := describeCounts(commitCounts(in), nil)
	if len(in.CommitCategories) == 0 {
		commits = "not counted"
	}
	if commits == "" {
		commits = "none"
	}
	fmt.Fprintf(&b, "| Commits | %s |\n", commits)
	fmt.Fprintf(&b, "| Base | %s |\n", refCell(ev.BaseRepo, ev.BaseRef, ev.BaseSHA, false))
	fmt.Fprintf(&b, "| Head | %s |\n", refCell(ev.HeadRepo, ev.HeadRef, ev.HeadSHA, ev.Fork))

	var errs, warns, notes int
	for _, f := range findings {
		switch f.Severity {
		case report.SeverityError:
			errs++
		case report.SeverityWarning:
			warns++
		default:
			notes++
		}
	}
	b.WriteString("\n### Findings\n\n")
	if len(findings) == 0 {
		b.WriteString("No findings: the pull request meets the change-management policy.\n")
		return b.String()
	}
	verdict := "the pull request meets the policy"
	if errs > 0 {
		verdict = "the pull request does not meet the policy yet"
	}
	fmt.Fprintf(&b, "%s, %s, %s: %s.\n\n", plural(errs, "error"), plural(warns, "warning"), plural(notes, "notice"), verdict)
	b.WriteString("| Severity | Rule | Where | Finding | Fix |\n|---|---|---|---|---|\n")
	for _, f := range findings {
		where := ""
		switch {
		case f.File != "" && f.Line > 0:
			where = fmt.Sprintf("`%s:%d`", code(f.File), f.Line)
		case f.File != "":
			where = fmt.Sprintf("`%s`", code(f.File))
		}
		if f.Commit != "" {
			if where != "" {
				where += " "
			}
			where += fmt.Sprintf("`%s`", code(f.Commit))
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s |\n", f.Severity, code(f.Rule), where, cell(f.Message), cell(f.Fix))
	}
	return b.String()
}

func refCell(repo, ref, sha string, fork bool) string {
	var parts []string
	if ref != "" {
		parts = append(parts, fmt.Sprintf("`%s`", code(ref)))
	}
	if sha != "" {
		short := sha
		if len(short) > 12 {
			short = short[:12]
		}
		parts = append(parts, fmt.Sprintf("at `%s`", code(short)))
	}
	if repo != "" {
		parts = append(parts, "in "+cell(repo))
	}
	if fork {
		parts = append(parts, "(fork)")
	}
	if len(parts) == 0 {
		return "unknown"
	}
	return strings.Join(parts, " ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// cell escapes text for a Markdown table cell: HTML is shown, not rendered;
// pipes do not split the cell; line breaks stay inside it.
var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func cell(s string) string {
	s = htmlEscaper.Replace(s)
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\n", "<br>")
}

// code prepares text for a single-backtick code span inside a table cell.
func code(s string) string {
	s = strings.ReplaceAll(s, "`", "'")
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}
