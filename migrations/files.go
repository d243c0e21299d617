package migrations

import (
	"bytes"
	"fmt"
	"github.com/guardcm/guard/internal/sqlsplit"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/guardcm/guard/internal/report"
)

// migFile is one .sql file of the folder at the head revision.
type migFile struct {
	path      string // as given in Input (relative to the repository root)
	name      string // base name
	content   []byte
	number    int  // numeric prefix; -1 when the name has none
	digits    int  // length of the numeric prefix (0: no number at all)
	wellNamed bool // NNNN_name.sql with the configured digit count
	changed   bool // new or edited against base: content rules apply
	edited    bool // exists on base with other content
	// added: new against a base, so applied in the same deploy as the
	// other added files (tables it creates are empty until then).
	added bool
	// commentOnly: edited, but the SQL tokens are the same as on base
	// (only comments or whitespace changed), so nothing runs differently.
	commentOnly bool
}

// parseName splits a migration file name into its numeric prefix. number is
// -1 when the name does not start with a digit (digits is then 0) or when
// the digits do not fit a number (digits > 0): such a file is misnamed and
// takes no part in the numbering rules.
func parseName(name string) (number, digits int, rest string) {
	stem := strings.TrimSuffix(name, ".sql")
	i := 0
	for i < len(stem) && stem[i] >= '0' && stem[i] <= '9' {
		i++
	}
	if i == 0 {
		return -1, 0, stem
	}
	n, err := strconv.Atoi(stem[:i])
	if err != nil || n > 1e15 {
		return -1, i, stem[i:]
	}
	return n, i, stem[i:]
}

// isSQL reports whether wrangler would treat the file as a migration: it
// reads every file of the folder whose name ends in ".sql".
func isSQL(p string) bool { return strings.HasSuffix(path.Base(p), ".sql") }

// inDir keeps files directly in the migrations folder: wrangler does not
// descend into sub-folders such as drizzle's meta/.
func inDir(dir, p string) bool {
	if dir == "" {
		return true
	}
	return path.Dir(p) == path.Clean(dir)
}

// minInferDigits is how many numbered files must share a digit count
// before it counts as the folder's own: one odd 000_setup.sql ahead of
// wrangler's 0001_... files is not a convention.
const minInferDigits = 3

// folderDigits is the digit count every numbered .sql file of the folder
// shares, when at least minInferDigits do: the base's files when there are
// any (what is applied decides), else the head's. 0 when they disagree or
// too few are numbered.
func folderDigits(in Input) int {
	digits, count := sharedDigits(in.Dir, in.Base)
	if !in.HasBase || count == 0 {
		digits, count = sharedDigits(in.Dir, in.Head)
	}
	if count < minInferDigits {
		return 0
	}
	return digits
}

// sharedDigits is the digit count of the numbered .sql files of dir among
// files (0 when they disagree) and how many there are.
func sharedDigits(dir string, files []File) (digits, count int) {
	for _, f := range files {
		if !isSQL(f.Path) || !inDir(dir, f.Path) {
			continue
		}
		n, d, _ := parseName(path.Base(f.Path))
		if n < 0 {
			continue
		}
		switch {
		case count == 0:
			digits = d
		case d != digits:
			digits = 0 // and stays 0: no d is 0
		}
		count++
	}
	return digits, count
}

// collect builds the head file list in the order wrangler applies it:
// by numeric prefix, then by name; files without a number come last.
func collect(in Input, digits int) []*migFile {
	base := map[string][]byte{}
	for _, f := range in.Base {
		if isSQL(f.Path) && inDir(in.Dir, f.Path) {
			base[f.Path] = f.Content
		}
	}
	var out []*migFile
	for _, f := range in.Head {
		if !isSQL(f.Path) || !inDir(in.Dir, f.Path) {
			continue
		}
		m := &migFile{path: f.Path, name: path.Base(f.Path), content: f.Content}
		var rest string
		m.number, m.digits, rest = parseName(m.name)
		// wrangler applies NNNN.sql as well as NNNN_name.sql.
		m.wellNamed = m.number >= 0 && m.digits == digits && (rest == "" || len(rest) > 1 && rest[0] == '_')
		old, onBase := base[f.Path]
		switch {
		case !in.HasBase || !onBase:
			m.changed, m.added = true, in.HasBase
		case !bytes.Equal(old, f.Content) && sameSQL(string(old), string(f.Content)):
			m.edited, m.commentOnly = true, true
		case !bytes.Equal(old, f.Content):
			m.changed, m.edited = true, true
		}
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.number < 0) != (b.number < 0) {
			return a.number >= 0
		}
		if a.number != b.number {
			return a.number < b.number
		}
		return a.name < b.name
	})
	return out
}

func (o *Options) format(n int) string {
	return fmt.Sprintf("%0*d", o.digits(), n)
}

// fileRules reports naming, stray-file, duplicate-number, gap, out-of-order,
// edited and removed. Only files new or changed against base are reported
// (a problem already on base was reported when it landed and cannot be
// fixed without editing history); removed is about base files by nature.
func fileRules(in Input, files []*migFile, opts *Options) []report.Finding {
	var fs []report.Finding
	add := func(rule, file string, line int, msg, fix string) {
		fs = append(fs, report.Finding{Rule: rule, File: file, Line: line, Message: msg, Fix: fix})
	}
	digits := opts.digits()
	maxHead := -1
	byNumber := map[int][]*migFile{}
	for _, f := range files {
		if f.number >= 0 {
			byNumber[f.number] = append(byNumber[f.number], f)
			if f.number > maxHead {
				maxHead = f.number
			}
		}
	}
	next := opts.format(maxHead + 1)

	for _, f := range files {
		if !f.changed {
			continue
		}
		switch {
		case f.digits == 0:
			add(RuleStrayFile, f.path, 0,
				fmt.Sprintf("%s is not a numbered migration, but wrangler applies every .sql file in the folder (after the numbered ones)", f.name),
				"move it out of the migrations folder, or make it the next migration "+next+"_<name>.sql")
		case !f.wellNamed:
			_, d, rest := parseName(f.name)
			named := len(rest) > 1 && rest[0] == '_'
			var why string
			switch {
			case f.number < 0:
				why = "the number is too large"
			case d != digits && !named:
				why = fmt.Sprintf("has a %d-digit number, want %d digits, and no _<name> after it", d, digits)
			case d != digits:
				why = fmt.Sprintf("has a %d-digit number, want %d digits", d, digits)
			default:
				why = "the number must be followed by _<name> (or by .sql alone)"
			}
			to := next
			if f.number >= 0 {
				to = opts.format(f.number)
			}
			add(RuleNaming, f.path, 0,
				fmt.Sprintf("%s is not named NNNN_name.sql: %s", f.name, why),
				"rename it to "+to+"_<name>.sql")
		}
		if same := byNumber[f.number]; f.number >= 0 && len(same) > 1 {
			var others []string
			for _, o := range same {
				if o != f {
					others = append(others, o.name)
				}
			}
			add(RuleDuplicateNumber, f.path, 0,
				fmt.Sprintf("number %s is also used by %s; wrangler applies both, in name order", opts.format(f.number), strings.Join(others, ", ")),
				"renumber "+f.name+" to "+next)
		}
	}

	// gap: numbers must follow each other. The first file may be 0 or 1
	// (wrangler itself starts at 0001; drizzle starts at 0000).
	var nums []int
	for n := range byNumber {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	for i, n := range nums {
		prev := 0
		if i > 0 {
			prev = nums[i-1]
		}
		if n <= prev+1 {
			continue
		}
		what := fmt.Sprintf("numbers %s to %s are missing", opts.format(prev+1), opts.format(n-1))
		if n-1 == prev+1 {
			what = fmt.Sprintf("number %s is missing", opts.format(prev+1))
		}
		if i == 0 {
			what = fmt.Sprintf("numbering starts at %s (%s)", opts.format(n), what)
		}
		for _, f := range byNumber[n] {
			if f.changed {
				add(RuleGap, f.path, 0, what+" before "+f.name,
					fmt.Sprintf("renumber it to %s", opts.format(prev+1)))
			}
		}
	}

	if !in.HasBase {
		return fs
	}
	headByPath := map[string]*migFile{}
	headByContent := map[string]*migFile{}
	for _, f := range files {
		headByPath[f.path] = f
		if !f.edited && f.changed {
			headByContent[string(f.content)] = f
		}
	}
	maxBase := -1
	var maxBaseName string
	for _, b := range in.Base {
		if !isSQL(b.Path) || !inDir(in.Dir, b.Path) {
			continue
		}
		if n, _, _ := parseName(path.Base(b.Path)); n > maxBase {
			maxBase, maxBaseName = n, path.Base(b.Path)
		}
		h, ok := headByPath[b.Path]
		if !ok {
			msg := fmt.Sprintf("%s is on base but was deleted; wrangler keeps it as applied where it ran and the schema it built stays", path.Base(b.Path))
			if r, ok := headByContent[string(b.Content)]; ok {
				msg = fmt.Sprintf("%s is on base but was renamed to %s; wrangler tracks migrations by name, so it would run again", path.Base(b.Path), r.name)
			}
			add(RuleRemoved, b.Path, 0, msg, "restore "+b.Path+" from base and add a new migration instead")
			continue
		}
		if h.commentOnly {
			fs = append(fs, report.Finding{Rule: RuleEdited, Severity: report.SeverityNotice, File: h.path, Line: firstDiffLine(b.Content, h.content),
				Message: fmt.Sprintf("%s is on base and only its comments or whitespace changed (its SQL tokens are identical), so databases that applied it hold the same schema", h.name)})
			continue
		}
		if h.edited {
			add(RuleEdited, h.path, firstDiffLine(b.Content, h.content),
				fmt.Sprintf("%s is on base and was changed; wrangler tracks migrations by name only, so the change never runs where the file was already applied", h.name),
				"restore "+h.path+" from base and put the change in a new migration "+next+"_<name>.sql")
		}
	}
	for _, f := range files {
		if !f.changed || f.edited || f.number < 0 || f.number > maxBase {
			continue
		}
		add(RuleOutOfOrder, f.path, 0,
			fmt.Sprintf("%s is new but base already has %s; databases that applied base would run it after later migrations", f.name, maxBaseName),
			"renumber it to "+next)
	}
	return fs
}

// firstDiffLine is the 1-based line where two contents first differ.
func firstDiffLine(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	return 1 + bytes.Count(b[:i], []byte("\n"))
}

// sameSQL reports whether two files hold the same SQL tokens, in order and
// spelled the same: only comments and whitespace differ. Tokens come from
// the splitter's tokenizer, so a comment marker inside a string is text.
func sameSQL(a, b string) bool {
	i, j := 0, 0
	next := func(s string, k int) (token, int) {
		for k < len(s) {
			t := scan(s, k)
			k = t.End
			switch t.Kind {
			case sqlsplit.Space, sqlsplit.LineComment, sqlsplit.BlockComment:
				continue
			}
			return t, k
		}
		return token{Start: -1}, k
	}
	for {
		ta, ni := next(a, i)
		tb, nj := next(b, j)
		if ta.Start < 0 || tb.Start < 0 {
			return ta.Start < 0 && tb.Start < 0
		}
		if a[ta.Start:ta.End] != b[tb.Start:tb.End] {
			return false
		}
		i, j = ni, nj
	}
}
