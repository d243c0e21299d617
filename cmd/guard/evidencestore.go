package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/guardcm/guard/evidence"
	"github.com/guardcm/guard/internal/fail"
)

// EvidenceStore opens the evidence store an --out flag or verify argument
// names: a folder, or r2://BUCKET/PREFIX.
func (e *Env) EvidenceStore(location string) (evidence.Store, error) {
	if strings.TrimSpace(location) == "" {
		return nil, fail.Usage(fmt.Errorf("no evidence store given"))
	}
	return evidence.DirStore{Dir: location}, nil
}

// storePath names an object of a store for the user: a path in a folder,
// a URL in a bucket.
func storePath(st evidence.Store, name string) string {
	if d, ok := st.(evidence.DirStore); ok {
		return filepath.Join(d.Dir, filepath.FromSlash(name))
	}
	return strings.TrimSuffix(st.Location(), "/") + "/" + name
}

// storeError maps a store's failure to guard's exit codes.
func storeError(err error) error {
	return fail.External(err)
}
