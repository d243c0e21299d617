package cfemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// State is everything the emulator knows, as served by GET /__emu/state and
// written to the state file. Worker objects use the API's own field names so
// a test can compare them with what a client received.
type State struct {
	Accounts map[string]*Account `json:"accounts"`
}

// Account holds the workers and D1 databases of one account ID.
type Account struct {
	ID        string               `json:"id"`
	Subdomain string               `json:"subdomain"`
	Scripts   map[string]*Script   `json:"scripts"`
	D1        map[string]*Database `json:"d1"`
	// R2 holds the account's R2 buckets (absent until one is created).
	R2 map[string]*Bucket `json:"r2,omitempty"`
}

// Script is one worker.
type Script struct {
	Name        string         `json:"name"`
	Tag         string         `json:"tag"`
	CreatedOn   string         `json:"created_on"`
	ModifiedOn  string         `json:"modified_on"`
	Versions    []*Version     `json:"versions"`    // oldest first
	Deployments []*Deployment  `json:"deployments"` // oldest first
	Subdomain   SubdomainState `json:"subdomain"`
	// Settings holds what PATCH script-settings stored (logpush, tags, ...).
	Settings map[string]any `json:"settings"`
}

// SubdomainState is a worker's workers.dev switch.
type SubdomainState struct {
	Enabled         bool `json:"enabled"`
	PreviewsEnabled bool `json:"previews_enabled"`
}

// Version is one uploaded worker version.
type Version struct {
	ID          string            `json:"id"`
	Number      int               `json:"number"`
	Metadata    VersionMetadata   `json:"metadata"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Resources   VersionResources  `json:"resources"`
	// Modules lists the uploaded parts (name → SHA-256); the emulator does not
	// run code, it only proves what was uploaded.
	Modules    map[string]string `json:"modules,omitempty"`
	MainModule string            `json:"main_module,omitempty"`
}

// VersionMetadata is the metadata object of a version.
type VersionMetadata struct {
	CreatedOn   string `json:"created_on"`
	ModifiedOn  string `json:"modified_on"`
	AuthorEmail string `json:"author_email"`
	AuthorID    string `json:"author_id"`
	Source      string `json:"source"`
	HasPreview  bool   `json:"hasPreview"`
}

// VersionResources is the resources object of GET /versions/:id.
type VersionResources struct {
	Bindings      []json.RawMessage `json:"bindings"`
	Script        ScriptResource    `json:"script"`
	ScriptRuntime ScriptRuntime     `json:"script_runtime"`
}

// ScriptResource describes the uploaded script of a version.
type ScriptResource struct {
	Etag             string   `json:"etag"`
	Handlers         []string `json:"handlers"`
	LastDeployedFrom string   `json:"last_deployed_from"`
}

// ScriptRuntime is the runtime configuration of a version.
type ScriptRuntime struct {
	CompatibilityDate  string   `json:"compatibility_date,omitempty"`
	CompatibilityFlags []string `json:"compatibility_flags"`
	UsageModel         string   `json:"usage_model"`
}

// Deployment routes traffic to one or two versions.
type Deployment struct {
	ID          string              `json:"id"`
	CreatedOn   string              `json:"created_on"`
	Source      string              `json:"source"`
	Strategy    string              `json:"strategy"`
	AuthorEmail string              `json:"author_email"`
	Annotations map[string]string   `json:"annotations,omitempty"`
	Versions    []DeploymentVersion `json:"versions"`
}

// DeploymentVersion is one version's share of a deployment.
type DeploymentVersion struct {
	VersionID  string  `json:"version_id"`
	Percentage float64 `json:"percentage"`
}

// Database is a D1 database. Its rows live in SQLite; the state keeps the
// journal of successful write batches, from which the database is rebuilt
// when a state file is loaded.
type Database struct {
	UUID      string         `json:"uuid"`
	Name      string         `json:"name"`
	CreatedAt string         `json:"created_at"`
	Journal   []JournalEntry `json:"journal"`

	db *sqliteDB
}

// JournalEntry is one applied write batch (a /query or /raw request).
type JournalEntry struct {
	Seq    int    `json:"seq"`
	At     string `json:"at"`
	SQL    string `json:"sql"`
	Params []any  `json:"params,omitempty"`
}

type state struct {
	accounts map[string]*Account
}

func newState() *state { return &state{accounts: map[string]*Account{}} }

// account returns the account, creating it when create is set.
func (s *state) account(id string, create bool) *Account {
	a := s.accounts[id]
	if a == nil && create {
		a = &Account{ID: id, Subdomain: DefaultSubdomain, Scripts: map[string]*Script{}, D1: map[string]*Database{}}
		s.accounts[id] = a
	}
	return a
}

func (s *state) script(account, name string) *Script {
	a := s.accounts[account]
	if a == nil {
		return nil
	}
	return a.Scripts[name]
}

// Snapshot returns a deep copy of the state.
func (e *Emulator) Snapshot() State {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.snapshotLocked()
}

func (e *Emulator) snapshotLocked() State {
	b, err := json.Marshal(State{Accounts: e.st.accounts})
	if err != nil {
		// Every field is a plain JSON type; this cannot happen.
		return State{Accounts: map[string]*Account{}}
	}
	var out State
	_ = json.Unmarshal(b, &out)
	if out.Accounts == nil {
		out.Accounts = map[string]*Account{}
	}
	return out
}

// SaveStateFile writes the state as indented JSON to path, atomically.
func (e *Emulator) SaveStateFile(path string) error {
	snap := e.Snapshot()
	b, err := json.MarshalIndent(snap, "", "  ")
	if err != nil {
		return fmt.Errorf("emulator state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".cfemu-state-*")
	if err != nil {
		return fmt.Errorf("emulator state: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("emulator state %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("emulator state %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("emulator state %s: %w", path, err)
	}
	return nil
}

// LoadStateFile replaces the state with the one in path; a missing file is
// not an error (the emulator starts empty). D1 databases are rebuilt by
// replaying their journals.
func (e *Emulator) LoadStateFile(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("emulator state: %w", err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("emulator state %s: %w", path, err)
	}
	return e.setState(st)
}

// setState installs st, rebuilding every D1 database from its journal.
func (e *Emulator) setState(st State) error {
	fresh := newState()
	for id, a := range st.Accounts {
		if a == nil {
			continue
		}
		a.ID = id
		if a.Scripts == nil {
			a.Scripts = map[string]*Script{}
		}
		if a.D1 == nil {
			a.D1 = map[string]*Database{}
		}
		for _, d := range sortedDatabases(a.D1) {
			db, err := openSQLite()
			if err != nil {
				return err
			}
			for _, j := range d.Journal {
				if _, err := db.run(j.SQL, j.Params, false); err != nil {
					db.close()
					return fmt.Errorf("emulator state: replaying D1 %s journal entry %d: %w", d.UUID, j.Seq, err)
				}
			}
			d.db = db
		}
		fresh.accounts[id] = a
	}
	e.mu.Lock()
	old := e.st
	e.st = fresh
	e.mu.Unlock()
	closeDatabases(old)
	return nil
}

func sortedDatabases(m map[string]*Database) []*Database {
	out := make([]*Database, 0, len(m))
	for _, d := range m {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UUID < out[j].UUID })
	return out
}

func closeDatabases(s *state) {
	for _, a := range s.accounts {
		for _, d := range a.D1 {
			if d.db != nil {
				d.db.close()
			}
		}
	}
}

// Reset drops all state, faults and the request log.
func (e *Emulator) Reset() {
	e.mu.Lock()
	old := e.st
	e.st = newState()
	e.faults = nil
	e.requests = nil
	e.resetEdgeLocked()
	e.mu.Unlock()
	closeDatabases(old)
}
