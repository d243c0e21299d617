// Package report is the one shape every guard check reports in, and the three
// ways it is printed: text for people, JSON for machines, and GitHub workflow
// commands for CI annotations.
//
// A check returns []Finding; it never prints. Commands pick the format with
// --format text|json|github. JSON goes to stdout and nothing else does, so it
// can be piped; text goes to stderr in guard's one voice ("guard: ...").
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Severity orders how much a finding matters. Only SeverityError refuses.
type Severity string

const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	// SeverityNotice is a finding that is on record but allowed, e.g. a
	// migration rule suppressed with "-- guard:allow <rule> <reason>".
	SeverityNotice Severity = "notice"
)

// ParseSeverity accepts the configuration spelling of a severity.
func ParseSeverity(s string) (Severity, error) {
	switch Severity(strings.ToLower(strings.TrimSpace(s))) {
	case SeverityError:
		return SeverityError, nil
	case SeverityWarning:
		return SeverityWarning, nil
	case SeverityNotice:
		return SeverityNotice, nil
	case "off":
		return "off", nil
	}
	return "", fmt.Errorf("unknown severity %q (want error, warning, notice or off)", s)
}

// Finding is one observation of a check. File is relative to the repository
// root with forward slashes; Line is 1-based, 0 when the finding is about a
// whole file or no file. Commit names the commit concerned (short sha) when
// the finding is about one.
type Finding struct {
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	File     string   `json:"file,omitempty"`
	Line     int      `json:"line,omitempty"`
	Commit   string   `json:"commit,omitempty"`
	Subject  string   `json:"subject,omitempty"`
	Message  string   `json:"message"`
	// Fix is the one-line remedy, printed as "guard: hint: ...".
	Fix string `json:"fix,omitempty"`
}

// HasErrors reports whether any finding refuses.
func HasErrors(fs []Finding) bool {
	for _, f := range fs {
		if f.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Sort orders findings by file, line, rule and message so output is stable.
func Sort(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Message < b.Message
	})
}

// Format names an output format.
type Format string

const (
	FormatText   Format = "text"
	FormatJSON   Format = "json"
	FormatGitHub Format = "github"
)

// Write prints findings in format f. Text and GitHub annotations go to w
// as given by the caller (stderr for text, stdout for github); JSON is the
// object {"findings":[...]} with an empty list rather than null.
func Write(w io.Writer, f Format, fs []Finding) error {
	switch f {
	case FormatJSON:
		if fs == nil {
			fs = []Finding{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Findings []Finding `json:"findings"`
		}{fs})
	case FormatGitHub:
		for _, x := range fs {
			if _, err := fmt.Fprintln(w, GitHubCommand(x)); err != nil {
				return err
			}
		}
		return nil
	default:
		for _, x := range fs {
			if _, err := io.WriteString(w, Text(x)); err != nil {
				return err
			}
		}
		return nil
	}
}

// Text renders one finding for people: a "guard: " line locating it, and a
// "guard: hint: " line with the fix.
func Text(f Finding) string {
	var b strings.Builder
	b.WriteString("guard: ")
	b.WriteString(string(f.Severity))
	b.WriteString(": ")
	if loc := location(f); loc != "" {
		b.WriteString(loc)
		b.WriteString(": ")
	}
	if f.Commit != "" {
		b.WriteString(f.Commit)
		if f.Subject != "" {
			fmt.Fprintf(&b, " %q", truncate(f.Subject, 72))
		}
		b.WriteString(": ")
	}
	b.WriteString(f.Message)
	fmt.Fprintf(&b, " [%s]\n", f.Rule)
	if f.Fix != "" {
		b.WriteString("guard: hint: ")
		b.WriteString(f.Fix)
		b.WriteString("\n")
	}
	return b.String()
}

func location(f Finding) string {
	switch {
	case f.File != "" && f.Line > 0:
		return fmt.Sprintf("%s:%d", f.File, f.Line)
	default:
		return f.File
	}
}

// GitHubCommand renders a finding as a GitHub Actions workflow command
// (::error file=...,line=...,title=...::message), escaped as the runner
// requires so a message can never inject a second command.
func GitHubCommand(f Finding) string {
	level := "error"
	switch f.Severity {
	case SeverityWarning:
		level = "warning"
	case SeverityNotice:
		level = "notice"
	}
	var props []string
	if f.File != "" {
		props = append(props, "file="+escapeProperty(f.File))
		if f.Line > 0 {
			props = append(props, fmt.Sprintf("line=%d", f.Line))
		}
	}
	props = append(props, "title="+escapeProperty("guard "+f.Rule))
	msg := f.Message
	if f.Commit != "" {
		msg = f.Commit + " " + f.Subject + ": " + msg
	}
	if f.Fix != "" {
		msg += "\nfix: " + f.Fix
	}
	return fmt.Sprintf("::%s %s::%s", level, strings.Join(props, ","), escapeData(msg))
}

func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// Voice prints guard's messages to a person in the one voice: "guard: ..."
// lines, warnings as "guard: warning: ...". Warnings, when set, also
// collects each warning printed, for a command's result.
type Voice struct {
	W        io.Writer
	Warnings *[]string
}

// Say prints one "guard: " line.
func (v Voice) Say(format string, a ...any) {
	fmt.Fprintf(v.W, "guard: "+format+"\n", a...)
}

// Warn prints one "guard: warning: " line and keeps the warning.
func (v Voice) Warn(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if v.Warnings != nil {
		*v.Warnings = append(*v.Warnings, msg)
	}
	fmt.Fprintf(v.W, "guard: warning: %s\n", msg)
}
