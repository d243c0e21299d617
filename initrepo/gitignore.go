package initrepo

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// GitignorePath is the ignore file guard init completes.
const GitignorePath = ".gitignore"

// WranglerIgnore is wrangler's cache folder, which it writes into the
// project on every run: it belongs in .gitignore, never in a commit.
const WranglerIgnore = ".wrangler/"

// EnsureIgnored appends each of entries (folder patterns such as
// ".wrangler/") to root/.gitignore unless a line there already ignores
// it, creating the file when there is none. It keeps every existing byte
// (a last line without a newline gets one first) and returns the entries
// it added. A .gitignore that is not a regular file is left alone, with
// an error.
func EnsureIgnored(root string, entries ...string) ([]string, error) {
	path := filepath.Join(root, GitignorePath)
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", GitignorePath, err)
	}
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file; add %s to it yourself", GitignorePath, strings.Join(entries, " "))
	}
	var add []string
	for _, e := range entries {
		if !ignoresFolder(data, e) {
			add = append(add, e)
		}
	}
	if len(add) == 0 {
		return nil, nil
	}
	var out bytes.Buffer
	if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
		out.WriteByte('\n')
	}
	out.WriteString("# wrangler's cache, written on every run (guard init)\n")
	for _, e := range add {
		out.WriteString(e + "\n")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", GitignorePath, err)
	}
	_, werr := f.Write(out.Bytes())
	cerr := f.Close()
	if werr != nil || cerr != nil {
		return nil, fmt.Errorf("%s: %w", GitignorePath, errors.Join(werr, cerr))
	}
	return add, nil
}

// ignoresFolder reports whether a line of a .gitignore ignores the folder
// entry at any depth or at the root: ".wrangler", ".wrangler/",
// "/.wrangler/", "**/.wrangler", ".wrangler/*" or ".wrangler/**". A later
// negation ("!.wrangler/") counts against it.
func ignoresFolder(gitignore []byte, entry string) bool {
	name := strings.Trim(entry, "/")
	ignored := false
	for _, line := range strings.Split(string(gitignore), "\n") {
		l := strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		neg := strings.HasPrefix(l, "!")
		l = strings.TrimPrefix(l, "!")
		l = strings.TrimPrefix(l, "**/")
		l = strings.TrimPrefix(l, "/")
		for _, suf := range []string{"/**", "/*", "/"} {
			l = strings.TrimSuffix(l, suf)
		}
		if l == name {
			ignored = !neg
		}
	}
	return ignored
}
