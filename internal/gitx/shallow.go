package gitx

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/guardcm/guard/internal/fail"
)

// UnshallowHint is the fix for a clone whose history is cut.
const UnshallowHint = "fetch the whole history: git fetch --unshallow (in GitHub Actions: actions/checkout with fetch-depth: 0)"

// ShallowError says that a shallow clone's history does not reach what a
// check or a collector needs: answering from it would silently cover less
// than asked. RequireRange and RequireSince return it classified as a usage
// error (exit 2) with UnshallowHint.
type ShallowError struct {
	// Need says what the history had to reach ("the period's start
	// 2026-11-01T10:00:00Z", "the base abc123def456").
	Need string
	// Cut are the commits whose parents this clone lacks, inside what was
	// needed (short hashes, sorted).
	Cut []string
}

func (e *ShallowError) Error() string {
	return fmt.Sprintf("this clone is shallow and its history does not reach %s: the parents of %s are missing, so the answer would silently cover less than asked",
		e.Need, strings.Join(e.Cut, ", "))
}

// IsShallow reports whether err is (or wraps) a *ShallowError.
func IsShallow(err error) bool {
	var se *ShallowError
	return errors.As(err, &se)
}

// ShallowCommits returns the commits at the edge of a shallow clone: those
// git's "shallow" file lists, whose parents were not fetched. A complete
// clone has none (nil).
func (r *Repo) ShallowCommits() ([]string, error) {
	data, err := os.ReadFile(filepath.Join(r.CommonDir, "shallow"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading git's shallow file: %w", err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if h := strings.TrimSpace(sc.Text()); h != "" {
			out = append(out, h)
		}
	}
	return out, sc.Err()
}

// parentsOf reads the parents a commit object names, whether or not this
// clone has them (a shallow commit keeps its parent lines; git only hides
// them from walks).
func (r *Repo) parentsOf(ctx context.Context, commit string) ([]string, error) {
	out, err := r.Git(ctx, "cat-file", "commit", commit)
	if err != nil {
		return nil, err
	}
	var parents []string
	for _, l := range strings.Split(string(out), "\n") {
		if l == "" {
			break // end of the header
		}
		if p, ok := strings.CutPrefix(l, "parent "); ok {
			parents = append(parents, strings.TrimSpace(p))
		}
	}
	return parents, nil
}

// RequireRange checks that the commits reachable from head and not from
// exclude are all in this clone: no shallow edge lies inside the range
// unless every parent it lacks is behind exclude anyway. A complete clone
// costs one file stat.
func (r *Repo) RequireRange(ctx context.Context, head string, exclude ...string) error {
	edges, err := r.ShallowCommits()
	if err != nil || len(edges) == 0 {
		return err
	}
	args := []string{"rev-list", head}
	for _, x := range exclude {
		if _, ok, err := r.ResolveCommit(ctx, x); err != nil {
			return err
		} else if !ok {
			// The base itself was never fetched: nothing of the range's
			// start is here.
			return fail.Usage(&ShallowError{Need: "the base " + ShortHash(x), Cut: sortedShort(edges)}, UnshallowHint)
		}
		args = append(args, "^"+x)
	}
	out, err := r.Git(ctx, append(args, "--")...)
	if err != nil {
		return err
	}
	inRange := map[string]bool{}
	for _, h := range strings.Fields(string(out)) {
		inRange[h] = true
	}
	var cut []string
	for _, e := range edges {
		if !inRange[e] {
			continue
		}
		parents, err := r.parentsOf(ctx, e)
		if err != nil {
			return err
		}
		for _, p := range parents {
			if !r.behind(ctx, p, exclude) {
				cut = append(cut, ShortHash(e))
				break
			}
		}
	}
	if len(cut) == 0 {
		return nil
	}
	sort.Strings(cut)
	need := "the base"
	if len(exclude) > 0 {
		need = "the base " + ShortHash(exclude[0])
	}
	return fail.Usage(&ShallowError{Need: need, Cut: cut}, UnshallowHint)
}

func sortedShort(hashes []string) []string {
	out := make([]string, len(hashes))
	for i, h := range hashes {
		out[i] = ShortHash(h)
	}
	sort.Strings(out)
	return out
}

// behind reports whether commit is in this clone and reachable from one of
// refs.
func (r *Repo) behind(ctx context.Context, commit string, refs []string) bool {
	if _, ok, err := r.ResolveCommit(ctx, commit); err != nil || !ok {
		return false
	}
	for _, ref := range refs {
		if _, err := r.Git(ctx, "merge-base", "--is-ancestor", commit, ref); err == nil {
			return true
		}
	}
	return false
}

// RequireSince checks that the history of tip reaches back to since: no
// shallow edge reachable from tip was committed at or after since (its
// missing parents could then fall inside the period). A complete clone
// costs one file stat.
func (r *Repo) RequireSince(ctx context.Context, tip string, since time.Time) error {
	edges, err := r.ShallowCommits()
	if err != nil || len(edges) == 0 {
		return err
	}
	args := append([]string{"log", "--no-walk=unsorted", "--ignore-missing", "--format=%H %ct"}, edges...)
	out, err := r.Git(ctx, append(args, "--")...)
	if err != nil {
		return err
	}
	var cut []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		h, ts, ok := strings.Cut(l, " ")
		if !ok {
			continue
		}
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || time.Unix(sec, 0).Before(since) {
			continue
		}
		if _, err := r.Git(ctx, "merge-base", "--is-ancestor", h, tip); err != nil {
			continue // not in tip's history (another branch's edge)
		}
		cut = append(cut, ShortHash(h))
	}
	if len(cut) == 0 {
		return nil
	}
	sort.Strings(cut)
	return fail.Usage(&ShallowError{Need: "the period's start " + since.UTC().Format(time.RFC3339), Cut: cut}, UnshallowHint)
}
