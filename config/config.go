// Package config loads guard.toml, the one optional configuration file at
// the repository root.
//
// Contract: Load never guesses. With no file, Defaults() applies — values
// that match the change-management policy. With a file, decoding is strict:
// an unknown key, a wrong type or an invalid value is an error located as
// file:line:column naming the key, so a typo never silently disables a
// check. The returned Config is fully resolved (defaults filled in) and is
// what `guard config` prints.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	toml "github.com/pelletier/go-toml/v2"

	"github.com/guardcm/guard/internal/report"
	"github.com/guardcm/guard/internal/wrangler"
	"github.com/guardcm/guard/rollout"
)

// FileName is the configuration file guard reads at the repository root.
const FileName = "guard.toml"

// Config is guard's effective configuration.
type Config struct {
	Remote     string     `toml:"remote" json:"remote"`
	Branch     string     `toml:"branch" json:"branch"`
	Protected  []string   `toml:"protected" json:"protected"`
	Categories Categories `toml:"categories" json:"categories"`
	PrePush    PrePush    `toml:"pre_push" json:"pre_push"`
	Migrations Migrations `toml:"migrations" json:"migrations"`
	Deploy     Deploy     `toml:"deploy" json:"deploy"`
	Rollback   Rollback   `toml:"rollback" json:"rollback"`
	PR         PR         `toml:"pr" json:"pr"`
	Ledger     Ledger     `toml:"ledger" json:"ledger"`
	Evidence   Evidence   `toml:"evidence" json:"evidence"`
	// Workers names wrangler configurations guard cannot find by their
	// file name alone (wrangler.kv.toml, wrangler.staging.json, ...); the
	// usual wrangler.toml|json|jsonc files are found at any depth anyway.
	Workers []Worker `toml:"workers" json:"workers,omitempty"`

	// Source is the file the configuration came from, "" for defaults.
	Source string `toml:"-" json:"-"`
}

// Categories configures change-category inference.
type Categories struct {
	// Standard globs: paths that alone make a change standard
	// (documentation). Lockfiles and version-only bumps are built in.
	Standard []string `toml:"standard" json:"standard"`
	// Major globs: paths whose change is always major.
	Major       []string `toml:"major" json:"major"`
	ThreatModel string   `toml:"threat_model" json:"threat_model"`
	RolloutDir  string   `toml:"rollout_dir" json:"rollout_dir"`
}

// PrePush configures the pre-push hook.
type PrePush struct {
	// Commands run through /bin/sh -c from the repository root.
	Commands               []string `toml:"commands" json:"commands"`
	EmergencySkipsCommands *bool    `toml:"emergency_skips_commands" json:"emergency_skips_commands"`
	// OverdueRecords is "refuse" (default) or "warn": what a push does while
	// an emergency-change record is past its 24-hour due time.
	OverdueRecords string `toml:"overdue_records" json:"overdue_records"`
}

// Worker is one [[workers]] entry of guard.toml.
type Worker struct {
	// Config is the wrangler configuration file, relative to the
	// repository root.
	Config string `toml:"config" json:"config"`
}

// Migrations configures the D1 migration checks.
type Migrations struct {
	// Dir is a migrations folder checked besides those of the wrangler
	// configurations' d1_databases (each migrations_dir, default
	// "migrations" beside its configuration); "" means none. A folder set
	// here must exist.
	Dir string `toml:"dir" json:"dir"`
	// Digits of the NNNN prefix: 1-12 holds every folder to that count;
	// 0 (the default) is 4, what wrangler writes, or the count a folder's
	// files all share (001_init.sql).
	Digits   int               `toml:"digits,omitempty" json:"digits,omitempty"`
	Severity map[string]string `toml:"severity" json:"severity,omitempty"`
	// Baseline lists SQL files (relative to the root) that production's
	// schema came from outside the folder (e.g. applied with d1 execute);
	// the replay applies them before the first migration of every folder.
	Baseline []string `toml:"baseline" json:"baseline,omitempty"`
	// BaselineFor is Baseline per folder, when there are several:
	// [migrations.baseline_for] "apps/api/migrations" = ["apps/api/schema.sql"].
	BaselineFor map[string][]string `toml:"baseline_for" json:"baseline_for,omitempty"`
}

// BaselineOf is the baseline of one migrations folder: its own entry in
// baseline_for, else baseline.
func (m Migrations) BaselineOf(dir string) []string {
	if b, ok := m.BaselineFor[dir]; ok {
		return b
	}
	return m.Baseline
}

// Deploy configures guard deploy.
type Deploy struct {
	// Wrangler is the command that runs wrangler, split into words without a
	// shell; default: node_modules/.bin/wrangler when present, else
	// "npx wrangler".
	Wrangler string `toml:"wrangler" json:"wrangler"`
	// Config is the wrangler configuration file; default: the first of
	// wrangler.jsonc, wrangler.json, wrangler.toml at the root.
	Config string `toml:"config" json:"config"`
	// Verify commands run after a deploy; any failure marks it bad.
	Verify []string `toml:"verify" json:"verify"`
	Health []Health `toml:"health" json:"health"`
	D1     []D1     `toml:"d1" json:"d1"`
	// FetchTimeout bounds `git fetch` and notes sharing.
	FetchTimeout Duration `toml:"fetch_timeout" json:"fetch_timeout"`
	// Isolation is "pristine" (default: build and deploy from a temporary
	// checkout of the exact commit) or "checkout" (from the working
	// directory, refusing ignored files wrangler would read).
	Isolation string `toml:"isolation" json:"isolation"`
	// Build runs through /bin/sh -c in the pristine checkout, after the
	// dependencies are installed and before wrangler ("" = none).
	Build string `toml:"build" json:"build"`
	// TeamLock is "best-effort" (default), "required" or "off": the lease
	// ref on the remote that lets one deploy per worker run team-wide.
	TeamLock string `toml:"team_lock" json:"team_lock"`
	// TeamLockTTL is how long a lease holds before another clone may
	// break it (guard deploy --break-lock).
	TeamLockTTL Duration `toml:"team_lock_ttl" json:"team_lock_ttl"`
	// Rollout, when the table is present, makes every deploy gradual.
	Rollout *Rollout `toml:"rollout" json:"rollout,omitempty"`
	// Evidence, when set ("r2://BUCKET/PREFIX" or a folder), is where each
	// deploy publishes the deployments document of its day after
	// verification (the policy's post-deploy evidence check).
	Evidence string `toml:"evidence" json:"evidence"`
}

// Evidence configures the evidence store.
type Evidence struct {
	// Store is the team's evidence store, "r2://BUCKET/PREFIX" or a
	// folder: what `guard evidence verify` checks without an argument and
	// `guard doctor` checks the bucket and lock of.
	Store string `toml:"store" json:"store"`
	// Retention is the least time an R2 bucket lock must keep evidence
	// before guard writes there ("400d").
	Retention Days `toml:"retention" json:"retention"`
}

// Days is a whole number of days written "400d".
type Days struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Days) UnmarshalText(b []byte) error {
	s := string(b)
	n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
	if !strings.HasSuffix(s, "d") || err != nil || n < 1 || n > 36500 {
		return fmt.Errorf("invalid number of days %q (write it like \"400d\")", b)
	}
	d.Duration = time.Duration(n) * 24 * time.Hour
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Days) MarshalText() ([]byte, error) {
	return []byte(strconv.Itoa(int(d.Duration/(24*time.Hour))) + "d"), nil
}

// Rollout configures gradual deploys (guard deploy --gradual, or every
// deploy when [deploy.rollout] is present).
type Rollout struct {
	// Steps are the new version's percentages; default rollout.DefaultSteps.
	Steps []float64 `toml:"steps" json:"steps"`
	// Hold is one duration string for every step below 100 %, or a list of
	// one per step.
	Hold any `toml:"hold" json:"hold,omitempty"`
	// Plan is Steps and Hold validated.
	Plan *rollout.Plan `toml:"-" json:"-"`
}

// Isolation modes and team-lock modes of [deploy].
const (
	IsolationPristine = "pristine"
	IsolationCheckout = "checkout"

	TeamLockBestEffort = "best-effort"
	TeamLockRequired   = "required"
	TeamLockOff        = "off"
)

// Health is one HTTP health check run after a deploy.
type Health struct {
	URL     string   `toml:"url" json:"url"`
	Status  int      `toml:"status" json:"status"`
	Retries int      `toml:"retries" json:"retries"`
	Timeout Duration `toml:"timeout" json:"timeout"`
	// Interval is the first wait between attempts; it doubles each retry.
	Interval Duration `toml:"interval" json:"interval"`
}

// D1 names a D1 database (by its binding in the wrangler configuration)
// whose migrations guard deploy applies before the code.
type D1 struct {
	Binding string `toml:"binding" json:"binding"`
	// Config scopes the entry to one wrangler configuration (relative to
	// the repository root), for a monorepo whose workers do not all bind
	// the database; "" applies it to every deploy.
	Config string `toml:"config" json:"config,omitempty"`
}

// Rollback configures guard rollback and the emergency-change records.
type Rollback struct {
	RecordsDir string `toml:"records_dir" json:"records_dir"`
}

// PR configures the pull-request gate (guard check --pr).
type PR struct {
	MotivationHeadings []string `toml:"motivation_headings" json:"motivation_headings"`
	ChecklistFiles     []string `toml:"checklist_files" json:"checklist_files"`
	ChecklistHeading   string   `toml:"checklist_heading" json:"checklist_heading"`
}

// Ledger is [ledger]: how the team's shared deploy records are trusted.
type Ledger struct {
	// Signing is "off" (default) or "ssh": every shared record is signed
	// with the deployer's SSH key (git's user.signingKey, as for
	// gpg.format=ssh) and records without a valid signature by an allowed
	// signer are ignored, with a warning.
	Signing string `toml:"signing" json:"signing"`
	// AllowedSigners is the tracked allowed-signers file (ssh-keygen's
	// format: "<email> <key type> <key>"), read from the remote branch.
	AllowedSigners string `toml:"allowed_signers" json:"allowed_signers"`
}

// Ledger signing modes.
const (
	SigningOff = "off"
	SigningSSH = "ssh"
)

// Duration is a time.Duration written as a Go duration string ("30s").
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (write it like \"30s\" or \"2m\")", b)
	}
	if v < 0 {
		return fmt.Errorf("invalid duration %q: negative", b)
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Defaults returns the configuration that applies without a guard.toml.
func Defaults() *Config {
	t := true
	return &Config{
		Remote:    "origin",
		Branch:    "main",
		Protected: []string{"main"},
		Categories: Categories{
			Standard:    []string{"**/*.md", "docs/**", "LICENSE*"},
			Major:       []string{},
			ThreatModel: "docs/threat-model.md",
			RolloutDir:  "docs/rollouts",
		},
		PrePush: PrePush{
			Commands:               []string{},
			EmergencySkipsCommands: &t,
			OverdueRecords:         "refuse",
		},
		Migrations: Migrations{},
		Deploy: Deploy{
			Verify:       []string{},
			FetchTimeout: Duration{30 * time.Second},
			Isolation:    IsolationPristine,
			TeamLock:     TeamLockBestEffort,
			TeamLockTTL:  Duration{30 * time.Minute},
		},
		Rollback: Rollback{RecordsDir: "docs/changes/emergency"},
		Ledger:   Ledger{Signing: SigningOff, AllowedSigners: ".guard/allowed_signers"},
		Evidence: Evidence{Retention: Days{400 * 24 * time.Hour}},
		Workers:  []Worker{},
		PR: PR{
			MotivationHeadings: []string{"Motivation", "Why"},
			ChecklistFiles:     []string{".github/pull_request_template.md", "docs/self-review-checklist.md"},
			ChecklistHeading:   "Self-review checklist",
		},
	}
}

// Error is a configuration error at a place in a file.
type Error struct {
	File      string
	Line, Col int
	Key       string
	Msg       string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
	}
	b.WriteString(": ")
	if e.Key != "" {
		fmt.Fprintf(&b, "%s: ", e.Key)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Load reads guard.toml from the repository root, or returns Defaults when
// there is none.
func Load(root string) (*Config, error) {
	path := filepath.Join(root, FileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Defaults(), nil
	}
	if err != nil {
		return nil, err
	}
	return Parse(FileName, data)
}

// Parse decodes a guard.toml body over the defaults. name is used in errors.
func Parse(name string, data []byte) (*Config, error) {
	c := Defaults()
	// Lists replace the defaults rather than merge into them: decode into
	// a fresh value and copy only the keys the file sets.
	var file Config
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		return nil, locate(name, data, err)
	}
	var raw map[string]any
	if err := toml.Unmarshal(data, &raw); err != nil {
		return nil, locate(name, data, err)
	}
	if err := durationTypes(name, data); err != nil {
		return nil, err
	}
	merge(c, &file, raw)
	c.Source = name
	if err := c.validate(name, data); err != nil {
		return nil, err
	}
	return c, nil
}

func locate(name string, data []byte, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) && len(strict.Errors) > 0 {
		e := strict.Errors[0]
		line, col := e.Position()
		return &Error{File: name, Line: line, Col: col, Key: strings.Join(e.Key(), "."), Msg: "unknown key" + knownKeysHint(e.Key())}
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		return &Error{File: name, Line: line, Col: col, Key: strings.Join(de.Key(), "."), Msg: msg}
	}
	if e := durationTypes(name, data); e != nil {
		return e
	}
	return &Error{File: name, Msg: err.Error()}
}

// durationTypes reports a duration key whose value is not a string. go-toml
// hands the raw text of a number or boolean to Duration.UnmarshalText and
// returns its error without a position (and "0" would even pass), so the
// duration keys are decoded once more as strings, which go-toml locates.
func durationTypes(name string, data []byte) *Error {
	var shape struct {
		Evidence struct {
			Retention string `toml:"retention"`
		} `toml:"evidence"`
		Deploy struct {
			FetchTimeout string `toml:"fetch_timeout"`
			TeamLockTTL  string `toml:"team_lock_ttl"`
			Health       []struct {
				Timeout  string `toml:"timeout"`
				Interval string `toml:"interval"`
			} `toml:"health"`
		} `toml:"deploy"`
	}
	var de *toml.DecodeError
	if err := toml.Unmarshal(data, &shape); errors.As(err, &de) {
		line, col := de.Position()
		msg := `must be a duration string like "30s" or "2m"`
		if strings.Join(de.Key(), ".") == "evidence.retention" {
			msg = `must be a number of days like "400d"`
		}
		return &Error{File: name, Line: line, Col: col, Key: strings.Join(de.Key(), "."), Msg: msg}
	}
	return nil
}

func knownKeysHint(key []string) string {
	if len(key) == 0 {
		return ""
	}
	return fmt.Sprintf(" %q", key[len(key)-1])
}

// has reports whether the TOML document sets the dotted key.
func has(raw map[string]any, path ...string) bool {
	var cur any = raw
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		cur, ok = m[p]
		if !ok {
			return false
		}
	}
	return true
}

func merge(c, f *Config, raw map[string]any) {
	set := func(dst *string, src string, path ...string) {
		if has(raw, path...) {
			*dst = src
		}
	}
	setList := func(dst *[]string, src []string, path ...string) {
		if has(raw, path...) {
			if src == nil {
				src = []string{}
			}
			*dst = src
		}
	}
	set(&c.Remote, f.Remote, "remote")
	set(&c.Branch, f.Branch, "branch")
	setList(&c.Protected, f.Protected, "protected")
	setList(&c.Categories.Standard, f.Categories.Standard, "categories", "standard")
	setList(&c.Categories.Major, f.Categories.Major, "categories", "major")
	set(&c.Categories.ThreatModel, f.Categories.ThreatModel, "categories", "threat_model")
	set(&c.Categories.RolloutDir, f.Categories.RolloutDir, "categories", "rollout_dir")
	setList(&c.PrePush.Commands, f.PrePush.Commands, "pre_push", "commands")
	if f.PrePush.EmergencySkipsCommands != nil {
		c.PrePush.EmergencySkipsCommands = f.PrePush.EmergencySkipsCommands
	}
	set(&c.PrePush.OverdueRecords, f.PrePush.OverdueRecords, "pre_push", "overdue_records")
	set(&c.Migrations.Dir, f.Migrations.Dir, "migrations", "dir")
	if has(raw, "workers") {
		c.Workers = f.Workers
	}
	if has(raw, "migrations", "digits") {
		c.Migrations.Digits = f.Migrations.Digits
	}
	if f.Migrations.Severity != nil {
		c.Migrations.Severity = f.Migrations.Severity
	}
	setList(&c.Migrations.Baseline, f.Migrations.Baseline, "migrations", "baseline")
	if f.Migrations.BaselineFor != nil {
		c.Migrations.BaselineFor = f.Migrations.BaselineFor
	}
	set(&c.Deploy.Wrangler, f.Deploy.Wrangler, "deploy", "wrangler")
	set(&c.Deploy.Config, f.Deploy.Config, "deploy", "config")
	setList(&c.Deploy.Verify, f.Deploy.Verify, "deploy", "verify")
	if has(raw, "deploy", "fetch_timeout") {
		c.Deploy.FetchTimeout = f.Deploy.FetchTimeout
	}
	set(&c.Deploy.Isolation, f.Deploy.Isolation, "deploy", "isolation")
	set(&c.Deploy.Build, f.Deploy.Build, "deploy", "build")
	set(&c.Deploy.TeamLock, f.Deploy.TeamLock, "deploy", "team_lock")
	if has(raw, "deploy", "team_lock_ttl") {
		c.Deploy.TeamLockTTL = f.Deploy.TeamLockTTL
	}
	c.Deploy.Health = f.Deploy.Health
	c.Deploy.Rollout = f.Deploy.Rollout
	c.Deploy.D1 = f.Deploy.D1
	set(&c.Rollback.RecordsDir, f.Rollback.RecordsDir, "rollback", "records_dir")
	set(&c.Deploy.Evidence, f.Deploy.Evidence, "deploy", "evidence")
	set(&c.Evidence.Store, f.Evidence.Store, "evidence", "store")
	if has(raw, "evidence", "retention") {
		c.Evidence.Retention = f.Evidence.Retention
	}
	setList(&c.PR.MotivationHeadings, f.PR.MotivationHeadings, "pr", "motivation_headings")
	setList(&c.PR.ChecklistFiles, f.PR.ChecklistFiles, "pr", "checklist_files")
	set(&c.PR.ChecklistHeading, f.PR.ChecklistHeading, "pr", "checklist_heading")
	set(&c.Ledger.Signing, f.Ledger.Signing, "ledger", "signing")
	set(&c.Ledger.AllowedSigners, f.Ledger.AllowedSigners, "ledger", "allowed_signers")
}

// validate checks values the decoder cannot: required strings, globs,
// severities, enumerations. Errors point at the key's line in the file.
func (c *Config) validate(name string, data []byte) error {
	bad := func(key, msg string) error {
		line, col := findKey(data, key)
		return &Error{File: name, Line: line, Col: col, Key: key, Msg: msg}
	}
	if strings.TrimSpace(c.Remote) == "" {
		return bad("remote", "must not be empty")
	}
	if strings.TrimSpace(c.Branch) == "" {
		return bad("branch", "must not be empty")
	}
	for _, g := range append(append([]string{}, c.Categories.Standard...), c.Categories.Major...) {
		if !doublestar.ValidatePattern(g) {
			key := "categories.standard"
			for _, m := range c.Categories.Major {
				if m == g {
					key = "categories.major"
				}
			}
			return bad(key, fmt.Sprintf("invalid glob %q", g))
		}
	}
	switch c.PrePush.OverdueRecords {
	case "refuse", "warn":
	default:
		return bad("pre_push.overdue_records", fmt.Sprintf("must be \"refuse\" or \"warn\", not %q", c.PrePush.OverdueRecords))
	}
	if c.Migrations.Digits < 0 || c.Migrations.Digits > 12 {
		return bad("migrations.digits", fmt.Sprintf("must be between 1 and 12 (0: as each folder numbers its files), not %d", c.Migrations.Digits))
	}
	keys := make([]string, 0, len(c.Migrations.Severity))
	for k := range c.Migrations.Severity {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, err := report.ParseSeverity(c.Migrations.Severity[k]); err != nil {
			return bad("migrations.severity."+k, err.Error())
		}
	}
	switch c.Deploy.Isolation {
	case IsolationPristine, IsolationCheckout:
	default:
		return bad("deploy.isolation", fmt.Sprintf("must be %q or %q, not %q", IsolationPristine, IsolationCheckout, c.Deploy.Isolation))
	}
	switch c.Deploy.TeamLock {
	case TeamLockBestEffort, TeamLockRequired, TeamLockOff:
	default:
		return bad("deploy.team_lock", fmt.Sprintf("must be %q, %q or %q, not %q", TeamLockBestEffort, TeamLockRequired, TeamLockOff, c.Deploy.TeamLock))
	}
	if c.Deploy.TeamLockTTL.Duration < time.Minute {
		return bad("deploy.team_lock_ttl", fmt.Sprintf("must be at least 1m (a lease shorter than a deploy could be broken while it runs), not %s", c.Deploy.TeamLockTTL.Duration))
	}
	for i, h := range c.Deploy.Health {
		if h.URL == "" {
			return bad("deploy.health", fmt.Sprintf("entry %d: url is required", i+1))
		}
		if !strings.HasPrefix(h.URL, "http://") && !strings.HasPrefix(h.URL, "https://") {
			return bad("deploy.health", fmt.Sprintf("entry %d: url %q must start with http:// or https://", i+1, h.URL))
		}
		if h.Status == 0 {
			c.Deploy.Health[i].Status = 200
		}
		if h.Retries == 0 {
			c.Deploy.Health[i].Retries = 5
		}
		if h.Timeout.Duration == 0 {
			c.Deploy.Health[i].Timeout = Duration{10 * time.Second}
		}
		if h.Interval.Duration == 0 {
			c.Deploy.Health[i].Interval = Duration{time.Second}
		}
	}
	if r := c.Deploy.Rollout; r != nil {
		if err := r.validate(); err != nil {
			key := "deploy.rollout.steps"
			var he *holdError
			if errors.As(err, &he) {
				key = "deploy.rollout.hold"
			}
			if line, _ := findKey(data, key); line == 0 {
				key = "deploy.rollout"
			}
			return bad(key, err.Error())
		}
	}
	for i, w := range c.Workers {
		p := filepath.ToSlash(strings.TrimSpace(w.Config))
		if p == "" || !filepath.IsLocal(filepath.FromSlash(p)) {
			return bad("workers", fmt.Sprintf("entry %d: config must be a path inside the repository, not %q", i+1, w.Config))
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".toml", ".json", ".jsonc":
		default:
			return bad("workers", fmt.Sprintf("entry %d: config %q is not a .toml, .json or .jsonc file", i+1, w.Config))
		}
		c.Workers[i].Config = filepath.ToSlash(filepath.Clean(p))
	}
	if c.Migrations.Dir != "" && !filepath.IsLocal(filepath.FromSlash(c.Migrations.Dir)) {
		return bad("migrations.dir", fmt.Sprintf("must be a folder inside the repository, not %q", c.Migrations.Dir))
	}
	for _, p := range c.Migrations.Baseline {
		if !filepath.IsLocal(filepath.FromSlash(p)) || !strings.HasSuffix(p, ".sql") {
			return bad("migrations.baseline", fmt.Sprintf("must list .sql files inside the repository, not %q", p))
		}
	}
	for dir, files := range c.Migrations.BaselineFor {
		for _, p := range files {
			if !filepath.IsLocal(filepath.FromSlash(dir)) || !filepath.IsLocal(filepath.FromSlash(p)) || !strings.HasSuffix(p, ".sql") {
				return bad("migrations.baseline_for."+dir, fmt.Sprintf("must map a folder to .sql files inside the repository, not %q", p))
			}
		}
	}
	for i, d := range c.Deploy.D1 {
		if strings.TrimSpace(d.Binding) == "" {
			return bad("deploy.d1", fmt.Sprintf("entry %d: binding is required", i+1))
		}
		if d.Config != "" {
			if !filepath.IsLocal(filepath.FromSlash(d.Config)) {
				return bad("deploy.d1", fmt.Sprintf("entry %d: config must be a path inside the repository, not %q", i+1, d.Config))
			}
			c.Deploy.D1[i].Config = filepath.ToSlash(filepath.Clean(d.Config))
		}
	}
	switch c.Ledger.Signing {
	case SigningOff, SigningSSH:
	default:
		return bad("ledger.signing", fmt.Sprintf("must be %q or %q, not %q", SigningOff, SigningSSH, c.Ledger.Signing))
	}
	if c.Ledger.Signing == SigningSSH && strings.TrimSpace(c.Ledger.AllowedSigners) == "" {
		return bad("ledger.allowed_signers", "must name the tracked allowed-signers file when signing is \"ssh\"")
	}
	for _, k := range []struct{ key, v string }{{"deploy.evidence", c.Deploy.Evidence}, {"evidence.store", c.Evidence.Store}} {
		if err := validStore(k.v); err != nil {
			return bad(k.key, err.Error())
		}
	}
	if c.Deploy.Wrangler != "" {
		if _, err := wrangler.SplitCommand(c.Deploy.Wrangler); err != nil {
			return bad("deploy.wrangler", err.Error())
		}
	}
	return nil
}

type holdError struct{ msg string }

func (e *holdError) Error() string { return e.msg }

// validate turns Steps and Hold into Plan.
func (r *Rollout) validate() error {
	if len(r.Steps) == 0 {
		r.Steps = append([]float64(nil), rollout.DefaultSteps...)
	}
	var holds []time.Duration
	parse := func(v any) error {
		s, ok := v.(string)
		if !ok {
			return &holdError{fmt.Sprintf("must be a duration string like \"5m\" or a list of them, not %v", v)}
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return &holdError{fmt.Sprintf("invalid duration %q (write it like \"30s\" or \"5m\")", s)}
		}
		holds = append(holds, d)
		return nil
	}
	switch h := r.Hold.(type) {
	case nil:
	case []any:
		for _, v := range h {
			if err := parse(v); err != nil {
				return err
			}
		}
		if len(holds) != len(r.Steps) {
			return &holdError{fmt.Sprintf("lists %d durations for %d steps (give one for every step, or a single duration for all)", len(holds), len(r.Steps))}
		}
	default:
		if err := parse(h); err != nil {
			return err
		}
	}
	p, err := rollout.NewPlan(r.Steps, holds, FileName+" [deploy.rollout]")
	if err != nil {
		return err
	}
	r.Plan = p
	return nil
}

// validStore checks an evidence store location: empty, a folder, or
// r2://BUCKET[/PREFIX] with a bucket name wrangler accepts.
func validStore(v string) error {
	rest, ok := strings.CutPrefix(v, "r2://")
	if !ok {
		if strings.Contains(v, "://") {
			return fmt.Errorf("%q: an evidence store is a folder or r2://BUCKET/PREFIX", v)
		}
		return nil
	}
	bucket, _, _ := strings.Cut(rest, "/")
	if len(bucket) < 3 || len(bucket) > 63 || strings.Trim(bucket, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" ||
		strings.HasPrefix(bucket, "-") || strings.HasSuffix(bucket, "-") {
		return fmt.Errorf("%q: the bucket name must be 3-63 lowercase letters, digits and hyphens", v)
	}
	return nil
}

// findKey finds the line and column where a dotted key's last part is
// assigned or its table is opened, for errors found after decoding.
func findKey(data []byte, dotted string) (int, int) {
	parts := strings.Split(dotted, ".")
	last := parts[len(parts)-1]
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, last) {
			rest := strings.TrimSpace(t[len(last):])
			if strings.HasPrefix(rest, "=") {
				return i + 1, strings.Index(l, last) + 1
			}
		}
		if strings.Trim(t, "[] ") == dotted {
			return i + 1, 1
		}
	}
	return 0, 0
}

// EmergencySkips reports whether pushes of only emergency commits skip the
// configured pre-push commands.
func (c *Config) EmergencySkips() bool {
	return c.PrePush.EmergencySkipsCommands == nil || *c.PrePush.EmergencySkipsCommands
}

// RemoteBranchRef is the remote-tracking ref of the branch production is
// built from ("refs/remotes/origin/main").
func (c *Config) RemoteBranchRef() string {
	return "refs/remotes/" + c.Remote + "/" + c.Branch
}

// IsProtected reports whether branch (a short name like "main") is protected.
func (c *Config) IsProtected(branch string) bool {
	for _, p := range c.Protected {
		if ok, _ := doublestar.Match(p, branch); ok {
			return true
		}
	}
	return false
}

// Marshal renders the effective configuration as TOML.
func (c *Config) Marshal() ([]byte, error) {
	return toml.Marshal(c)
}
