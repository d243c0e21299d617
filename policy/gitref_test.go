package policy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// This file runs the real git as the reference for trailer handling.

// gitEnv is a clean environment: no user or system configuration, no
// repository discovery, C locale, GUARD=1 as for every child of guard.
func gitEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GIT_") || strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"GUARD=1",
		"HOME="+home,
		"LC_ALL=C",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_CEILING_DIRECTORIES="+filepath.Dir(home),
	)
}

// gitTrailers runs one `git -c core.commentChar=<cc> interpret-trailers
// --in-place <args> <files>` over all inputs (one process for all of them)
// and returns the rewritten files. A missing git fails the test.
func gitTrailers(t testing.TB, cc string, inputs [][]byte, args ...string) [][]byte {
	t.Helper()
	if len(inputs) == 0 {
		return nil
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is required as the reference for trailers: %v", err)
	}
	dir := t.TempDir()
	files := make([]string, len(inputs))
	for i, in := range inputs {
		files[i] = fmt.Sprintf("m%05d", i)
		if err := os.WriteFile(filepath.Join(dir, files[i]), in, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := append([]string{"-c", "core.commentChar=" + cc, "interpret-trailers", "--in-place"}, args...)
	cmd := exec.CommandContext(ctx, "git", append(argv, files...)...)
	cmd.Dir = dir
	cmd.Env = gitEnv(dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("git %s: %v: %s", strings.Join(argv, " "), err, stderr.String())
	}
	out := make([][]byte, len(inputs))
	for i, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

// gitWouldHang reports a message git 2.39 loops on forever: a "---"
// divider line before a scissors line (see message.go).
func gitWouldHang(msg []byte, cc string) bool {
	sc := bytes.Index(msg, []byte("\n"+cc+" "+cutLine+"\n"))
	if sc < 0 {
		return false
	}
	for _, l := range splitLines(msg[:sc+1]) {
		if len(l) > 3 && bytes.HasPrefix(l, []byte("---")) && isSpace(l[3]) {
			return true
		}
	}
	return false
}

type corpusMessage struct {
	file, sha string
	msg       []byte
}

// readCommitCorpus splits the git-log corpus files into messages. A record
// holds git log's %B followed by the newline the format adds, which is
// dropped to get the message as stored.
func readCommitCorpus(t testing.TB) []corpusMessage {
	t.Helper()
	files, err := filepath.Glob("testdata/commits/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no commit corpus: %v", err)
	}
	var out []corpusMessage
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		const start, end = "=====8<===== commit ", "=====>8====="
		recs := bytes.Split(data, []byte("\n"+start))
		for _, r := range recs[1:] {
			sha, rest, ok := bytes.Cut(r, []byte("\n"))
			if !ok {
				t.Fatalf("%s: bad record %q", f, r)
			}
			_, body, ok := bytes.Cut(rest, []byte("\n-----\n"))
			i := bytes.LastIndex(body, []byte("\n"+end))
			if !ok || i < 0 {
				t.Fatalf("%s %s: bad record", f, sha)
			}
			out = append(out, corpusMessage{file: filepath.Base(f), sha: string(sha), msg: body[:i]})
		}
	}
	return out
}

func TestReadCommitCorpus(t *testing.T) {
	msgs := readCommitCorpus(t)
	if len(msgs) != 1261 {
		t.Fatalf("read %d messages, the corpus has 1261", len(msgs))
	}
	// Spot checks against the files.
	var crlf, noEOL int
	for _, m := range msgs {
		if bytes.Contains(m.msg, []byte("\r\n")) {
			crlf++
		}
		if !bytes.HasSuffix(m.msg, []byte("\n")) {
			noEOL++
		}
	}
	if crlf == 0 || noEOL == 0 {
		t.Errorf("expected messages with CRLF (%d) and without a final newline (%d)", crlf, noEOL)
	}
	sc := bufio.NewScanner(strings.NewReader(string(msgs[0].msg)))
	if !sc.Scan() || sc.Text() == "" {
		t.Errorf("first message has no subject: %q", msgs[0].msg)
	}
}
