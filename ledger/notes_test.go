package ledger

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/guardcm/guard/internal/gittest"
	"github.com/guardcm/guard/internal/gitx"
)

// gitEnv isolates git from the machine's configuration.
func gitEnv(t *testing.T) {
	t.Helper()
	gittest.Isolate(t, gittest.Options{
		Author: gittest.Identity{Name: "Ada Tester", Email: "ada@example.com"},
		Date:   "2025-01-02T03:04:05Z",
	})
}

func openRepo(t *testing.T, dir string) *gitx.Repo {
	t.Helper()
	return gittest.Open(t, gitx.Open, dir)
}

// remoteWithCommit makes a bare remote holding one commit on main and
// returns its path and the commit.
func remoteWithCommit(t *testing.T) (remote, commit string) {
	t.Helper()
	return gittest.Remote(t, "feat: first worker", "index.js", "export default {}\n")
}

func clone(t *testing.T, remote string) *gitx.Repo {
	t.Helper()
	return openRepo(t, gittest.Clone(t, remote))
}

func deployRecord(worker, commit, version string, seq int) Record {
	return Record{Seq: seq, Time: time.Date(2025, 1, 2, 3, 0, seq, 0, time.UTC), Kind: KindDeploy,
		Status: StatusSucceeded, Ref: seq - 1, Worker: worker, Commit: commit, VersionID: version,
		Categories: []string{"normal"}, Verified: VerifiedGood, Prev: strings.Repeat("0", 64)}
}

func TestDefaultPathUnderGitDir(t *testing.T) {
	gitEnv(t)
	remote, _ := remoteWithCommit(t)
	r := clone(t, remote)
	p := DefaultPath(r)
	if want := filepath.Join(r.Root, ".git", "guard", "ledger.jsonl"); p != want {
		t.Errorf("DefaultPath = %s, want %s", p, want)
	}
	if _, err := Open(p).Append(Record{Kind: KindDeploy, Status: StatusPending}); err != nil {
		t.Fatal(err)
	}
	if st := gittest.Git(t, r.Root, "status", "--porcelain", "--untracked-files=all", "--ignored"); st != "" {
		t.Errorf("the ledger dirtied the work tree: %q", st)
	}
	// A linked worktree shares the clone's ledger.
	wt := filepath.Join(t.TempDir(), "wt")
	gittest.Git(t, r.Root, "worktree", "add", "-q", "--detach", wt)
	if p2 := DefaultPath(openRepo(t, wt)); p2 != p {
		t.Errorf("worktree ledger %s, want %s", p2, p)
	}
}

func TestAddNoteAppendsLines(t *testing.T) {
	gitEnv(t)
	ctx := context.Background()
	remote, commit := remoteWithCommit(t)
	r := clone(t, remote)
	r1 := deployRecord("api", commit, "v1", 2)
	r2 := deployRecord("web", commit, "v2", 4)
	for _, rec := range []Record{r1, r2, r1} { // the repeat is a no-op
		if err := AddNote(ctx, r, "HEAD", rec); err != nil {
			t.Fatal(err)
		}
	}
	note := gittest.Git(t, r.Root, "notes", "--ref", NotesRef, "show", commit)
	lines := strings.Split(note, "\n")
	l1, _ := marshal(r1)
	l2, _ := marshal(r2)
	if len(lines) != 2 || lines[0] != string(l1) || lines[1] != string(l2) {
		t.Fatalf("note:\n%s", note)
	}
	got, err := ReadNotes(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []Record{r1, r2}) {
		t.Errorf("ReadNotes = %+v", got)
	}
	if err := AddNote(ctx, r, "no-such-rev", r1); err == nil {
		t.Error("AddNote on a missing commit succeeded")
	}
}

func TestNotesShareThroughRemote(t *testing.T) {
	gitEnv(t)
	ctx := context.Background()
	remote, commit := remoteWithCommit(t)
	a := clone(t, remote)
	b := clone(t, remote)
	ra := deployRecord("api", commit, "version-from-a", 2)
	rb := deployRecord("api", commit, "version-from-b", 2)
	rb.Time = rb.Time.Add(time.Minute)

	// Nothing to push yet, nothing to fetch yet: neither is an error.
	if err := PushNotes(ctx, a, "origin", 10*time.Second); err != nil {
		t.Fatalf("push without notes: %v", err)
	}
	if err := FetchNotes(ctx, a, "origin", 10*time.Second); err != nil {
		t.Fatalf("fetch before anyone pushed notes: %v", err)
	}

	if err := AddNote(ctx, a, commit, ra); err != nil {
		t.Fatal(err)
	}
	if err := PushNotes(ctx, a, "origin", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// b never fetched a's notes: its push is a non-fast-forward that must
	// fetch, merge and retry.
	if err := AddNote(ctx, b, commit, rb); err != nil {
		t.Fatal(err)
	}
	if err := PushNotes(ctx, b, "origin", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	parents := strings.Fields(gittest.Git(t, b.Root, "rev-list", "--parents", "-n", "1", NotesRef))
	if len(parents) != 3 {
		t.Errorf("b's notes should be a merge of both histories, got %v", parents)
	}
	if got := gittest.Git(t, b.Root, "rev-parse", NotesRef); got != gittest.Git(t, a.Root, "ls-remote", "origin", NotesRef)[:len(got)] {
		t.Errorf("remote notes are not b's merge")
	}

	c := clone(t, remote)
	if got, err := ReadNotes(ctx, c); err != nil || len(got) != 0 {
		t.Fatalf("fresh clone has notes before fetching: %+v, %v", got, err)
	}
	if err := FetchNotes(ctx, c, "origin", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	got, err := ReadNotes(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []Record{ra, rb}) {
		t.Errorf("third clone reads %+v\nwant %+v", got, []Record{ra, rb})
	}
	// The merged note on the one commit holds both lines.
	if note := gittest.Git(t, c.Root, "notes", "--ref", NotesRef, "show", commit); strings.Count(note, "\n") != 1 {
		t.Errorf("merged note:\n%s", note)
	}

	// a catches up by fetching: its local notes merge fast-forward.
	if err := FetchNotes(ctx, a, "origin", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if got, _ := ReadNotes(ctx, a); len(got) != 2 {
		t.Errorf("a after fetch: %+v", got)
	}
}

func TestFetchNotesUnreachable(t *testing.T) {
	gitEnv(t)
	remote, _ := remoteWithCommit(t)
	r := clone(t, remote)
	missing := filepath.Join(t.TempDir(), "no-such-remote.git")
	start := time.Now()
	err := FetchNotes(context.Background(), r, missing, 5*time.Second)
	if err == nil {
		t.Fatal("fetch from a missing remote succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v, beyond the timeout", d)
	}
	if !strings.Contains(err.Error(), "fetch deploy notes from "+missing) {
		t.Errorf("error does not say what failed: %v", err)
	}
	if err := PushNotes(context.Background(), r, "-x", time.Second); err == nil {
		t.Error("a remote that looks like an option was accepted")
	}
}

// A remote that never answers (a transport that hangs) is cut off at the
// timeout.
func TestFetchNotesHangingRemote(t *testing.T) {
	gitEnv(t)
	remote, _ := remoteWithCommit(t)
	r := clone(t, remote)
	gittest.Git(t, r.Root, "config", "protocol.ext.allow", "always")
	start := time.Now()
	err := FetchNotes(context.Background(), r, "ext::sleep 12", time.Second)
	d := time.Since(start)
	if err == nil {
		t.Fatal("fetch from a hanging remote succeeded")
	}
	if d > 5*time.Second {
		t.Errorf("took %v with a 1s timeout", d)
	}
	if !strings.Contains(err.Error(), "gave up after 1s") {
		t.Errorf("error does not say it timed out: %v", err)
	}
}

// On a machine without a git identity (a CI runner) notes are still written,
// under guard's own name: the operator is in the record.
func TestAddNoteWithoutIdentity(t *testing.T) {
	gitEnv(t)
	remote, commit := remoteWithCommit(t)
	for _, k := range []string{"GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"} {
		os.Unsetenv(k) // t.Setenv above restores them
	}
	gittest.Git(t, "", "config", "--global", "--remove-section", "user")
	gittest.Git(t, "", "config", "--global", "user.useConfigOnly", "true")
	r := clone(t, remote)
	if _, err := r.Git(context.Background(), "var", "GIT_COMMITTER_IDENT"); err == nil {
		t.Fatal("the test needs a repository without an identity")
	}
	if err := AddNote(context.Background(), r, commit, deployRecord("api", commit, "v1", 2)); err != nil {
		t.Fatal(err)
	}
	if who := gittest.Git(t, r.Root, "log", "-1", "--format=%cn <%ce>", NotesRef); who != "guard <guard@localhost>" {
		t.Errorf("notes committed by %q", who)
	}
}

// Outcome completes a pending record: same operation, Ref naming it, and
// the chain fields left for Append.
func TestOutcome(t *testing.T) {
	pending := deployRecord("api", "abc", "v1", 7)
	pending.Status = StatusPending
	out := Outcome(pending)
	if out.Ref != 7 || out.Seq != 0 || out.Prev != "" || !out.Time.IsZero() {
		t.Errorf("Outcome = seq %d ref %d prev %q time %v", out.Seq, out.Ref, out.Prev, out.Time)
	}
	if out.Worker != "api" || out.Commit != "abc" || out.VersionID != "v1" || out.Status != StatusPending {
		t.Errorf("Outcome lost the operation's fields: %+v", out)
	}
}

// Share publishes final records only, on their commit and on the remote,
// and says what it could not share.
func TestShare(t *testing.T) {
	gitEnv(t)
	ctx := context.Background()
	remote, commit := remoteWithCommit(t)
	r := clone(t, remote)

	rec := deployRecord("api", commit, "v1", 2)
	rec.Status = StatusPending
	if err := Share(ctx, r, "origin", 0, rec, nil); err != nil {
		t.Fatalf("sharing a pending record: %v", err)
	}
	if got, err := ReadNotes(ctx, r); err != nil || len(got) != 0 {
		t.Fatalf("a pending record was shared: %+v, %v", got, err)
	}

	rec.Status = StatusSucceeded
	if err := Share(ctx, r, "origin", 0, rec, nil); err != nil {
		t.Fatal(err)
	}
	c := clone(t, remote)
	if err := FetchNotes(ctx, c, "origin", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadNotes(ctx, c); err != nil || !reflect.DeepEqual(got, []Record{rec}) {
		t.Errorf("the remote's notes hold %+v (%v), want the shared record", got, err)
	}

	noCommit := rec
	noCommit.Kind, noCommit.Commit = KindRollback, ""
	if err := Share(ctx, r, "origin", 0, noCommit, nil); err == nil || !strings.Contains(err.Error(), "the rollback record was not shared through "+NotesRef) {
		t.Errorf("a record without a commit: %v", err)
	}

	later := deployRecord("api", commit, "v2", 4)
	missing := filepath.Join(t.TempDir(), "gone.git")
	err := Share(ctx, r, missing, time.Second, later, nil)
	if err == nil || !strings.Contains(err.Error(), "the deploy record was not pushed to "+missing) {
		t.Errorf("an unreachable remote: %v", err)
	}
	if got, _ := ReadNotes(ctx, r); len(got) != 2 {
		t.Errorf("the note stays in this clone when the push fails: %+v", got)
	}
}
