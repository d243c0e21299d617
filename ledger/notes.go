package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/proc"
)

// NotesRef holds the team's deploy records: each note, on a deployed
// commit, is JSON Lines, one final record per line.
const NotesRef = "refs/notes/guard-deploys"

// NotesRemoteRef is where FetchNotes puts the remote's notes before merging
// them into NotesRef.
const NotesRemoteRef = "refs/notes/guard-deploys-remote"

// DefaultNotesTimeout bounds fetching and pushing the notes when the
// configuration sets no time ([deploy] fetch_timeout).
const DefaultNotesTimeout = 30 * time.Second

// maxPushAttempts bounds the fetch-merge-push loop when teammates push
// notes at the same time.
const maxPushAttempts = 5

// FallbackIdent lets bookkeeping commits (deploy notes, team-lock leases)
// be made on a machine with no git identity (a CI runner): the operator is
// in the record itself.
var FallbackIdent = []string{"-c", "user.name=guard", "-c", "user.email=guard@localhost"}

func notesLockPath(repo *gitx.Repo) string {
	return filepath.Join(repo.CommonDir, "guard", "notes.lock")
}

// notesGit runs a git command that commits to the notes ref, with a
// fallback identity when the user has none.
func notesGit(ctx context.Context, repo *gitx.Repo, args ...string) ([]byte, error) {
	if _, err := repo.Git(ctx, "var", "GIT_COMMITTER_IDENT"); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		args = append(append([]string{}, FallbackIdent...), args...)
	}
	return repo.Git(ctx, args...)
}

func checkRemote(remote string) error {
	if remote == "" || strings.HasPrefix(remote, "-") {
		return fmt.Errorf("invalid git remote %q", remote)
	}
	return nil
}

// AddNote appends rec as one JSON line to the note on commit in NotesRef,
// keeping the lines already there. Adding a line that is already present
// changes nothing.
func AddNote(ctx context.Context, repo *gitx.Repo, commit string, rec Record) error {
	line, err := marshal(rec)
	if err != nil {
		return err
	}
	hash, ok, err := repo.ResolveCommit(ctx, commit)
	if err != nil {
		return fmt.Errorf("deploy note: %w", err)
	}
	if !ok {
		return fmt.Errorf("deploy note: %q is not a commit in this repository", commit)
	}
	unlock, err := lockCtx(ctx, notesLockPath(repo))
	if err != nil {
		return fmt.Errorf("deploy note: %w", err)
	}
	defer unlock()

	existing, err := readNote(ctx, repo, hash)
	if err != nil {
		return err
	}
	for _, l := range bytes.Split(existing, []byte("\n")) {
		if bytes.Equal(bytes.TrimSpace(l), line) {
			return nil
		}
	}
	var content []byte
	if len(bytes.TrimSpace(existing)) > 0 {
		content = append(bytes.TrimRight(existing, "\n"), '\n')
	}
	content = append(append(content, line...), '\n')

	// gitx has no stdin: hand git the note through a file it reads.
	tmp, err := os.CreateTemp(filepath.Dir(notesLockPath(repo)), "note-*.jsonl")
	if err != nil {
		return fmt.Errorf("deploy note: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(content)
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		return fmt.Errorf("deploy note: %w", errors.Join(werr, cerr))
	}
	if _, err := notesGit(ctx, repo, "notes", "--ref", NotesRef, "add", "-f", "-F", tmp.Name(), hash); err != nil {
		return fmt.Errorf("deploy note on %s: %w", hash, err)
	}
	return nil
}

// readNote returns the note on commit, or nil when there is none.
func readNote(ctx context.Context, repo *gitx.Repo, commit string) ([]byte, error) {
	blob, err := repo.GitLine(ctx, "notes", "--ref", NotesRef, "list", commit)
	if err != nil {
		var ee *proc.ExitError
		if errors.As(err, &ee) && ee.Code == 1 && strings.Contains(ee.Stderr, "no note found") {
			return nil, nil
		}
		return nil, fmt.Errorf("deploy note on %s: %w", commit, err)
	}
	data, err := repo.Git(ctx, "cat-file", "blob", blob)
	if err != nil {
		return nil, fmt.Errorf("deploy note on %s: %w", commit, err)
	}
	return data, nil
}

// refExists reads a notes ref from the ref store (RefHash: no git process,
// which costs more than the rest of a hook's record check); a notes ref
// always names a commit.
func refExists(ctx context.Context, repo *gitx.Repo, ref string) (string, bool, error) {
	return repo.RefHash(ctx, ref)
}

// FetchNotes fetches the remote's NotesRef into NotesRemoteRef and merges
// it into NotesRef, concatenating notes on the same commit (cat_sort_uniq),
// all within timeout. A remote without deploy notes yet is not an error. Any
// error (offline, timeout) leaves the local notes as they were; callers that
// can work without the remote's records treat it as a warning.
func FetchNotes(ctx context.Context, repo *gitx.Repo, remote string, timeout time.Duration) error {
	if err := checkRemote(remote); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := fetchAndMerge(ctx, repo, remote); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("fetch deploy notes from %s: gave up after %s: %w", remote, timeout, err)
		}
		return err
	}
	return nil
}

func fetchAndMerge(ctx context.Context, repo *gitx.Repo, remote string) error {
	unlock, err := lockCtx(ctx, notesLockPath(repo))
	if err != nil {
		return fmt.Errorf("fetch deploy notes: %w", err)
	}
	defer unlock()
	_, err = repo.Git(ctx, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules",
		remote, "+"+NotesRef+":"+NotesRemoteRef)
	if err != nil {
		var ee *proc.ExitError
		if errors.As(err, &ee) && strings.Contains(ee.Stderr, "couldn't find remote ref") {
			return nil // nobody has pushed deploy notes yet
		}
		return fmt.Errorf("fetch deploy notes from %s: %w", remote, err)
	}
	remoteHash, ok, err := refExists(ctx, repo, NotesRemoteRef)
	if err != nil || !ok {
		return fmt.Errorf("fetch deploy notes from %s: %s missing after fetch: %v", remote, NotesRemoteRef, err)
	}
	localHash, ok, err := refExists(ctx, repo, NotesRef)
	if err != nil {
		return fmt.Errorf("merge deploy notes: %w", err)
	}
	if !ok {
		if _, err := repo.Git(ctx, "update-ref", NotesRef, remoteHash, ""); err != nil {
			return fmt.Errorf("merge deploy notes: %w", err)
		}
		return nil
	}
	if localHash == remoteHash {
		return nil
	}
	if _, err := notesGit(ctx, repo, "notes", "--ref", NotesRef, "merge", "--quiet", "--strategy", "cat_sort_uniq", NotesRemoteRef); err != nil {
		return fmt.Errorf("merge deploy notes from %s: %w", remote, err)
	}
	return nil
}

// pushRetryable reports whether a push failed because the remote moved
// (a teammate pushed notes first), which a fetch and merge resolves.
func pushRetryable(err error) bool {
	var ee *proc.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	s := ee.Stderr
	return strings.Contains(s, "[rejected]") || strings.Contains(s, "non-fast-forward") ||
		strings.Contains(s, "fetch first") || strings.Contains(s, "cannot lock ref") ||
		strings.Contains(s, "failed to update ref")
}

// PushNotes pushes NotesRef to remote within timeout. When the remote has
// notes this clone lacks, it fetches and merges them and tries again, a
// bounded number of times. Hooks are not run: the notes ref is bookkeeping,
// not code under the push policy. Having no notes at all is not an error.
func PushNotes(ctx context.Context, repo *gitx.Repo, remote string, timeout time.Duration) error {
	if err := checkRemote(remote); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, ok, err := refExists(ctx, repo, NotesRef); err != nil {
		return fmt.Errorf("push deploy notes: %w", err)
	} else if !ok {
		return nil
	}
	var last error
	for attempt := 1; attempt <= maxPushAttempts; attempt++ {
		_, err := repo.Git(ctx, "push", "--quiet", "--no-verify", remote, NotesRef+":"+NotesRef)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("push deploy notes to %s: gave up after %s: %w", remote, timeout, err)
		}
		if !pushRetryable(err) {
			return fmt.Errorf("push deploy notes to %s: %w", remote, err)
		}
		last = err
		if err := fetchAndMerge(ctx, repo, remote); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("push deploy notes to %s: gave up after %s: %w", remote, timeout, err)
			}
			return fmt.Errorf("push deploy notes to %s: %w", remote, err)
		}
	}
	return fmt.Errorf("push deploy notes to %s: still rejected after %d attempts: %w", remote, maxPushAttempts, last)
}

// Share gives the team a final record of this clone's ledger: it adds rec
// as a note on rec.Commit and pushes the notes to remote within timeout
// (DefaultNotesTimeout when not positive), signed by sign first unless it
// is nil (signing off). A pending record is not shared:
// it stays this clone's until its outcome is written. The ledger holds the
// record whatever happens here, so a failure is a warning for the caller
// to print, and says what was not shared.
func Share(ctx context.Context, repo *gitx.Repo, remote string, timeout time.Duration, rec Record, sign Signer) error {
	if rec.Status == StatusPending {
		return nil
	}
	if rec.Commit == "" {
		return fmt.Errorf("the %s record was not shared through %s: the target version has no known commit to attach it to", rec.Kind, NotesRef)
	}
	rec, err := Sign(ctx, rec, sign)
	if err != nil {
		return fmt.Errorf("the %s record was not shared through %s: %w", rec.Kind, NotesRef, err)
	}
	if err := AddNote(ctx, repo, rec.Commit, rec); err != nil {
		return fmt.Errorf("the %s record was not added to the git notes: %w", rec.Kind, err)
	}
	if timeout <= 0 {
		timeout = DefaultNotesTimeout
	}
	if err := PushNotes(ctx, repo, remote, timeout); err != nil {
		return fmt.Errorf("the %s record was not pushed to %s (%s); the next deploy pushes it: %w", rec.Kind, remote, NotesRef, err)
	}
	return nil
}

// ReadNotes returns every record in the notes of NotesRef (and of
// NotesRemoteRef, should a merge not have happened), each once, oldest
// first. Lines that are not records are skipped: notes come from other
// machines and must not stop a rollback.
func ReadNotes(ctx context.Context, repo *gitx.Repo) ([]Record, error) {
	var refs []string
	for _, ref := range []string{NotesRef, NotesRemoteRef} {
		if _, ok, err := refExists(ctx, repo, ref); err != nil {
			return nil, fmt.Errorf("read deploy notes: %w", err)
		} else if ok {
			refs = append(refs, ref)
		}
	}
	if len(refs) == 0 {
		return nil, nil
	}
	// One git process for every note: grep the notes trees for every line.
	args := []string{"grep", "-h", "-I", "-F", "--no-color", "--no-line-number", "--no-column", "-e", ""}
	args = append(append(args, refs...), "--")
	out, err := repo.Git(ctx, args...)
	if err != nil {
		var ee *proc.ExitError
		if !(errors.As(err, &ee) && ee.Code == 1) { // 1: no lines at all
			return nil, fmt.Errorf("read deploy notes: %w", err)
		}
	}
	type entry struct {
		rec  Record
		line string
	}
	seen := make(map[string]bool)
	var entries []entry
	for _, l := range bytes.Split(out, []byte("\n")) {
		l = bytes.TrimSpace(l)
		if len(l) == 0 || seen[string(l)] {
			continue
		}
		seen[string(l)] = true
		if rec, kind, _ := parseLine(l); kind == "" {
			entries = append(entries, entry{rec, string(l)})
		}
	}
	sort.Slice(entries, func(i, j int) bool {
		a, b := entries[i], entries[j]
		if !a.rec.Time.Equal(b.rec.Time) {
			return a.rec.Time.Before(b.rec.Time)
		}
		return a.line < b.line
	})
	res := make([]Record, len(entries))
	for i, e := range entries {
		res[i] = e.rec
	}
	return res, nil
}
