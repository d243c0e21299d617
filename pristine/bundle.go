package pristine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// wranglerNote is the explanatory file wrangler writes into --outdir; it
// is not uploaded and carries a timestamp.
const wranglerNote = "README.md"

// Bundle is what wrangler built and uploaded.
type Bundle struct {
	// SHA256 is the SHA-256 of the manifest: one "<sha256>  <path>\n" line
	// per output file, sorted by path (the format of sha256sum), so
	//   (cd DIR && find . -type f ! -name README.md | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum) | sha256sum
	// reproduces it from `wrangler deploy --dry-run --outdir DIR`.
	SHA256 string
	// Files maps each output file (relative, slash separated) to its
	// SHA-256.
	Files map[string]string
	// Outside lists the bundle's inputs that come from neither the
	// checkout nor the allowed dependency directories.
	Outside []string
}

// ReadBundle hashes the files wrangler wrote into outdir and, when
// metafile is not "", checks esbuild's inputs: their paths are relative to
// projectDir (the wrangler configuration's directory) and each must lie
// under one of allowed (real paths are compared, so links cannot hide an
// outside file).
func ReadBundle(outdir, metafile, projectDir string, allowed []string) (*Bundle, error) {
	b := &Bundle{Files: map[string]string{}}
	var names []string
	err := filepath.WalkDir(outdir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(outdir, p)
		rel = filepath.ToSlash(rel)
		if rel == wranglerNote {
			return nil
		}
		sum, err := fileSHA256(p)
		if err != nil {
			return err
		}
		b.Files[rel] = sum
		names = append(names, rel)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the bundle wrangler wrote: %w", err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("wrangler wrote no bundle into %s", outdir)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s  %s\n", b.Files[n], n)
	}
	b.SHA256 = hex.EncodeToString(h.Sum(nil))
	if metafile == "" {
		return b, nil
	}
	b.Outside, err = inputsOutside(metafile, projectDir, allowed)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// inputsOutside reads an esbuild metafile and returns the inputs that are
// not under any allowed directory. Inputs in another esbuild namespace
// ("ns:path", e.g. wrangler's virtual modules) are not files and pass.
func inputsOutside(metafile, projectDir string, allowed []string) ([]string, error) {
	data, err := os.ReadFile(metafile)
	if err != nil {
		return nil, fmt.Errorf("reading esbuild's metafile: %w", err)
	}
	var meta struct {
		Inputs map[string]json.RawMessage `json:"inputs"`
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return nil, fmt.Errorf("esbuild's metafile %s: %w", metafile, err)
	}
	var roots []string
	for _, a := range allowed {
		if r, err := filepath.EvalSymlinks(a); err == nil {
			roots = append(roots, r)
		}
	}
	var out []string
	seen := map[string]bool{}
	for in := range meta.Inputs {
		if i := strings.Index(in, ":"); i > 0 && !strings.ContainsAny(in[:i], `/\.`) {
			continue // a namespace, not a file
		}
		p := filepath.FromSlash(in)
		if !filepath.IsAbs(p) {
			p = filepath.Join(projectDir, p)
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			real = filepath.Clean(p)
		}
		ok := false
		for _, r := range roots {
			if within(r, real) {
				ok = true
				break
			}
		}
		if !ok && !seen[real] {
			seen[real] = true
			out = append(out, real)
		}
	}
	sort.Strings(out)
	return out, nil
}
