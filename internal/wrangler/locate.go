package wrangler

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Locate returns the wrangler command to run for the repository at
// repoRoot. A configured command ([deploy] wrangler in guard.toml) is split
// into words with SplitCommand; a first word with a slash that is not
// absolute is taken relative to repoRoot. Without one, the repository's
// node_modules/.bin/wrangler is used when present, else "npx wrangler".
func Locate(repoRoot, configured string) ([]string, error) {
	if strings.TrimSpace(configured) != "" {
		words, err := SplitCommand(configured)
		if err != nil {
			return nil, fmt.Errorf("wrangler command %q: %w", configured, err)
		}
		if len(words) == 0 || words[0] == "" {
			return nil, fmt.Errorf("wrangler command %q names no program", configured)
		}
		if strings.Contains(words[0], "/") && !filepath.IsAbs(words[0]) {
			words[0] = filepath.Join(repoRoot, words[0])
		}
		return words, nil
	}
	local := filepath.Join(repoRoot, "node_modules", ".bin", "wrangler")
	if fi, err := os.Stat(local); err == nil && !fi.IsDir() {
		return []string{local}, nil
	}
	return []string{"npx", "wrangler"}, nil
}

// SplitCommand splits a command line into words by the quoting rules of a
// POSIX shell, without running one: blanks separate words; '...' keeps
// everything literally; "..." keeps everything but lets a backslash escape
// " \ $ ` and newline; a backslash outside quotes escapes the next
// character. Nothing is expanded, so unquoted shell syntax ($ ` | & ; < > ( ))
// is refused rather than passed on with a meaning it would not have.
func SplitCommand(s string) ([]string, error) {
	var (
		words  []string
		cur    strings.Builder
		inWord bool
	)
	endWord := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			endWord()
		case '\\':
			inWord = true
			if i+1 >= len(s) {
				return nil, fmt.Errorf("trailing backslash at column %d", i+1)
			}
			i++
			if s[i] != '\n' { // backslash-newline joins lines
				cur.WriteByte(s[i])
			}
		case '\'':
			inWord = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote at column %d", i+1)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case '"':
			inWord = true
			start := i
			closed := false
			for i++; i < len(s); i++ {
				d := s[i]
				if d == '"' {
					closed = true
					break
				}
				if d == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0 {
					i++
					if s[i] != '\n' {
						cur.WriteByte(s[i])
					}
					continue
				}
				if d == '$' || d == '`' {
					return nil, fmt.Errorf("%q at column %d would be expanded by a shell; guard runs the command without one", d, i+1)
				}
				cur.WriteByte(d)
			}
			if !closed {
				return nil, fmt.Errorf("unterminated double quote at column %d", start+1)
			}
		case '$', '`', '|', '&', ';', '<', '>', '(', ')':
			return nil, fmt.Errorf("shell syntax %q at column %d; guard runs the command without a shell", c, i+1)
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	endWord()
	return words, nil
}

// QuoteCommand joins words so that SplitCommand returns them again; it is
// how guard prints a command for the user to copy.
func QuoteCommand(words []string) string {
	out := make([]string, len(words))
	for i, w := range words {
		if w != "" && strings.Trim(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@%+,") == "" {
			out[i] = w
			continue
		}
		out[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}
