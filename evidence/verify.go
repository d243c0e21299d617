package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
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

// Problem is one defect Verify found. File is relative to the verified
// folder, with forward slashes.
type Problem struct {
	File    string
	Message string
}

func (p Problem) String() string { return p.File + ": " + p.Message }

// VerifyResult lists what Verify checked and what it found.
type VerifyResult struct {
	// Verified are the documents whose digest matched, sorted.
	Verified []string
	Problems []Problem
}

// Verify re-checks every digest file (*.sha256) under dir, recursively: a
// document whose bytes differ from its digest, a digest naming a missing
// file, a digest file that does not parse, and a JSON document that no
// digest covers are problems. Problems are sorted by file.
func Verify(dir string) (*VerifyResult, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", dir)
	}
	var digests, docs []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case strings.HasSuffix(rel, DigestSuffix):
			digests = append(digests, rel)
		case strings.HasSuffix(rel, ".json"):
			docs = append(docs, rel)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res := &VerifyResult{}
	covered := map[string]bool{}
	for _, dg := range digests {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(dg)))
		if err != nil {
			res.Problems = append(res.Problems, Problem{File: dg, Message: err.Error()})
			continue
		}
		entries, err := ParseDigests(data)
		if err != nil {
			res.Problems = append(res.Problems, Problem{File: dg, Message: err.Error()})
			continue
		}
		if len(entries) == 0 {
			res.Problems = append(res.Problems, Problem{File: dg, Message: "the digest file lists no file"})
			continue
		}
		base := path.Dir(dg)
		for _, e := range entries {
			rel := path.Join(base, e.Name)
			covered[rel] = true
			got, err := fileSHA256(filepath.Join(dir, filepath.FromSlash(rel)))
			switch {
			case errors.Is(err, fs.ErrNotExist):
				res.Problems = append(res.Problems, Problem{File: rel, Message: fmt.Sprintf("missing: %s line %d names it", dg, e.Line)})
			case err != nil:
				res.Problems = append(res.Problems, Problem{File: rel, Message: err.Error()})
			case got != e.SHA256:
				res.Problems = append(res.Problems, Problem{File: rel, Message: fmt.Sprintf("changed after it was written: its SHA-256 is %s, %s records %s", got, dg, e.SHA256)})
			default:
				res.Verified = append(res.Verified, rel)
			}
		}
	}
	for _, d := range docs {
		if !covered[d] {
			res.Problems = append(res.Problems, Problem{File: d, Message: "no digest file covers it (expected " + path.Base(d) + DigestSuffix + ")"})
		}
	}
	sort.Strings(res.Verified)
	sort.SliceStable(res.Problems, func(i, j int) bool { return res.Problems[i].File < res.Problems[j].File })
	return res, nil
}

func fileSHA256(p string) (string, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}
