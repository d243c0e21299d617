package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/guardcm/guard/internal/gitx"
)

// Hooks folders inside the work tree (husky's .husky/, a committed
// .githooks/) are shared through git: a machine-specific path written there
// would be committed for everyone, and replacing a tracked hook leaves the
// tree dirty by surprise. There, guard adds a marked block to the hook the
// repository already has (creating the file when there is none), and the
// block runs `guard hook <name>` found on PATH, failing with a clear
// message on a machine where guard is not installed. The block is
// identical on every machine, so once committed, `guard install` on a
// teammate's clone finds it up to date and changes nothing.

// Block markers. The first line says what to do with it.
const (
	blockBegin = "# >>> guard: change-management checks (written by 'guard install'; commit this block) >>>"
	blockEnd   = "# <<< guard <<<"
)

// block is the portable text guard puts into hook in a tracked folder.
func block(hook string) string {
	return blockBegin + `
if command -v guard >/dev/null 2>&1; then
  guard hook ` + hook + ` "$@" || exit $?
else
  echo "guard: the ` + hook + ` hook needs guard, which is not installed on this machine (not on PATH)" >&2
  echo "guard: hint: install guard (README: go install ./cmd/guard from a clone of guard), then retry" >&2
  exit 1
fi
` + blockEnd + "\n"
}

// Layout is where a repository's hooks live and how guard installs there.
type Layout struct {
	// Dir is the folder git runs hooks from (core.hooksPath).
	Dir string
	// Files is where guard's hook text goes: Dir, or for husky 9 (whose
	// core.hooksPath is the generated, ignored .husky/_) the tracked
	// .husky folder those generated wrappers run.
	Files string
	// Tracked is set when Files lies inside the work tree and is not
	// ignored: guard writes portable blocks there, never a script with an
	// absolute path.
	Tracked bool
	// Husky is set when the folder is husky's.
	Husky bool
}

// Locate finds the layout of repo's hooks.
func Locate(ctx context.Context, repo *gitx.Repo) (Layout, error) {
	dir, err := HooksDir(ctx, repo)
	if err != nil {
		return Layout{}, err
	}
	l := Layout{Dir: dir, Files: dir}
	rel, err := filepath.Rel(repo.Root, dir)
	if err != nil || !filepath.IsLocal(rel) || within(repo.GitDir, dir) || within(repo.CommonDir, dir) {
		return l, nil // under .git or outside the work tree: this machine's own
	}
	if filepath.Base(dir) == "_" && filepath.Base(filepath.Dir(dir)) == ".husky" {
		// husky 9: .husky/_/<hook> is generated and runs .husky/<hook>.
		l.Files, l.Husky = filepath.Dir(dir), true
		rel = filepath.Dir(rel)
	}
	l.Husky = l.Husky || filepath.Base(l.Files) == ".husky"
	// An ignored folder inside the tree is as private as .git/hooks.
	if _, err := repo.Git(ctx, "check-ignore", "-q", "--no-index", "--", filepath.ToSlash(rel)+"/"); err == nil {
		return l, nil
	}
	l.Tracked = true
	return l, nil
}

// within reports whether p is dir or inside it.
func within(dir, p string) bool {
	if dir == "" {
		return false
	}
	rel, err := filepath.Rel(dir, p)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}

// cutBlock splits data around guard's block: the text before it, the block
// (markers included) and the text after. ok=false when there is none.
func cutBlock(data []byte) (before, blk, after []byte, ok bool) {
	i := bytes.Index(data, []byte(blockBegin))
	if i < 0 || (i > 0 && data[i-1] != '\n') {
		return data, nil, nil, false
	}
	j := bytes.Index(data[i:], []byte(blockEnd))
	if j < 0 {
		return data[:i], data[i:], nil, true // an end marker lost by hand: the rest is the block
	}
	end := i + j + len(blockEnd)
	if end < len(data) && data[end] == '\n' {
		end++
	}
	return data[:i], data[i:end], data[end:], true
}

// withBlock returns data with guard's block for hook in place: replaced
// where it is, else appended (after a blank line), else a new sh script.
func withBlock(data []byte, hook string) []byte {
	b := []byte(block(hook))
	if before, _, after, ok := cutBlock(data); ok {
		return append(append(append([]byte{}, before...), b...), after...)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return append([]byte("#!/bin/sh\n"), b...)
	}
	out := append([]byte{}, data...)
	if !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	if !bytes.HasSuffix(out, []byte("\n\n")) {
		out = append(out, '\n')
	}
	return append(out, b...)
}

// installTracked puts guard's block into each hook of a tracked folder.
func installTracked(l Layout, hooks []string) ([]Action, error) {
	if err := os.MkdirAll(l.Files, 0o755); err != nil {
		return nil, fmt.Errorf("creating the hooks folder: %w", err)
	}
	files, err := readHooks(l.Files, hooks)
	if err != nil {
		return nil, err
	}
	var actions []Action
	for _, f := range files {
		h, path, cur := f.hook, f.path, f.cur
		if cur.present && !cur.regular {
			return actions, fmt.Errorf("%s is a dangling symbolic link; fix or remove it, then run 'guard install' again", path)
		}
		data := cur.data
		what := "added guard's block"
		if cur.p.guard {
			// A script an older guard wrote here, with one machine's path:
			// put back what it replaced, then add the portable block.
			prev := path + PreviousSuffix
			if old, err := os.ReadFile(prev); err == nil {
				data = old
				if err := os.Remove(prev); err != nil {
					return actions, err
				}
			} else if errors.Is(err, fs.ErrNotExist) {
				data = nil
			} else {
				return actions, err
			}
			what = "replaced guard's machine-specific script with the portable block"
		}
		want := withBlock(data, h)
		if cur.present && !cur.p.guard {
			if _, _, _, ok := cutBlock(cur.data); ok {
				what = "updated guard's block"
			}
			if bytes.Equal(cur.data, want) && cur.exec {
				actions = append(actions, Action{h, path, UpToDate})
				continue
			}
		} else if !cur.present {
			what = "created with guard's block"
		}
		if err := writeAtomic(l.Files, h, want); err != nil {
			return actions, err
		}
		actions = append(actions, Action{h, path, what})
	}
	return actions, nil
}

// uninstallTracked removes guard's block; a file left with nothing but a
// shebang is removed.
func uninstallTracked(l Layout, hooks []string) ([]Action, error) {
	files, err := readHooks(l.Files, hooks)
	if err != nil {
		return nil, err
	}
	var actions []Action
	for _, f := range files {
		h, path, cur := f.hook, f.path, f.cur
		before, _, after, ok := cutBlock(cur.data)
		if !cur.present || !ok {
			actions = append(actions, Action{h, path, NotInstalled})
			continue
		}
		rest := append(append([]byte{}, bytes.TrimRight(before, "\n")...), after...)
		if s := strings.TrimSpace(string(rest)); s == "" || s == "#!/bin/sh" {
			if err := os.Remove(path); err != nil {
				return actions, err
			}
			actions = append(actions, Action{h, path, Removed})
			continue
		}
		if !bytes.HasSuffix(rest, []byte("\n")) {
			rest = append(rest, '\n')
		}
		if err := writeAtomic(l.Files, h, rest); err != nil {
			return actions, err
		}
		actions = append(actions, Action{h, path, "removed guard's block"})
	}
	return actions, nil
}

// inspectTracked reports each hook of a tracked folder: whether guard's
// block is there, as written, and which guard PATH finds.
func inspectTracked(l Layout, hooks []string) ([]HookState, error) {
	files, err := readHooks(l.Files, hooks)
	if err != nil {
		return nil, err
	}
	var res []HookState
	for _, f := range files {
		h, path, cur := f.hook, f.path, f.cur
		st := HookState{Hook: h, Path: path, Present: cur.present, Executable: cur.exec, Tracked: true}
		if _, blk, _, ok := cutBlock(cur.data); ok {
			st.Guard = true
			st.Edited = string(blk) != block(h)
			if bin, err := exec.LookPath("guard"); err == nil {
				st.Binary, st.BinaryOK = bin, true
			} else {
				st.Binary = "guard (not on PATH)"
			}
		} else if cur.p.guard {
			st.Guard, st.Binary = true, cur.p.binary
			st.MachineSpecific = true
		}
		res = append(res, st)
	}
	return res, nil
}

// hookFile is one hook of a folder as found on disk.
type hookFile struct {
	hook, path string
	cur        fileState
}

// readHooks reads every hook before anything is changed.
func readHooks(dir string, hooks []string) ([]hookFile, error) {
	var out []hookFile
	for _, h := range hooks {
		path := filepath.Join(dir, h)
		cur, err := readHook(path)
		if err != nil {
			return nil, err
		}
		out = append(out, hookFile{h, path, cur})
	}
	return out, nil
}
