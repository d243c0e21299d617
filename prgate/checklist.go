package prgate

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"unicode/utf8"
)

// Checklist is the self-review checklist a pull request must carry, as the
// repository defines it.
type Checklist struct {
	Source string // repository path of the file it was read from
	Items  []ChecklistItem
}

// ChecklistItem is one item of the checklist; Line is its line in Source.
type ChecklistItem struct {
	Text string
	Line int
}

// ParseChecklist reads the task-list items ("- [ ] text"; ticked items count
// too, a template may pre-tick nothing or everything) of content. With a
// heading, the items are those in that heading's section (the first heading
// whose text matches case-insensitively, any level), up to the next heading of
// the same or a higher level; when heading is "" or no heading matches, the
// whole file is the checklist, so a dedicated checklist file needs no heading.
// Items inside fenced code blocks and HTML comments are not items. An item's
// text includes its continuation lines. Duplicate items (same normalised
// text) are kept once.
//
// It fails, with path and line, when content is not UTF-8 or when the
// checklist has no items: a checklist that asks nothing is a configuration
// mistake, not a pass.
func ParseChecklist(path string, content []byte, heading string) (*Checklist, error) {
	if !utf8.Valid(content) {
		line := 1 + strings.Count(string(content[:firstInvalidUTF8(content)]), "\n")
		return nil, fmt.Errorf("%s:%d: checklist is not valid UTF-8", path, line)
	}
	lines := scanLines(content)
	start, end := 0, len(lines)
	where := ""
	if heading != "" {
		hs := headings(lines)
		want := normalize(heading)
		for k, h := range hs {
			if normalize(h.Text) == want {
				start, end = section(lines, hs, k)
				where = fmt.Sprintf(" under heading %q (line %d)", h.Text, lines[h.Index].Num)
				break
			}
		}
	}
	c := &Checklist{Source: path}
	seen := map[string]bool{}
	for _, t := range tasks(lines, start, end) {
		n := normalize(t.Text)
		if seen[n] {
			continue
		}
		seen[n] = true
		c.Items = append(c.Items, ChecklistItem{Text: t.Text, Line: t.Line})
	}
	if len(c.Items) == 0 {
		return nil, fmt.Errorf("%s: no checklist items (lines like \"- [ ] text\")%s", path, where)
	}
	return c, nil
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// LoadChecklist reads the first of cfg.ChecklistFiles that exists through
// read and parses it with cfg.ChecklistHeading. read is how the caller reaches
// the repository: os.ReadFile under the work tree, or better the file at the
// pull request's base commit, so that a pull request cannot weaken the
// checklist it is checked against. read must return an error satisfying
// errors.Is(err, fs.ErrNotExist) for a missing file. A file that exists but
// holds no checklist (a pull-request template without one) passes the turn to
// the next file; if no later file has one, its error is returned.
// LoadChecklist returns (nil, nil) when none of the files exists.
func LoadChecklist(read func(path string) ([]byte, error), cfg Config) (*Checklist, error) {
	cfg = cfg.withDefaults()
	var first error
	for _, p := range cfg.ChecklistFiles {
		data, err := read(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading checklist %s: %w", p, err)
		}
		c, err := ParseChecklist(p, data, cfg.ChecklistHeading)
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}
