package hooks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/guardcm/guard/config"
	"github.com/guardcm/guard/internal/fail"
	"github.com/guardcm/guard/internal/gitx"
	"github.com/guardcm/guard/policy"
)

// CommitInputs are the git answers commit-msg needs besides the
// repository itself. StartCommitMsg asks for them at once, in parallel with
// opening the repository, so the hook pays for one git start, not three.
type CommitInputs struct {
	done        chan struct{}
	staged      []gitx.FileChange
	stagedErr   error
	commentChar string
	commentErr  error
}

// StartCommitMsg starts the staged diff and, when the message in msgFile
// has a line a comment character could start, the core.commentChar lookup,
// in dir (git runs commit-msg from the top of the work tree).
func StartCommitMsg(ctx context.Context, dir, msgFile string) *CommitInputs {
	in := &CommitInputs{done: make(chan struct{}), commentChar: "#"}
	raw, readErr := os.ReadFile(msgFile)
	askComment := readErr != nil || mayHaveComments(raw)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		in.staged, in.stagedErr = gitx.StagedChangesIn(ctx, dir)
	}()
	if askComment {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in.commentChar, in.commentErr = commentCharIn(ctx, dir)
		}()
	}
	go func() {
		wg.Wait()
		close(in.done)
	}()
	return in
}

// mayHaveComments reports whether a line of msg starts with a character
// that could be git's comment character. core.commentChar is punctuation
// in practice ("#", ";", ...); a message whose lines all start with a
// letter, a digit or white space (every `git commit -m`) reads the same
// whatever it is, and the hook skips asking git.
func mayHaveComments(msg []byte) bool {
	for _, line := range bytes.Split(msg, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		c := line[0]
		isWord := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !isWord && c != ' ' && c != '\t' && c != '\r' {
			return true
		}
	}
	return false
}

// CommitMsg checks, and completes, the commit message in msgFile.
func CommitMsg(ctx context.Context, repo *gitx.Repo, cfg *config.Config, msgFile string, in *CommitInputs, stderr io.Writer) error {
	if !filepath.IsAbs(msgFile) {
		// git runs the hook from the top of the work tree and passes a path
		// relative to it (".git/COMMIT_EDITMSG").
		if wd, err := os.Getwd(); err == nil {
			msgFile = filepath.Join(wd, msgFile)
		}
	}
	raw, err := os.ReadFile(msgFile)
	if err != nil {
		return fail.Usage(fmt.Errorf("cannot read the commit message: %w", err))
	}
	if in == nil {
		in = StartCommitMsg(ctx, repo.Root, msgFile)
	}
	<-in.done
	if in.commentErr != nil {
		return fail.External(in.commentErr)
	}
	commentChar, staged := in.commentChar, in.staged
	msg := policy.ParseMessage(raw, commentChar)
	if msg.IsEmpty() {
		// git aborts an empty commit itself, with its own message.
		return nil
	}
	if policy.IsExempt(msg.Subject()) {
		return nil
	}
	if inMerge(repo) {
		return nil
	}
	explicit, has, perr := msg.Category()
	if perr != nil {
		return fail.Refused(perr, "write one of: "+policy.TrailerKey+": standard | normal | emergency | major")
	}
	if in.stagedErr != nil {
		return fail.External(in.stagedErr)
	}
	inf, err := policy.Infer(Changes(ctx, repo, ":", "HEAD", staged), Rules(cfg))
	if err != nil {
		return fail.Usage(err)
	}
	if has {
		if policy.Understates(explicit, inf.Category) {
			return fail.Refused(
				fmt.Errorf("%s: %s understates this change, which is %s: %s", policy.TrailerKey, explicit, inf.Category, Why(inf)),
				fmt.Sprintf("change the trailer to '%s: %s', or split the commit", policy.TrailerKey, inf.Category))
		}
		return nil
	}
	out := policy.AppendTrailer(raw, policy.TrailerKey, inf.Category.String(), commentChar)
	if !bytes.Equal(out, raw) {
		if err := writeInPlace(msgFile, out); err != nil {
			return fail.External(fmt.Errorf("cannot write the commit message: %w", err))
		}
	}
	fmt.Fprintf(stderr, "guard: %s: %s inferred (%s)\n", policy.TrailerKey, inf.Category, Why(inf))
	return nil
}

// commentChar is git's core.commentChar ("#" unless configured; "auto"
// is left to the parser, which picks what git would).
func commentChar(ctx context.Context, repo *gitx.Repo) (string, error) {
	return commentCharIn(ctx, repo.Root)
}

func commentCharIn(ctx context.Context, dir string) (string, error) {
	v, ok, err := gitx.ConfigValueIn(ctx, dir, "core.commentChar")
	if err != nil || !ok || v == "" {
		return "#", err
	}
	return v, nil
}

// inMerge reports a commit that concludes a merge: git passes its prepared
// message to commit-msg, and merges are exempt from the trailer.
func inMerge(repo *gitx.Repo) bool {
	_, err := os.Stat(filepath.Join(repo.GitDir, "MERGE_HEAD"))
	return err == nil
}

// writeInPlace rewrites the message file keeping its mode. The file is
// git's, so it is rewritten in place rather than replaced.
func writeInPlace(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Why is the short explanation of an inference, for one-line messages.
func Why(inf policy.Inference) string {
	if len(inf.Reasons) == 0 {
		return "no changed paths"
	}
	var parts []string
	for i, r := range inf.Reasons {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(inf.Reasons)-3))
			break
		}
		parts = append(parts, r.Path+": "+r.Why)
	}
	return strings.Join(parts, "; ")
}
