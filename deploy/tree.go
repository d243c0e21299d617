package deploy

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/guardcm/guard/internal/gitx"
)

// Divergence is one reason the work tree is not exactly the remote branch.
// Path is the file (relative to the root, slash separated) or, for a
// commit, its short hash; Reason says what is wrong with it.
type Divergence struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

func (d Divergence) String() string {
	if d.Path == "" {
		return d.Reason
	}
	return d.Path + ": " + d.Reason
}

// Reasons, as printed. Commit reasons are completed with the remote branch.
const (
	ReasonModified       = "modified, not staged"
	ReasonStaged         = "staged"
	ReasonDeleted        = "deleted"
	ReasonTypeChanged    = "type changed, not staged"
	ReasonUntracked      = "untracked"
	ReasonIgnored        = "ignored, and isolation = \"checkout\" deploys from the working directory"
	ReasonUnmerged       = "unmerged (merge conflict)"
	ReasonSubCommit      = "submodule checked out at another commit"
	ReasonSubModified    = "submodule has modified content"
	ReasonSubUntracked   = "submodule has untracked content"
	reasonCommitAhead    = "commit not on %s: %s"
	reasonCommitBehind   = "%s has commits HEAD lacks: %s"
	reasonNoRemoteBranch = "%s does not exist: fetch it (or push the branch) first"
)

// ClassifyStatus turns `git status --porcelain=v2` entries into
// divergences. Untracked files are refused unless allowUntracked, in which
// case they are returned in untracked instead (to be listed in the ledger
// record). Ignored entries ("!!") are not divergences, and neither is
// anything in a .wrangler directory (wrangler's cache, rewritten on every
// run). Pure: no git.
func ClassifyStatus(entries []gitx.Status, allowUntracked bool) (divs []Divergence, untracked []string) {
	for _, e := range entries {
		if inWranglerDir(e.Path) {
			continue
		}
		switch e.Code {
		case "!!":
			continue
		case "??":
			if allowUntracked {
				untracked = append(untracked, e.Path)
			} else {
				divs = append(divs, Divergence{Path: e.Path, Reason: ReasonUntracked})
			}
			continue
		case "u":
			divs = append(divs, Divergence{Path: e.Path, Reason: ReasonUnmerged})
			continue
		}
		var reasons []string
		x, y := byte('.'), byte('.')
		if len(e.Code) == 2 {
			x, y = e.Code[0], e.Code[1]
		}
		switch x {
		case '.':
		case 'A':
			reasons = append(reasons, "added, staged")
		case 'D':
			reasons = append(reasons, "deleted, staged")
		case 'R':
			reasons = append(reasons, "renamed from "+e.Orig+", staged")
		case 'C':
			reasons = append(reasons, "copied from "+e.Orig+", staged")
		default:
			reasons = append(reasons, ReasonStaged)
		}
		if strings.HasPrefix(e.Submodule, "S") && len(e.Submodule) == 4 {
			// For a submodule the worktree column only says "something";
			// the sub field says what.
			if e.Submodule[1] == 'C' {
				reasons = append(reasons, ReasonSubCommit)
			}
			if e.Submodule[2] == 'M' {
				reasons = append(reasons, ReasonSubModified)
			}
			if e.Submodule[3] == 'U' {
				reasons = append(reasons, ReasonSubUntracked)
			}
		} else {
			switch y {
			case '.':
			case 'D':
				reasons = append(reasons, ReasonDeleted)
			case 'T':
				reasons = append(reasons, ReasonTypeChanged)
			default:
				reasons = append(reasons, ReasonModified)
			}
		}
		if len(reasons) == 0 {
			continue
		}
		divs = append(divs, Divergence{Path: e.Path, Reason: strings.Join(reasons, "; ")})
	}
	return divs, untracked
}

// CommitLine is a commit named in a divergence.
type CommitLine struct {
	Hash    string
	Subject string
}

// ClassifyCommits describes the commits HEAD has that the remote branch
// lacks (ahead) and those the remote branch has that HEAD lacks (behind).
// Pure: no git.
func ClassifyCommits(remoteBranch string, ahead, behind []CommitLine) []Divergence {
	var divs []Divergence
	for _, c := range ahead {
		divs = append(divs, Divergence{Path: gitx.ShortHash(c.Hash), Reason: fmt.Sprintf(reasonCommitAhead, remoteBranch, c.Subject)})
	}
	for _, c := range behind {
		divs = append(divs, Divergence{Path: gitx.ShortHash(c.Hash), Reason: fmt.Sprintf(reasonCommitBehind, remoteBranch, c.Subject)})
	}
	return divs
}

// TreeState is the result of CheckTree.
type TreeState struct {
	// Head is HEAD's full hash; Tree its tree's.
	Head, Tree string
	// Divergences refuse the deploy when not empty.
	Divergences []Divergence
	// Untracked lists the untracked files let through by allowUntracked.
	Untracked []string
	// Ahead and Behind count commits against the remote branch.
	Ahead, Behind int
}

// maxListedCommits bounds the commits named per direction: a checkout a
// hundred commits behind needs a pull, not a hundred lines.
const maxListedCommits = 20

// CheckTree compares the work tree, the index and HEAD with remoteRef (a
// full ref such as refs/remotes/origin/main; remoteBranch is how it is
// named in messages, "origin/main"). It runs `git status --porcelain=v2`
// and `git rev-list --left-right --count`, and lists commits only when
// there are some: two git processes for a clean tree.
func CheckTree(ctx context.Context, repo *gitx.Repo, remoteRef, remoteBranch string, allowUntracked bool) (*TreeState, error) {
	type statusResult struct {
		entries []gitx.Status
		err     error
	}
	// Status walks the tree while rev-list walks the graph: run them
	// side by side.
	sc := make(chan statusResult, 1)
	go func() {
		e, err := repo.StatusAll(ctx)
		sc <- statusResult{e, err}
	}()
	st := &TreeState{}
	out, err := repo.Git(ctx, "rev-parse", "HEAD^{commit}", "HEAD^{tree}")
	if err != nil {
		<-sc
		return nil, fmt.Errorf("HEAD does not name a commit (nothing committed yet?): %w", err)
	}
	hashes := strings.Fields(string(out))
	if len(hashes) != 2 {
		<-sc
		return nil, fmt.Errorf("git rev-parse HEAD: unexpected output %q", out)
	}
	st.Head, st.Tree = hashes[0], hashes[1]
	var commitDivs []Divergence
	if _, ok, err := repo.RefHash(ctx, remoteRef); err != nil {
		<-sc
		return nil, err
	} else if !ok {
		commitDivs = append(commitDivs, Divergence{Reason: fmt.Sprintf(reasonNoRemoteBranch, remoteBranch)})
	} else {
		line, err := repo.GitLine(ctx, "rev-list", "--left-right", "--count", "HEAD..."+remoteRef)
		if err != nil {
			<-sc
			return nil, err
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			<-sc
			return nil, fmt.Errorf("git rev-list --left-right --count: unexpected output %q", line)
		}
		st.Ahead, _ = strconv.Atoi(f[0])
		st.Behind, _ = strconv.Atoi(f[1])
		var ahead, behind []CommitLine
		if st.Ahead > 0 {
			if ahead, err = commitLines(ctx, repo, "HEAD", "^"+remoteRef); err != nil {
				<-sc
				return nil, err
			}
		}
		if st.Behind > 0 {
			if behind, err = commitLines(ctx, repo, remoteRef, "^HEAD"); err != nil {
				<-sc
				return nil, err
			}
		}
		commitDivs = ClassifyCommits(remoteBranch, ahead, behind)
		if n := st.Ahead - len(ahead); n > 0 {
			commitDivs = append(commitDivs, Divergence{Reason: fmt.Sprintf("and %d more commits not on %s", n, remoteBranch)})
		}
		if n := st.Behind - len(behind); n > 0 {
			commitDivs = append(commitDivs, Divergence{Reason: fmt.Sprintf("and %d more commits on %s that HEAD lacks", n, remoteBranch)})
		}
	}
	sr := <-sc
	if sr.err != nil {
		return nil, sr.err
	}
	st.Divergences, st.Untracked = ClassifyStatus(sr.entries, allowUntracked)
	// git lists tracked paths before untracked ones; one sorted list reads
	// better.
	sort.SliceStable(st.Divergences, func(i, j int) bool { return st.Divergences[i].Path < st.Divergences[j].Path })
	st.Divergences = append(st.Divergences, commitDivs...)
	return st, nil
}

func commitLines(ctx context.Context, repo *gitx.Repo, revs ...string) ([]CommitLine, error) {
	args := append([]string{"log", "-z", "--format=%H %s", fmt.Sprintf("--max-count=%d", maxListedCommits)}, revs...)
	out, err := repo.Git(ctx, append(args, "--")...)
	if err != nil {
		return nil, err
	}
	var res []CommitLine
	for _, rec := range bytes.Split(out, []byte{0}) {
		s := strings.TrimSpace(string(rec))
		if s == "" {
			continue
		}
		h, subj, _ := strings.Cut(s, " ")
		res = append(res, CommitLine{Hash: h, Subject: subj})
	}
	return res, nil
}
