package gitx

import (
	"context"
	"strings"
	"sync"
)

// Answers about commits named by their full hash never change: their
// trees, the differences between two of them, that they exist. guard asks
// some of them more than once in one command (a rollback reads the
// target's tree for the workers list, then again for the migration check,
// and lists a migrations folder four times), and each question is a git
// process, about 5 ms on a slow machine. So such answers are kept for the
// life of the process, per repository; anything naming a branch, HEAD or
// an abbreviated hash always asks git.

// memoLimit bounds one kept answer: a listing of a very large tree is read
// again rather than held.
const memoLimit = 4 << 20

var memo sync.Map // CommonDir, Root and args, joined by NUL → []byte

// IsFullHash reports whether s is a full SHA-1 or SHA-256 object name in
// git's lower-case hex.
func IsFullHash(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// GitFixed runs git for a question whose answer is fixed once revs (all
// full hashes) are given, reusing an earlier answer. The returned bytes are
// shared: callers only read them. A failure is never kept.
func (r *Repo) GitFixed(ctx context.Context, revs []string, args ...string) ([]byte, error) {
	for _, rev := range revs {
		if !IsFullHash(rev) {
			return r.Git(ctx, args...)
		}
	}
	key := r.CommonDir + "\x00" + r.Root + "\x00" + strings.Join(args, "\x00")
	if out, ok := memo.Load(key); ok {
		return out.([]byte), nil
	}
	out, err := r.Git(ctx, args...)
	if err == nil && len(out) <= memoLimit {
		memo.Store(key, out)
	}
	return out, err
}

// ForgetFixedAnswers drops every kept answer: a benchmark that runs a
// whole command many times in one process measures each run as a fresh
// command would.
func ForgetFixedAnswers() { memo.Clear() }
