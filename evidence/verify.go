package evidence

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"path"
	"path/filepath"
	"strings"
)

// DigestEntry is one line of a sha256sum-format file.
type DigestEntry struct {
	Line   int
	SHA256 string // lower-case hex
	// Name is the file, relative to the digest file's folder, with forward
	// slashes.
	Name string
}

// ParseDigests parses sha256sum output: "<64 hex> <space or *><name>" per
// line. Names must stay inside the digest's folder (no absolute paths, no
// ".." elements); sha256sum's backslash-escaped names are not produced by
// guard and are refused. Errors carry the 1-based line.
func ParseDigests(data []byte) ([]DigestEntry, error) {
	var out []DigestEntry
	lines := bytes.Split(data, []byte("\n"))
	for i, l := range lines {
		n := i + 1
		l = bytes.TrimSuffix(l, []byte("\r"))
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		s := string(l)
		if strings.HasPrefix(s, "\\") {
			return nil, fmt.Errorf("line %d: escaped file names are not supported", n)
		}
		if len(s) < 66 {
			return nil, fmt.Errorf("line %d: want \"<sha256>  <file>\", got %q", n, truncateRunes(s, 80))
		}
		sum, sep, name := s[:64], s[64], s[65:]
		if _, err := hex.DecodeString(sum); err != nil {
			return nil, fmt.Errorf("line %d: %q is not a SHA-256 in hex", n, truncateRunes(sum, 80))
		}
		if sep != ' ' || (name[0] != ' ' && name[0] != '*') {
			return nil, fmt.Errorf("line %d: want two characters (\"  \" or \" *\") between the digest and the file name", n)
		}
		name = name[1:]
		if name == "" {
			return nil, fmt.Errorf("line %d: no file name", n)
		}
		clean := path.Clean(name)
		if strings.ContainsRune(name, '\\') || strings.ContainsRune(name, 0) || !filepath.IsLocal(filepath.FromSlash(clean)) || path.IsAbs(name) {
			return nil, fmt.Errorf("line %d: file name %q leaves the folder", n, truncateRunes(name, 80))
		}
		out = append(out, DigestEntry{Line: n, SHA256: strings.ToLower(sum), Name: clean})
	}
	return out, nil
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
