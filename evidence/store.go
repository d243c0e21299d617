package evidence

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Store is where evidence is kept: a folder (DirStore) or an R2 bucket
// prefix (R2Store). Names are relative to the store, with forward slashes.
type Store interface {
	// Location names the store for messages: the folder, or
	// r2://bucket/prefix.
	Location() string
	// List returns every object in the store, sorted.
	List(ctx context.Context) ([]string, error)
	// Get returns an object's bytes, or an error wrapping fs.ErrNotExist.
	Get(ctx context.Context, name string) ([]byte, error)
	// Create stores data under name only if nothing is there yet, else it
	// fails with an error wrapping ErrExists. It never replaces an object.
	Create(ctx context.Context, name string, data []byte) error
}

// ErrExists is returned (wrapped) by Store.Create when the name is taken.
var ErrExists = errors.New("evidence object already exists")

// checkName refuses names that would leave the store or are not plain
// relative paths.
func checkName(name string) error {
	if name == "" || strings.ContainsAny(name, "\\\x00") || path.IsAbs(name) || path.Clean(name) != name ||
		!filepath.IsLocal(filepath.FromSlash(name)) {
		return fmt.Errorf("evidence: invalid object name %q", name)
	}
	return nil
}

// DirStore keeps evidence in a local folder. Files are published from a
// synced temporary file by a hard link, which fails when the name exists:
// no check-then-write race can replace a file another run just published,
// and a reader never sees half a file. Published files are read-only.
type DirStore struct{ Dir string }

// tmpPrefix starts the name of a file being published.
const tmpPrefix = ".evidence-"

// Location is the folder as given.
func (s DirStore) Location() string { return s.Dir }

// List walks the folder; a missing folder is an empty store. Temporary
// files of a publication in flight are not listed.
func (s DirStore) List(ctx context.Context) ([]string, error) {
	var out []string
	err := filepath.WalkDir(s.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == s.Dir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() || (strings.HasPrefix(d.Name(), tmpPrefix) && strings.HasSuffix(d.Name(), ".tmp")) {
			return nil
		}
		rel, err := filepath.Rel(s.Dir, p)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return ctx.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	sort.Strings(out)
	return out, nil
}

// Get reads one file.
func (s DirStore) Get(ctx context.Context, name string) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(s.Dir, filepath.FromSlash(name)))
}

// Create publishes one file, creating its folder.
func (s DirStore) Create(ctx context.Context, name string, data []byte) error {
	if err := checkName(name); err != nil {
		return err
	}
	p := filepath.Join(s.Dir, filepath.FromSlash(name))
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	if err := publish(dir, p, data); err != nil {
		return err
	}
	return syncDir(dir)
}

// publish writes data to a synced temporary file in dir and hard-links it
// to p, which fails when p exists.
func publish(dir, p string, data []byte) error {
	tmp, err := os.CreateTemp(dir, tmpPrefix+"*.tmp")
	if err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("evidence: writing %s: %w", p, err)
	}
	if err := tmp.Chmod(0o444); err != nil {
		tmp.Close()
		return fmt.Errorf("evidence: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("evidence: writing %s: %w", p, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("evidence: writing %s: %w", p, err)
	}
	if err := os.Link(tmpName, p); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s: %w", p, ErrExists)
		}
		return fmt.Errorf("evidence: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("evidence: syncing %s: %w", dir, err)
	}
	return nil
}
