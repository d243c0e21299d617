package gitx

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/guardcm/guard/internal/proc"
)

// batch is a running `git cat-file --batch`: one process answers every blob
// read of a command.
type batch struct {
	mu     sync.Mutex
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *boundedBuffer
}

// boundedBuffer keeps the first 4 KiB git writes on stderr: enough to say
// why cat-file died, never a memory sink.
type boundedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := 4096 - len(b.buf); room > 0 {
		if len(p) < room {
			room = len(p)
		}
		b.buf = append(b.buf, p[:room]...)
	}
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(string(b.buf))
}

// fail wraps an I/O error with what git said on stderr, if anything.
func (b *batch) fail(err error) error {
	if msg := b.stderr.String(); msg != "" {
		return fmt.Errorf("git cat-file: %w: %s", err, msg)
	}
	return fmt.Errorf("git cat-file: %w", err)
}

func startBatch(ctx context.Context, dir string) (*batch, error) {
	cmd := exec.CommandContext(ctx, "git", "cat-file", "--batch")
	cmd.Dir = dir
	cmd.Env = proc.Env()
	stderr := &boundedBuffer{}
	cmd.Stderr = stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("git cat-file: %w", err)
	}
	return &batch{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 64<<10), stderr: stderr}, nil
}

func (b *batch) read(spec string) ([]byte, bool, error) {
	if strings.ContainsAny(spec, "\n") {
		return nil, false, fmt.Errorf("git cat-file: path with a newline is not supported: %q", spec)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, err := io.WriteString(b.in, spec+"\n"); err != nil {
		return nil, false, b.fail(err)
	}
	header, err := b.out.ReadString('\n')
	if err != nil {
		return nil, false, b.fail(err)
	}
	header = strings.TrimSuffix(header, "\n")
	if strings.HasSuffix(header, " missing") || strings.HasSuffix(header, " ambiguous") {
		return nil, false, nil
	}
	f := strings.Fields(header)
	if len(f) != 3 {
		return nil, false, fmt.Errorf("git cat-file: unexpected header %q", header)
	}
	size, err := strconv.Atoi(f[2])
	if err != nil {
		return nil, false, fmt.Errorf("git cat-file: unexpected header %q", header)
	}
	data := make([]byte, size+1) // content plus trailing LF
	if _, err := io.ReadFull(b.out, data); err != nil {
		return nil, false, b.fail(err)
	}
	if f[1] != "blob" {
		return nil, false, nil
	}
	return data[:size], true, nil
}

func (b *batch) close() error {
	b.in.Close()
	return b.cmd.Wait()
}
