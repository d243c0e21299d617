package wrangler

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/guardcm/guard/internal/wrangler/wranglertest"
)

func TestSplitCommand(t *testing.T) {
	ok := []struct {
		in   string
		want []string
	}{
		{"npx wrangler", []string{"npx", "wrangler"}},
		{"  bunx   wrangler\t", []string{"bunx", "wrangler"}},
		{`"/opt/my tools/wrangler" --x`, []string{"/opt/my tools/wrangler", "--x"}},
		{`'it'\''s' "a \"b\" \\ c" d\ e`, []string{"it's", `a "b" \ c`, "d e"}},
		{`''`, []string{""}},
		{`a""b`, []string{"ab"}},
		{"pnpm exec \\\nwrangler", []string{"pnpm", "exec", "wrangler"}},
		{`'$HOME|;&'`, []string{"$HOME|;&"}},
		{"", nil},
	}
	for _, c := range ok {
		got, err := SplitCommand(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	bad := map[string]string{
		`npx wrangler && rm -rf /`: "shell syntax",
		`wrangler $(evil)`:         "shell syntax",
		"wrangler `evil`":          "shell syntax",
		`"$HOME/wrangler"`:         "expanded by a shell",
		`'unterminated`:            "unterminated single quote at column 1",
		`x "unterminated`:          "unterminated double quote at column 3",
		`trailing\`:                "trailing backslash",
		`a > b`:                    "shell syntax",
	}
	for in, want := range bad {
		if _, err := SplitCommand(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("SplitCommand(%q) error = %v, want %q", in, err, want)
		}
	}
}

// FuzzSplitCommand checks that splitting never panics and that whatever it
// accepts survives a round trip through QuoteCommand.
func FuzzSplitCommand(f *testing.F) {
	for _, s := range []string{"npx wrangler", `"a b" 'c d' e\ f`, `'it'\''s'`, "x \"y\\\"z\"", "a\\\nb", "$x", "'$x'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := SplitCommand(s)
		if err != nil {
			return
		}
		again, err := SplitCommand(QuoteCommand(words))
		if err != nil {
			t.Fatalf("QuoteCommand(%q) = %q does not split: %v", words, QuoteCommand(words), err)
		}
		if len(words) == 0 && len(again) == 0 {
			return
		}
		if !reflect.DeepEqual(words, again) {
			t.Fatalf("round trip of %q: %q → %q", s, words, again)
		}
	})
}

func TestLocate(t *testing.T) {
	repo := t.TempDir()
	got, err := Locate(repo, "")
	if err != nil || !reflect.DeepEqual(got, []string{"npx", "wrangler"}) {
		t.Fatalf("without node_modules: %q %v", got, err)
	}
	bin := filepath.Join(repo, "node_modules", ".bin", "wrangler")
	os.MkdirAll(filepath.Dir(bin), 0o755)
	os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755)
	got, err = Locate(repo, "")
	if err != nil || !reflect.DeepEqual(got, []string{bin}) {
		t.Fatalf("with node_modules: %q %v", got, err)
	}
	got, err = Locate(repo, "npx wrangler@4.86.0")
	if err != nil || !reflect.DeepEqual(got, []string{"npx", "wrangler@4.86.0"}) {
		t.Fatalf("configured: %q %v", got, err)
	}
	got, err = Locate(repo, "./tools/wr --x")
	if err != nil || !reflect.DeepEqual(got, []string{filepath.Join(repo, "tools/wr"), "--x"}) {
		t.Fatalf("relative configured path: %q %v", got, err)
	}
	if _, err := Locate(repo, "npx wrangler | tee log"); err == nil {
		t.Fatal("shell syntax accepted")
	}
	if _, err := Locate(repo, "'' wrangler"); err == nil {
		t.Fatal("empty program name accepted")
	}
}

func TestScrubWriter(t *testing.T) {
	const tok = "SENTINEL-TOKEN-5f1e"
	var out bytes.Buffer
	w := newScrubWriter(&out, tok)
	// The token arrives split over three writes, then whole, then a prefix
	// that ends the stream without completing.
	for _, p := range []string{"auth: Bearer SENTI", "NEL-TOK", "EN-5f1e ok\n", "again " + tok + "\n", "tail SENTIN"} {
		if n, err := w.Write([]byte(p)); err != nil || n != len(p) {
			t.Fatalf("Write(%q) = %d, %v", p, n, err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "auth: Bearer [REDACTED] ok\nagain [REDACTED]\ntail SENTIN"
	if out.String() != want {
		t.Fatalf("scrubbed = %q, want %q", out.String(), want)
	}
	// Without a token, bytes pass straight through.
	out.Reset()
	w = newScrubWriter(&out, "")
	w.Write([]byte("plain"))
	if out.String() != "plain" {
		t.Fatalf("pass-through = %q", out.String())
	}
}

func TestTail(t *testing.T) {
	tl := &tail{max: 10}
	for i := 0; i < 100; i++ {
		tl.Write([]byte("0123456789"[i%10 : i%10+1]))
	}
	if got := tl.String(); got != "0123456789" {
		t.Fatalf("tail = %q", got)
	}
}

func TestStripANSI(t *testing.T) {
	in := "\x1b[31m✘ \x1b[41;31m[\x1b[41;97mERROR\x1b[41;31m]\x1b[0m \x1b[1mA request failed.\x1b[0m\n\x1b]8;;https://x\x07link\x1b]8;;\x07"
	if got := stripANSI(in); got != "✘ [ERROR] A request failed.\nlink" {
		t.Fatalf("stripANSI = %q", got)
	}
}

func TestTruncateMessage(t *testing.T) {
	long := strings.Repeat("a", 130)
	if got := TruncateMessage(long, 120); len(got) != 120 {
		t.Fatalf("ASCII: %d chars", len(got))
	}
	// "😀" is two UTF-16 units (as JavaScript counts), "é" one.
	emoji := strings.Repeat("😀", 61)
	if got := TruncateMessage(emoji, 120); got != strings.Repeat("😀", 60) {
		t.Fatalf("emoji: %d runes", len([]rune(got)))
	}
	if got := TruncateMessage("é"+strings.Repeat("😀", 60), 120); got != "é"+strings.Repeat("😀", 59) {
		t.Fatalf("mixed: %q", got)
	}
	if got := TruncateMessage("short", 120); got != "short" {
		t.Fatalf("short: %q", got)
	}
}

func TestParseRecordsAndFailure(t *testing.T) {
	data := `{"type":"wrangler-session","version":1}
{"type":"deploy","version":1,"worker_name":"hello","worker_tag":null,"version_id":"v-1","targets":["https://hello.x.workers.dev"]}
{"type":"deploy","version":1,"worker_name":"hello","worker_tag":"tag","version_id":"v-2","targets":[]}
{"type":"command-failed","version":1,"code":10013,"message":"A request to the Cloudflare API (/x) failed."}
{"type":"trunc`
	recs := parseRecords(data)
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4 (the truncated line skipped)", len(recs))
	}
	d := deployRecord(recs, "deploy")
	if d == nil || d.VersionID != "v-2" || d.WorkerTag != "tag" || d.WorkerName != "hello" {
		t.Fatalf("deploy record = %+v", d)
	}
	stderr := "▲ [WARNING] something\n\n✘ [ERROR] A request to the Cloudflare API (/x) failed.\n\n  Emulated fault: Service Unavailable [code: 10013]\n  \n  If you think this is a bug, please open an issue at: https://github.com/cloudflare/workers-sdk/issues/new/choose\n\n\n🪵  Logs were written to \"/tmp/x.log\"\n"
	msg := failureMessage(&result{stderr: stderr, records: recs})
	if msg != "A request to the Cloudflare API (/x) failed. Emulated fault: Service Unavailable [code: 10013]" {
		t.Fatalf("failure message = %q", msg)
	}
	// Without stderr (cut off), the record alone.
	if msg := failureMessage(&result{records: recs}); msg != "A request to the Cloudflare API (/x) failed." {
		t.Fatalf("record-only failure message = %q", msg)
	}
}

// corpusSamples returns the outputs between BEGIN/END markers of a corpus
// file, keyed by their SAMPLE title.
func corpusSamples(t *testing.T, name string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "corpus", name))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, part := range strings.Split(string(b), "=== SAMPLE: ")[1:] {
		title, _, _ := strings.Cut(part, "\n")
		_, body, ok := strings.Cut(part, "----- BEGIN OUTPUT -----\n")
		if !ok {
			continue
		}
		body, _, _ = strings.Cut(body, "----- END OUTPUT -----")
		out[title] = body
	}
	return out
}

func TestVersionLineOnRealOutputs(t *testing.T) {
	const zero = "00000000-0000-0000-0000-000000000000"
	deploys := corpusSamples(t, "wrangler-deploy.txt")
	if len(deploys) != 4 {
		t.Fatalf("%d deploy samples", len(deploys))
	}
	found := 0
	for title, out := range deploys {
		m := versionIDRE().FindStringSubmatch(out)
		if strings.Contains(out, "Current Version ID:") {
			found++
			if m == nil || m[1] != zero {
				t.Errorf("%s: version line not parsed: %v", title, m)
			}
			if u := uploadedRE().FindStringSubmatch(out); strings.Contains(out, "Uploaded ") && (u == nil || !strings.HasPrefix(u[1], "tmp-e2e-worker-")) {
				t.Errorf("%s: worker name not parsed: %v", title, u)
			}
		} else if m != nil {
			t.Errorf("%s: version line found in output without one", title)
		}
	}
	if found != 2 {
		t.Fatalf("%d samples with a version line, want 2 (first deploy, legacy)", found)
	}
	rollbacks := corpusSamples(t, "wrangler-rollback.txt")
	n := 0
	for title, out := range rollbacks {
		if !strings.Contains(out, "Current Version ID:") {
			continue
		}
		n++
		if m := versionIDRE().FindStringSubmatch(out); m == nil || m[1] != zero {
			t.Errorf("%s: rollback version line not parsed", title)
		}
	}
	if n != 2 {
		t.Fatalf("%d rollback samples with a version line, want 2", n)
	}
}

func TestRunnerErrors(t *testing.T) {
	ctx := context.Background()
	var r Runner
	if _, err := r.Version(ctx); err == nil {
		t.Fatal("empty command accepted")
	}
	r = Runner{Command: []string{filepath.Join(t.TempDir(), "no-such-wrangler")}}
	_, err := r.Deploy(ctx, DeployArgs{})
	var we *Error
	if !errors.As(err, &we) || we.ExitCode != -1 || we.Command != "wrangler deploy" {
		t.Fatalf("missing binary: %#v", err)
	}
	if _, err := r.Rollback(ctx, RollbackArgs{}); err == nil || !strings.Contains(err.Error(), "version ID is required") {
		t.Fatalf("rollback without a version: %v", err)
	}
	if _, err := r.Rollback(ctx, RollbackArgs{VersionID: "--force"}); err == nil {
		t.Fatal("flag-like version ID accepted")
	}
	if err := r.D1MigrationsApply(ctx, D1Args{}); err == nil {
		t.Fatal("D1 apply without a database accepted")
	}
}

func TestErrorText(t *testing.T) {
	e := &Error{Command: "wrangler deploy", ExitCode: 1, Message: "boom [code: 10013]", Stderr: strings.Repeat("line\n", 2000) + "last line\n"}
	s := e.Error()
	if !strings.HasPrefix(s, "wrangler deploy failed with exit status 1: boom [code: 10013]\nwrangler stderr:\n…\n") || !strings.HasSuffix(s, "last line") || len(s) > 5<<10 {
		t.Fatalf("error text (%d bytes) = %q…", len(s), s[:120])
	}
}

// The version of an npm-installed wrangler comes from its package.json,
// without starting node; the pinned install must agree with --version.
func TestInstalledVersionMatchesCLI(t *testing.T) {
	bin := wranglertest.Require(t)
	fromFile := installedVersion([]string{bin})
	if fromFile == nil {
		t.Fatalf("no version read from the package.json behind %s", bin)
	}
	r := &Runner{Command: []string{"node", bin}, Dir: t.TempDir(), Env: wranglertest.Env(t, "http://127.0.0.1:9/client/v4", "x", "y")}
	fromCLI, err := r.Version(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !fromFile.Equal(fromCLI) {
		t.Fatalf("package.json says %s, wrangler --version says %s", fromFile, fromCLI)
	}
	if installedVersion([]string{"npx", "wrangler"}) != nil || installedVersion([]string{"/bin/sh"}) != nil {
		t.Fatal("a command that is not an npm-installed wrangler must be asked")
	}
}
