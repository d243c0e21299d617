// Package lease is guard's team-wide deploy lock: one deploy per worker
// across every clone (teammates, CI), held as a ref on the shared remote.
//
// Contract:
//   - A lease is the ref refs/guard/locks/<worker> on the remote, pointing
//     to a commit (empty tree) whose message is the Holder as JSON: who,
//     host, process, start, expiry and a random ID.
//   - Acquire creates it with one atomic push that fails when the ref
//     exists (`git push --force-with-lease=<ref>:` — an empty expected
//     value), so two clones can never both hold it. When it exists the
//     holder is fetched and returned in a *HeldError.
//   - Release deletes the ref only while it is still this lease's
//     (--force-with-lease=<ref>:<our commit>); a lease someone broke is left
//     alone.
//   - Break replaces an expired lease (or one whose holder is a dead
//     process of this machine's PID space) with a new one in one atomic push
//     (--force-with-lease=<ref>:<their commit>): there is no moment without
//     a holder. A live, unexpired lease is never broken.
//   - Renew moves a held lease's expiry forward with the same kind of push
//     (expected value: this lease's commit), so a long hold keeps it; a
//     lease someone broke meanwhile is a *LostError, never taken back.
//   - No push carries a forced refspec ("+"): git lets "+" override
//     --force-with-lease, and two clones could both break one lease.
//   - Errors that mean "the remote could not be reached" (as opposed to
//     "the remote refused: someone holds it") are *UnreachableError, so a
//     caller can treat the lease as best-effort.
//   - Pushes run without hooks (--no-verify): the lease is bookkeeping, not
//     code under the push policy.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/internal/proc"
	"github.com/guardcm/guard/ledger"
)

// RefPrefix is where leases live on the remote.
const RefPrefix = "refs/guard/locks/"

// localPrefix is where this clone keeps the last lease it fetched.
const localPrefix = "refs/guard/remote-locks/"

// Holder describes who holds a lease.
type Holder struct {
	Worker   string `json:"worker"`
	Operator string `json:"operator"`
	Host     string `json:"host"`
	PID      int    `json:"pid"`
	// Machine names the process-ID space PID belongs to (Linux: the boot
	// ID and the PID namespace), "" where it cannot be told: only a holder
	// of this very space can be known dead (DeadHere). A host name alone
	// is not enough: containers and CI runners share names.
	Machine string    `json:"machine,omitempty"`
	Command string    `json:"command,omitempty"`
	Started time.Time `json:"started"`
	Expires time.Time `json:"expires"`
	ID      string    `json:"id"`
}

func (h Holder) String() string {
	who := h.Operator
	if who == "" {
		who = "unknown operator"
	}
	return fmt.Sprintf("%s on %s (pid %d), since %s, until %s", who, h.Host, h.PID,
		h.Started.UTC().Format(time.RFC3339), h.Expires.UTC().Format(time.RFC3339))
}

// Expired reports whether the lease's time is up at now.
func (h Holder) Expired(now time.Time) bool { return !now.Before(h.Expires) }

// Lease is a held lease.
type Lease struct {
	Holder Holder
	// Broken is the lease this one replaced (Break), or nil.
	Broken *Holder

	repo   *gitx.Repo
	remote string
	commit string
}

// HeldError is the answer when someone else holds the lease.
type HeldError struct {
	Remote string
	Holder Holder
	// Commit is the lease's commit, for Break.
	Commit string
}

func (e *HeldError) Error() string {
	if e.Holder.Worker == "" {
		return fmt.Sprintf("another deploy holds the team lock %s on %s (its holder could not be read)", RefPrefix+"…", e.Remote)
	}
	return fmt.Sprintf("another deploy of %s holds the team lock on %s: %s", e.Holder.Worker, e.Remote, e.Holder)
}

// UnreachableError is a lease operation the remote did not answer (offline,
// no such remote, a server that refuses guard's refs).
type UnreachableError struct {
	Remote string
	Err    error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("team lock on %s unavailable: %v", e.Remote, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Ref is the lease ref of worker.
func Ref(worker string) string { return RefPrefix + worker }

// NewHolder describes this process as the holder of worker's lease for
// ttl from now.
func NewHolder(worker, operator string, now time.Time, ttl time.Duration) Holder {
	host, _ := os.Hostname()
	var id [8]byte
	_, _ = rand.Read(id[:])
	return Holder{
		Worker: worker, Operator: operator, Host: host, PID: os.Getpid(), Machine: machine(), Command: ledger.CommandLine(),
		Started: now.UTC(), Expires: now.Add(ttl).UTC(), ID: hex.EncodeToString(id[:]),
	}
}

// machine identifies this process's PID space: the kernel's boot ID and
// the PID namespace. "" where /proc does not tell.
func machine() string {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(boot)) + "/" + ns
}

// validWorker refuses names that would not make one ref component.
func validWorker(worker string) error {
	if worker == "" || strings.ContainsAny(worker, " ~^:?*[\\\x00\x7f") || strings.Contains(worker, "..") ||
		strings.HasPrefix(worker, "-") || strings.HasPrefix(worker, ".") || strings.HasSuffix(worker, ".lock") || strings.Contains(worker, "/") {
		return fmt.Errorf("team lock: worker name %q cannot name a ref", worker)
	}
	return nil
}

// Acquire takes worker's lease on remote for h. A held lease is a
// *HeldError; an unreachable remote an *UnreachableError.
func Acquire(ctx context.Context, repo *gitx.Repo, remote string, h Holder) (*Lease, error) {
	if err := validWorker(h.Worker); err != nil {
		return nil, err
	}
	commit, err := writeHolder(ctx, repo, h)
	if err != nil {
		return nil, err
	}
	ref := Ref(h.Worker)
	if err := push(ctx, repo, remote, "--force-with-lease="+ref+":", commit+":"+ref); err != nil {
		if isRejected(err) {
			return nil, held(ctx, repo, remote, h.Worker)
		}
		return nil, classify(remote, err)
	}
	return &Lease{Holder: h, repo: repo, remote: remote, commit: commit}, nil
}

// Break replaces worker's lease when it has expired at now, or when its
// holder is a process of this host that no longer runs, with one for h.
// A live lease is a *HeldError; no lease at all simply acquires.
func Break(ctx context.Context, repo *gitx.Repo, remote string, h Holder, now time.Time) (*Lease, error) {
	l, err := Acquire(ctx, repo, remote, h)
	var he *HeldError
	if !errors.As(err, &he) {
		return l, err
	}
	if he.Commit == "" || !(he.Holder.Expired(now) || he.Holder.DeadHere()) {
		return nil, he
	}
	commit, err := writeHolder(ctx, repo, h)
	if err != nil {
		return nil, err
	}
	ref := Ref(h.Worker)
	if err := push(ctx, repo, remote, "--force-with-lease="+ref+":"+he.Commit, commit+":"+ref); err != nil {
		if isRejected(err) {
			return nil, held(ctx, repo, remote, h.Worker) // someone else broke or renewed it first
		}
		return nil, classify(remote, err)
	}
	broken := he.Holder
	return &Lease{Holder: h, Broken: &broken, repo: repo, remote: remote, commit: commit}, nil
}

// DeadHere reports whether h was taken by a process of this machine's
// PID space that no longer exists: a deploy killed here, whose lease
// nobody else can hold. (A reused PID makes it look alive: the safe side.)
func (h Holder) DeadHere() bool {
	m := machine()
	if m == "" || h.Machine != m || h.PID <= 0 || h.PID == os.Getpid() {
		return false
	}
	err := syscall.Kill(h.PID, 0)
	return errors.Is(err, syscall.ESRCH)
}

// Release deletes the lease if it is still this one. Releasing twice, or a
// lease someone broke in the meantime, is harmless.
func (l *Lease) Release(ctx context.Context) error {
	if l == nil || l.commit == "" {
		return nil
	}
	ref := Ref(l.Holder.Worker)
	err := push(ctx, l.repo, l.remote, "--force-with-lease="+ref+":"+l.commit, ":"+ref)
	l.commit = ""
	if err != nil && !isRejected(err) {
		return fmt.Errorf("team lock %s on %s not released (it expires at %s): %w", ref, l.remote, l.Holder.Expires.UTC().Format(time.RFC3339), classify(l.remote, err))
	}
	return nil
}

// LostError is a Renew that found the lease no longer this one: it expired
// and someone broke it, or it was released.
type LostError struct {
	Remote string
	Worker string
	// Holder is who holds it now, when someone does.
	Holder *Holder
}

func (e *LostError) Error() string {
	if e.Holder == nil {
		return fmt.Sprintf("the team lock of %s on %s is no longer this deploy's: it was released", e.Worker, e.Remote)
	}
	return fmt.Sprintf("the team lock of %s on %s is no longer this deploy's: %s holds it", e.Worker, e.Remote, e.Holder)
}

// Renew extends the lease to ttl after now while it is still this one: one
// atomic push whose expected value is this lease's commit. A lease someone
// broke or released is a *LostError (and is left alone); an unreachable
// remote an *UnreachableError, the lease unchanged.
func (l *Lease) Renew(ctx context.Context, now time.Time, ttl time.Duration) error {
	if l == nil || l.commit == "" {
		return fmt.Errorf("team lock: renewing a lease that is not held")
	}
	h := l.Holder
	h.Expires = now.Add(ttl).UTC()
	commit, err := writeHolder(ctx, l.repo, h)
	if err != nil {
		return err
	}
	ref := Ref(h.Worker)
	if err := push(ctx, l.repo, l.remote, "--force-with-lease="+ref+":"+l.commit, commit+":"+ref); err != nil {
		if !isRejected(err) {
			return classify(l.remote, err)
		}
		lost := &LostError{Remote: l.remote, Worker: h.Worker}
		if cur, _, ok, rerr := Read(ctx, l.repo, l.remote, h.Worker); rerr == nil && ok {
			lost.Holder = &cur
		}
		l.commit = "" // never release what is someone else's
		return lost
	}
	l.commit, l.Holder = commit, h
	return nil
}

// Read returns worker's lease on remote, ok false when there is none.
func Read(ctx context.Context, repo *gitx.Repo, remote, worker string) (Holder, string, bool, error) {
	if err := validWorker(worker); err != nil {
		return Holder{}, "", false, err
	}
	local := localPrefix + worker
	_, err := repo.Git(ctx, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules", "--end-of-options", remote, "+"+Ref(worker)+":"+local)
	if err != nil {
		var ee *proc.ExitError
		if errors.As(err, &ee) && strings.Contains(ee.Stderr, "couldn't find remote ref") {
			_, _ = repo.Git(ctx, "update-ref", "-d", local)
			return Holder{}, "", false, nil
		}
		return Holder{}, "", false, classify(remote, err)
	}
	commit, err := repo.GitLine(ctx, "rev-parse", "--verify", local+"^{commit}")
	if err != nil {
		return Holder{}, "", false, err
	}
	msg, err := repo.Git(ctx, "log", "-1", "--format=%B", commit)
	if err != nil {
		return Holder{}, commit, true, err
	}
	var h Holder
	if err := json.Unmarshal([]byte(strings.TrimSpace(string(msg))), &h); err != nil {
		return Holder{Worker: worker}, commit, true, fmt.Errorf("team lock %s on %s: not a guard lease: %v", Ref(worker), remote, err)
	}
	return h, commit, true, nil
}

func held(ctx context.Context, repo *gitx.Repo, remote, worker string) error {
	h, commit, ok, err := Read(ctx, repo, remote, worker)
	if err != nil {
		var ue *UnreachableError
		if errors.As(err, &ue) {
			return err
		}
		return &HeldError{Remote: remote, Holder: Holder{Worker: worker}, Commit: commit}
	}
	if !ok {
		// Released between our push and our read: report it as held
		// once; the caller's retry will find it free.
		return &HeldError{Remote: remote, Holder: Holder{Worker: worker}}
	}
	return &HeldError{Remote: remote, Holder: h, Commit: commit}
}

// writeHolder stores h as the message of a commit of the empty tree.
func writeHolder(ctx context.Context, repo *gitx.Repo, h Holder) (string, error) {
	data, err := json.Marshal(h)
	if err != nil {
		return "", err
	}
	tree, err := repo.GitLine(ctx, "hash-object", "-t", "tree", "-w", os.DevNull)
	if err != nil {
		return "", fmt.Errorf("team lock: %w", err)
	}
	args := append(append([]string{}, ledger.FallbackIdent...), "commit-tree", tree, "-m", string(data))
	commit, err := repo.GitLine(ctx, args...)
	if err != nil {
		return "", fmt.Errorf("team lock: %w", err)
	}
	return commit, nil
}

func push(ctx context.Context, repo *gitx.Repo, remote string, args ...string) error {
	if remote == "" || strings.HasPrefix(remote, "-") {
		return fmt.Errorf("team lock: invalid git remote %q", remote)
	}
	full := append([]string{"push", "--quiet", "--no-verify"}, args[0])
	full = append(full, "--end-of-options", remote)
	full = append(full, args[1:]...)
	_, err := repo.Git(ctx, full...)
	return err
}

// isRejected reports whether a push failed because the remote refused the
// update (the lease's expectation did not hold), not because it could not
// be reached.
func isRejected(err error) bool {
	var ee *proc.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	s := ee.Stderr
	return strings.Contains(s, "stale info") || strings.Contains(s, "[rejected]") || strings.Contains(s, "already exists") ||
		strings.Contains(s, "failed to update ref") || strings.Contains(s, "cannot lock ref")
}

func classify(remote string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &UnreachableError{Remote: remote, Err: err}
}
