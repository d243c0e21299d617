package ledger

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/guardcm/guard/internal/proc"
)

// IDKey is the git configuration key (in the repository's own config file)
// that names this clone's ledger. Every record the ledger appends carries
// the ID (Record.Ledger), so the copies shared as git notes say which
// ledger they belong to, and `guard ledger verify` can tell that a shared
// record is missing from this clone's ledger even when the whole file is
// gone: the ID does not live in the ledger file.
const IDKey = "guard.ledgerid"

const idTimeout = 10 * time.Second

// configFile is the git configuration file of the git directory the ledger
// lives in ("" for a ledger outside one: a test's file has no ID).
func (l *Ledger) configFile() string {
	gitDir := filepath.Dir(filepath.Dir(l.path))
	cfg := filepath.Join(gitDir, "config")
	if _, err := os.Stat(filepath.Join(gitDir, "HEAD")); err != nil {
		return ""
	}
	if _, err := os.Stat(cfg); err != nil {
		return ""
	}
	return cfg
}

// ID returns the ledger's ID from the repository's configuration; "" when
// none was ever assigned (no record appended since guard learnt IDs, or a
// ledger outside a git directory).
func (l *Ledger) ID(ctx context.Context) (string, error) {
	cfg := l.configFile()
	if cfg == "" {
		return "", nil
	}
	out, err := proc.Run(ctx, proc.Cmd{Name: "git", Args: []string{"config", "--file", cfg, "--get", IDKey}})
	if err != nil {
		var ee *proc.ExitError
		if errors.As(err, &ee) && ee.Code == 1 {
			return "", nil
		}
		return "", fmt.Errorf("ledger id: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// ensureID returns the ledger's ID, assigning one on first use. last is the
// ID the ledger's last record carries: when the configuration lost its ID
// (edited by hand) the ledger's own is restored rather than a new one
// made. Called under the append lock.
func (l *Ledger) ensureID(last string) (string, error) {
	cfg := l.configFile()
	if cfg == "" {
		return "", nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), idTimeout)
	defer cancel()
	id, err := l.ID(ctx)
	if err != nil || id != "" {
		return id, err
	}
	id = last
	if id == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("ledger id: %w", err)
		}
		id = hex.EncodeToString(b)
	}
	if _, err := proc.Run(ctx, proc.Cmd{Name: "git", Args: []string{"config", "--file", cfg, IDKey, id}}); err != nil {
		return "", fmt.Errorf("ledger id: %w", err)
	}
	return id, nil
}
