// Package initrepo writes the files a repository needs to adopt the
// change-management policy with guard (`guard init`): guard.toml with the
// policy's commands, a pull-request template with the motivation section and
// the self-review checklist, threat-model and rollout-plan placeholders, and a
// GitHub Actions workflow that runs `guard check --format github`.
//
// Contract: Files is pure and deterministic (same Options, same bytes). Write
// never overwrites or truncates anything: each file is created with O_EXCL,
// and a path that already exists (a file, a directory, a symbolic link, even
// a dangling one) is reported as skipped and left exactly as it was.
package initrepo

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
)

// File is one file guard init writes. Path is relative to the repository
// root, with forward slashes.
type File struct {
	Path    string
	Content []byte
	Mode    os.FileMode
}

// Options shape the generated files.
type Options struct {
	// ProjectName names the repository in headings and comments; "" reads
	// "this repository".
	ProjectName string
	// Commands are the policy's test step, run before every push.
	// nil: {"bun run typecheck:all", "bun run test:all"}; an empty non-nil
	// slice: none.
	Commands []string
	// Verify are the commands run after a deploy.
	// nil: {"bun run compliance:dev"}; an empty non-nil slice: none.
	Verify []string
	// GuardVersion is a published guard version (v1.2.3) the CI workflow
	// installs with go install ...@version; else GuardRef, a commit or tag
	// of GuardRepo (default DefaultGuardRepo) the workflow checks out and
	// builds. Either way CI runs a pinned guard; with neither, the workflow
	// names a placeholder ref that fails until it is set.
	GuardVersion, GuardRef, GuardRepo string
	// CommandNotes and VerifyNotes are written as comments inside the
	// lists: commands that would apply but cannot run here, each with its
	// reason (Project.Commands).
	CommandNotes, VerifyNotes []string
}

// Result lists the paths Write created and those it left alone because they
// already existed, in the order of the files given.
type Result struct {
	Written, Skipped []string
}

// The paths of the generated files.
const (
	ConfigPath      = "guard.toml"
	TemplatePath    = ".github/pull_request_template.md"
	ThreatModelPath = "docs/threat-model.md"
	RolloutsPath    = "docs/rollouts/README.md"
	WorkflowPath    = ".github/workflows/guard.yml"
)

// DefaultCommands and DefaultVerify are the policy's commands ("Test — CI:
// bun run typecheck:all && bun run test:all"; "Verify — bun run
// compliance:dev").
var (
	DefaultCommands = []string{"bun run typecheck:all", "bun run test:all"}
	DefaultVerify   = []string{"bun run compliance:dev"}
)

// The templates are plain files with @NAME@ placeholders, replaced
// literally: no template language, so nothing can fail at run time.
//
//go:embed templates/*.tmpl
var templateFS embed.FS

// ChecklistHeading is the heading of the checklist section in the template,
// the one the pull-request gate reads by default.
const ChecklistHeading = "Self-review checklist"

// GoVersion is the Go release guard's go.mod requires (TestGoVersionMatchesGoMod).
const GoVersion = "1.26.8"

// DefaultGuardRepo is where the generated workflow fetches guard's source.
const DefaultGuardRepo = "guardcm/guard"

// UnpinnedRef is the ref the workflow names when guard init knows no
// commit to pin: actions/checkout fails on it, loudly, until it is set.
const UnpinnedRef = "SET-A-GUARD-COMMIT"

// guardInstall renders the workflow steps that install a pinned guard.
func guardInstall(opts Options) string {
	if opts.GuardVersion != "" {
		return `      - uses: actions/setup-go@v6
        with:
          go-version: "` + GoVersion + `" # guard's go.mod
          cache: false
      - name: Install guard ` + opts.GuardVersion + ` (pinned)
        run: go install github.com/guardcm/guard/cmd/guard@` + opts.GuardVersion
	}
	repo, ref := opts.GuardRepo, opts.GuardRef
	if repo == "" {
		repo = DefaultGuardRepo
	}
	note := "the guard commit guard init ran from; change it to upgrade"
	if ref == "" {
		ref, note = UnpinnedRef, "set the guard commit or tag to build (guard init --guard-ref); never a branch"
	}
	return `      # guard is built from its source at a pinned commit (README: Installing).
      - name: Check out guard (pinned)
        uses: actions/checkout@v6
        with:
          repository: ` + repo + ` # where your team gets guard from
          ref: ` + ref + ` # ` + note + `
          path: .guard-src
      - uses: actions/setup-go@v6
        with:
          go-version-file: .guard-src/go.mod
          cache: false
      - name: Install guard
        working-directory: .guard-src
        run: go install ./cmd/guard`
}

// Checklist returns the self-review checklist items of the pull-request
// template: the Secure Development Policy's code-review points, with the
// test item naming the project's commands.
func Checklist(opts Options) []string {
	tests := "the project's checks pass"
	if cmds := orDefault(opts.Commands, DefaultCommands); len(cmds) > 0 {
		spans := make([]string, len(cmds))
		for i, c := range cmds {
			spans[i] = codeSpan(c)
		}
		verb := "pass"
		if len(spans) == 1 {
			verb = "passes"
		}
		tests = joinAnd(spans) + " " + verb
	}
	return []string{
		"Input validation: every new input (request body, query, headers, queue message, webhook) is validated for type, size and format before use, and D1 queries bind parameters instead of building SQL strings",
		"Authorization: every new route, action or binding checks who is calling and what they may do; nothing became public by accident",
		"Secrets: no secret, token or key is in code, configuration, logs or tests; new secrets are set with `wrangler secret put`",
		"Error handling: failures are handled, and responses do not leak stack traces, SQL or internal details",
		"Logging: security-relevant events are logged, and logs hold no secrets or personal data",
		"Dependencies: each new or updated dependency is needed, maintained and free of known vulnerabilities, and the lockfile is committed",
		"Tests: the change is covered by tests, and " + tests,
		"Rollback and migrations: the change can be rolled back with `guard rollback`; D1 migrations are additive (no dropped or renamed columns) and the previous code still works against the new schema",
	}
}

// Files returns the files guard init writes, in a fixed order.
func Files(opts Options) []File {
	items := Checklist(opts)
	for i, it := range items {
		items[i] = "- [ ] " + it
	}
	r := strings.NewReplacer(
		"@PROJECT@", projectName(opts.ProjectName),
		"@COMMANDS@", tomlList(orDefault(opts.Commands, DefaultCommands), opts.CommandNotes),
		"@VERIFY@", tomlList(orDefault(opts.Verify, DefaultVerify), opts.VerifyNotes),
		"@CHECKLIST@", strings.Join(items, "\n"),
		"@GUARD_INSTALL@", guardInstall(opts),
	)
	render := func(name string) []byte {
		// Embedded at build time; the tests read every one.
		b, _ := templateFS.ReadFile("templates/" + name)
		return []byte(r.Replace(string(b)))
	}
	return []File{
		{Path: ConfigPath, Content: render("guard.toml.tmpl"), Mode: 0o644},
		{Path: TemplatePath, Content: render("pull_request_template.md.tmpl"), Mode: 0o644},
		{Path: ThreatModelPath, Content: render("threat-model.md.tmpl"), Mode: 0o644},
		{Path: RolloutsPath, Content: render("rollouts-README.md.tmpl"), Mode: 0o644},
		{Path: WorkflowPath, Content: render("guard.yml.tmpl"), Mode: 0o644},
		EvidenceWorkflow(opts),
	}
}

// Write creates each file under root, with its directories, and never
// overwrites: an existing path is Skipped and left untouched. A path that is
// absolute or climbs out of root is an error. On an error, Result holds what
// was done before it; a file whose write failed is removed, not left
// truncated.
func Write(root string, files []File) (Result, error) {
	var res Result
	for _, f := range files {
		rel := filepath.FromSlash(f.Path)
		if f.Path == "" || !filepath.IsLocal(rel) {
			return res, fmt.Errorf("initrepo: %q is not a relative path inside the repository", f.Path)
		}
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return res, fmt.Errorf("creating the folder of %s: %w", f.Path, err)
		}
		mode := f.Mode.Perm()
		if mode == 0 {
			mode = 0o644
		}
		// O_EXCL: the create fails if anything is at p, including a
		// symbolic link, so an existing file is never followed or truncated.
		fh, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if errors.Is(err, fs.ErrExist) {
			res.Skipped = append(res.Skipped, f.Path)
			continue
		}
		if err != nil {
			return res, fmt.Errorf("creating %s: %w", f.Path, err)
		}
		_, err = fh.Write(f.Content)
		if err == nil {
			err = fh.Sync()
		}
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(p)
			return res, fmt.Errorf("writing %s: %w", f.Path, err)
		}
		res.Written = append(res.Written, f.Path)
	}
	return res, nil
}

func orDefault(v, def []string) []string {
	if v == nil {
		return def
	}
	return v
}

// projectName makes a name safe on one line of TOML comment, Markdown heading
// and HTML comment: control characters and line breaks become spaces, and
// "--" (which would end an HTML comment early) and angle brackets are removed.
func projectName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			return ' '
		case r == '<' || r == '>' || r == unicode.ReplacementChar:
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "this repository"
	}
	return s
}

// tomlArray renders strings as a one-line TOML array of basic strings.
func tomlArray(ss []string) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = tomlString(s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// tomlList renders a TOML array of strings, one line when there are no
// notes, else one element a line with each note as a commented-out line.
func tomlList(ss, notes []string) string {
	if len(notes) == 0 {
		return tomlArray(ss)
	}
	var b strings.Builder
	b.WriteString("[\n")
	for _, s := range ss {
		b.WriteString("  " + tomlString(s) + ",\n")
	}
	for _, n := range notes {
		b.WriteString("  # " + strings.Join(strings.Fields(n), " ") + "\n")
	}
	b.WriteString("]")
	return b.String()
}

// tomlString quotes s as a TOML basic string. TOML documents are UTF-8, so
// invalid bytes become U+FFFD; control characters are escaped.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// codeSpan renders s as Markdown inline code on one line, with a backtick
// fence longer than any run of backticks inside.
func codeSpan(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if longest > 0 || strings.HasPrefix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

func joinAnd(ss []string) string {
	switch len(ss) {
	case 0:
		return ""
	case 1:
		return ss[0]
	}
	return strings.Join(ss[:len(ss)-1], ", ") + " and " + ss[len(ss)-1]
}
