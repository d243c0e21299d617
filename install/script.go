package install

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// markerPrefix starts the line that makes a hook file guard's. What follows
// it on that line is the fingerprint: the hex SHA-256 of the whole file with
// that value blanked, so the file names its own expected content and an edit
// anywhere in it is detectable without keeping state elsewhere.
const markerPrefix = "# guard-managed hook; guard-fingerprint: "

// binaryPrefix starts the line holding the baked-in binary path.
const binaryPrefix = "guard="

// scriptTemplate is rendered with fmt: the fingerprint, the quoted binary path
// and the hook name (three times). printf, not echo, prints the path: dash's
// echo interprets backslashes, and a path may contain them.
const scriptTemplate = `#!/bin/sh
` + markerPrefix + `%[1]s
# ` + "`guard install`" + ` rewrites this file; ` + "`guard uninstall`" + ` removes it and restores the hook that was here before.
` + binaryPrefix + `%[2]s
if [ ! -x "$guard" ]; then
  printf 'guard: the %[3]s hook cannot run: %%s is missing or not executable\n' "$guard" >&2
  printf "guard: hint: reinstall guard, then run 'guard install' in this repository\n" >&2
  exit 1
fi
exec "$guard" hook %[3]s "$@"
`

// script returns the hook file guard writes for hook, calling binary. The
// binary must be absolute and free of NUL and newline (Install checks); hook
// must be a plain hook name.
func script(binary, hook string) []byte {
	blank := fmt.Sprintf(scriptTemplate, "", shQuote(binary), hook)
	sum := sha256.Sum256([]byte(blank))
	return fmt.Appendf(nil, scriptTemplate, hex.EncodeToString(sum[:]), shQuote(binary), hook)
}

// shQuote quotes s for POSIX sh: inside single quotes nothing is special
// except the quote itself, which closes the quotes, adds an escaped quote
// and reopens them.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shUnquote reverses shQuote for the forms it produces: a concatenation of
// '...' segments and \' escapes. ok=false for anything else, which is how an
// edited binary line shows.
func shUnquote(s string) (string, bool) {
	var b strings.Builder
	if s == "" {
		return "", false
	}
	for s != "" {
		switch {
		case s[0] == '\'':
			end := strings.IndexByte(s[1:], '\'')
			if end < 0 {
				return "", false
			}
			b.WriteString(s[1 : 1+end])
			s = s[2+end:]
		case strings.HasPrefix(s, `\'`):
			b.WriteByte('\'')
			s = s[2:]
		default:
			return "", false
		}
	}
	return b.String(), true
}

// parsed is what a hook file says about itself.
type parsed struct {
	// guard: the file carries guard's marker line.
	guard bool
	// edited: the marker's fingerprint does not match the file.
	edited bool
	// binary is the baked-in path ("" when absent or unreadable).
	binary string
}

// parseHook reads a hook file's content. Any bytes are accepted: a file
// without the marker is simply not guard's.
func parseHook(data []byte) parsed {
	start := -1
	if bytes.HasPrefix(data, []byte(markerPrefix)) {
		start = 0
	} else if i := bytes.Index(data, []byte("\n"+markerPrefix)); i >= 0 {
		start = i + 1
	}
	if start < 0 {
		return parsed{}
	}
	p := parsed{guard: true}
	valStart := start + len(markerPrefix)
	valEnd := len(data)
	if i := bytes.IndexByte(data[valStart:], '\n'); i >= 0 {
		valEnd = valStart + i
	}
	blank := make([]byte, 0, len(data))
	blank = append(blank, data[:valStart]...)
	blank = append(blank, data[valEnd:]...)
	sum := sha256.Sum256(blank)
	p.edited = string(data[valStart:valEnd]) != hex.EncodeToString(sum[:])

	for line := range bytes.Lines(data) {
		line = bytes.TrimRight(line, "\r\n")
		if rest, ok := bytes.CutPrefix(line, []byte(binaryPrefix)); ok {
			if bin, ok := shUnquote(string(rest)); ok {
				p.binary = bin
			}
			break
		}
	}
	return p
}
