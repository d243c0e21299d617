// Package wranglercfg reads wrangler configuration files (wrangler.toml,
// wrangler.json, wrangler.jsonc) the way wrangler reads them, for the policy
// checks that need a Worker's name, its D1 databases and its bindings.
//
// Contract:
//   - Parse is pure: bytes in, a *Config or an *Error out. No file system, no
//     network, no clock.
//   - TOML is parsed with pelletier/go-toml/v2, JSON and JSONC with
//     tailscale/hujson (comments and trailing commas allowed in both .json
//     and .jsonc, as wrangler allows), then encoding/json.
//   - Every error is located: "path:line:col: message", line and column
//     1-based, the column counted in bytes (as go-toml and hujson count). A
//     syntax error points where the parser stopped; a wrongly typed field
//     that guard relies on (a binding list that is not a list, a binding
//     without its name, ...) points at that value.
//   - Environments follow wrangler's rules: an env section inherits name
//     (as "<name>-<env>"), routes, route, assets and logfwdr from the top
//     level, and never inherits the other bindings (d1_databases, kv_namespaces,
//     ...: wrangler's "non-inheritable" keys).
package wranglercfg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/pelletier/go-toml/v2"
	"github.com/tailscale/hujson"
)

// The base names wrangler looks for, in wrangler's order of preference.
var configNames = []string{"wrangler.json", "wrangler.jsonc", "wrangler.toml"}

// IsConfigFile reports whether path (slash or backslash separated) names a
// wrangler configuration file: its base name is wrangler.toml, wrangler.json
// or wrangler.jsonc. Other names such as wrangler.example.json are not
// configurations wrangler would read by itself.
func IsConfigFile(p string) bool {
	base := path.Base(strings.ReplaceAll(p, `\`, "/"))
	for _, n := range configNames {
		if base == n {
			return true
		}
	}
	return false
}

// Error is a located configuration error.
type Error struct {
	Path string
	Line int // 1-based; 0 when unknown
	Col  int // 1-based byte column; 0 when unknown
	Msg  string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.Path, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.Path, e.Line, e.Col, e.Msg)
}

// Config is a parsed wrangler configuration.
type Config struct {
	Path      string   // as given to Parse
	Name      string   // top-level "name" ("" when absent)
	AccountID string   // top-level "account_id" ("" when absent)
	Envs      []string // names of the env.* sections, sorted
	// Raw is the whole decoded document: TOML tables and JSON objects as
	// map[string]any, arrays as []any, JSON numbers as json.Number, TOML
	// numbers as int64 or float64.
	Raw map[string]any

	bindings []Binding // every section, see Bindings
}

type format int

const (
	formatTOML format = iota
	formatJSON
)

func formatOf(p string) (format, bool) {
	switch strings.ToLower(path.Ext(strings.ReplaceAll(p, `\`, "/"))) {
	case ".toml":
		return formatTOML, true
	case ".json", ".jsonc":
		return formatJSON, true
	}
	return 0, false
}

// Parse decodes data, the content of the configuration file at path. The
// format comes from path's extension: .toml, or .json / .jsonc (both read as
// JSON with comments and trailing commas). A leading UTF-8 byte order mark is
// ignored.
func Parse(p string, data []byte) (*Config, error) {
	f, ok := formatOf(p)
	if !ok {
		return nil, &Error{Path: p, Msg: "unsupported wrangler configuration format (want .toml, .json or .jsonc)"}
	}
	if data == nil {
		data = []byte{} // a nil data marks a doc that cannot locate (D1Databases)
	}
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		// Spaces keep every offset, so positions still match the file.
		data = append([]byte("   "), data[3:]...)
	}
	d := &doc{path: p, data: data, format: f}
	var raw map[string]any
	var err error
	if f == formatTOML {
		raw, err = d.decodeTOML()
	} else {
		raw, err = d.decodeJSON()
	}
	if err != nil {
		return nil, err
	}
	c := &Config{Path: p, Raw: raw}
	if c.Name, err = d.optString(raw, []any{"name"}); err != nil {
		return nil, err
	}
	if c.AccountID, err = d.optString(raw, []any{"account_id"}); err != nil {
		return nil, err
	}
	envs, err := d.envSections(raw)
	if err != nil {
		return nil, err
	}
	for name := range envs {
		c.Envs = append(c.Envs, name)
	}
	sort.Strings(c.Envs)
	top, err := d.sectionBindings("", raw, nil)
	if err != nil {
		return nil, err
	}
	c.bindings = top
	for _, name := range c.Envs {
		bs, err := d.sectionBindings(name, envs[name], raw)
		if err != nil {
			return nil, err
		}
		c.bindings = append(c.bindings, bs...)
	}
	// d1 databases are read again on demand; validate them now so that
	// D1Databases never meets a malformed entry.
	for _, sec := range append([]string{""}, c.Envs...) {
		if _, err := d.d1(c.section(sec), sectionPath(sec)); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// section returns the raw table of env ("" = top level); nil when env is
// not defined.
func (c *Config) section(env string) map[string]any {
	if env == "" {
		return c.Raw
	}
	envs, _ := c.Raw["env"].(map[string]any)
	s, _ := envs[env].(map[string]any)
	return s
}

// HasEnv reports whether the configuration has an env.<name> section.
func (c *Config) HasEnv(name string) bool {
	return c.section(name) != nil && name != ""
}

// WorkerName is the name of the Worker wrangler deploys for env: the
// top-level name for env ""; for a named environment its own name if set,
// otherwise "<name>-<env>" (wrangler's appendEnvName), or "" when the
// configuration has no name at all.
func (c *Config) WorkerName(env string) string {
	if env == "" {
		return c.Name
	}
	if s := c.section(env); s != nil {
		if n, ok := s["name"].(string); ok && n != "" {
			return n
		}
	}
	if c.Name == "" {
		return ""
	}
	return c.Name + "-" + env
}

// D1Database is one entry of d1_databases.
type D1Database struct {
	Binding           string
	DatabaseName      string
	DatabaseID        string
	PreviewDatabaseID string
	MigrationsDir     string // defaults to "migrations" (relative to the configuration file)
	MigrationsTable   string // defaults to "d1_migrations"
	// MigrationsPattern is a glob (relative to the configuration) of
	// migration files in subfolders of MigrationsDir, a layout newer
	// wranglers apply ("migrations/*/migration.sql"); "" when unset.
	MigrationsPattern string
}

// D1Databases lists the D1 databases bound in env. d1_databases is not
// inherited: a named environment that exists has only its own list (none
// when it sets none). For an environment name that has no section, wrangler
// falls back to the top-level configuration (and warns or errors), so this
// returns the top-level list.
func (c *Config) D1Databases(env string) []D1Database {
	sec := c.section(env)
	if sec == nil {
		sec = c.Raw
	}
	d := &doc{path: c.Path}
	dbs, _ := d.d1(sec, nil) // validated by Parse
	return dbs
}

// Binding is one resource, route or consumer a configuration attaches to
// its Worker.
type Binding struct {
	Env  string `json:"env"`  // "" for the top level, else the env.<name> section
	Kind string `json:"kind"` // the configuration key: "d1_databases", "queues.producers", "custom_domains", ...
	Name string `json:"name"` // the binding name, or the route pattern / queue / service for kinds that have none
}

func (b Binding) String() string {
	if b.Env == "" {
		return b.Kind + " " + b.Name
	}
	return b.Kind + " " + b.Name + " in env." + b.Env
}

// Bindings lists every binding of the top level, then of each env section
// (sorted by env name), in file order within a section. For a named
// environment these are the bindings wrangler deploys it with: what the
// section sets, plus the inheritable kinds (routes / route / custom domains,
// the assets binding, logfwdr) taken from the top level when the section
// does not set them.
//
// Kinds: see bindingSpecs. vars, define and secrets are not listed (they are
// values, not resources), nor are triggers or migrations.
func (c *Config) Bindings() []Binding {
	return append([]Binding(nil), c.bindings...)
}

// AddedBindings returns the bindings of head that base does not have (all
// of head's when base is nil), comparing (Env, Kind, Name). A pattern that
// moves between route and routes is not an addition.
func AddedBindings(base, head *Config) []Binding {
	if head == nil {
		return nil
	}
	if base == nil {
		return head.Bindings()
	}
	key := func(b Binding) Binding {
		if b.Kind == "route" {
			b.Kind = "routes"
		}
		return b
	}
	have := make(map[Binding]bool, len(base.bindings))
	for _, b := range base.bindings {
		have[key(b)] = true
	}
	var added []Binding
	for _, b := range head.bindings {
		if !have[key(b)] {
			added = append(added, b)
			have[key(b)] = true // report a duplicated new binding once
		}
	}
	return added
}

// doc is one document being decoded; it knows how to locate a path in it.
type doc struct {
	path   string
	data   []byte
	format format
	toml   map[string]int // lazily built key-path -> offset index
	json   *hujson.Value
}

func (d *doc) decodeTOML() (map[string]any, error) {
	raw := map[string]any{}
	if err := toml.Unmarshal(d.data, &raw); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			line, col := de.Position()
			return nil, &Error{Path: d.path, Line: line, Col: col, Msg: strings.TrimPrefix(de.Error(), "toml: ")}
		}
		return nil, &Error{Path: d.path, Msg: err.Error()}
	}
	return raw, nil
}

// hujson reports "hujson: line L, column C: message" and nothing more
// structured; the position is recovered from that text.
var hujsonPos = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?s)^hujson: line (\d+), column (\d+): (.*)$`) })

func (d *doc) decodeJSON() (map[string]any, error) {
	v, err := hujson.Parse(d.data)
	if err != nil {
		if m := hujsonPos().FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			col, _ := strconv.Atoi(m[2])
			return nil, &Error{Path: d.path, Line: line, Col: col, Msg: m[3]}
		}
		return nil, &Error{Path: d.path, Msg: err.Error()}
	}
	d.json = &v
	std := v.Clone()
	// Standardize blanks comments and trailing commas with spaces, so the
	// offsets encoding/json reports are offsets into the original file.
	std.Standardize()
	var top any
	dec := json.NewDecoder(bytes.NewReader(std.Pack()))
	dec.UseNumber() // 1e999 is a valid JSON number; float64 cannot hold it
	if err := dec.Decode(&top); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := lineCol(d.data, int(se.Offset))
			return nil, &Error{Path: d.path, Line: line, Col: col, Msg: se.Error()}
		}
		return nil, &Error{Path: d.path, Msg: err.Error()}
	}
	raw, ok := top.(map[string]any)
	if !ok {
		line, col := lineCol(d.data, v.StartOffset)
		return nil, &Error{Path: d.path, Line: line, Col: col, Msg: "the configuration must be a JSON object"}
	}
	return raw, nil
}

// lineCol converts a byte offset to a 1-based line and byte column.
func lineCol(b []byte, off int) (int, int) {
	if off > len(b) {
		off = len(b)
	}
	if off < 0 {
		off = 0
	}
	line := 1 + bytes.Count(b[:off], []byte("\n"))
	col := off - (bytes.LastIndexByte(b[:off], '\n') + 1) + 1
	return line, col
}

// errAt builds a located error for the value at key path p.
func (d *doc) errAt(p []any, format string, args ...any) error {
	e := &Error{Path: d.path, Msg: pathString(p) + ": " + fmt.Sprintf(format, args...)}
	if d.data != nil {
		e.Line, e.Col = lineCol(d.data, d.locate(p))
	}
	return e
}

// pathString renders a key path as env.staging.d1_databases[0].binding.
func pathString(p []any) string {
	var b strings.Builder
	for _, e := range p {
		switch e := e.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", e)
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(e)
		}
	}
	return b.String()
}

func sectionPath(env string) []any {
	if env == "" {
		return nil
	}
	return []any{"env", env}
}

func with(p []any, more ...any) []any {
	return append(append(make([]any, 0, len(p)+len(more)), p...), more...)
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case map[string]any:
		return "a table"
	case []any, []map[string]any:
		return "an array"
	case float64, int64, int, uint64, json.Number:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

func (d *doc) optString(m map[string]any, p []any) (string, error) {
	v, ok := m[p[len(p)-1].(string)]
	if !ok {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", d.errAt(p, "must be a string, not %s", typeName(v))
	}
	return s, nil
}

func (d *doc) envSections(raw map[string]any) (map[string]map[string]any, error) {
	v, ok := raw["env"]
	if !ok {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, d.errAt([]any{"env"}, "must be a table of environments, not %s", typeName(v))
	}
	out := make(map[string]map[string]any, len(m))
	for name, s := range m {
		if name == "" {
			// "--env ''" means the top level: such a section can never be used.
			return nil, d.errAt([]any{"env"}, "an environment name must not be empty")
		}
		sm, ok := s.(map[string]any)
		if !ok {
			return nil, d.errAt([]any{"env", name}, "must be a table, not %s", typeName(s))
		}
		out[name] = sm
	}
	return out, nil
}

// list returns the array at key (absent = nil). go-toml decodes arrays as
// []any; a single table where a list is expected is an error, as in wrangler.
func (d *doc) list(m map[string]any, key string, p []any) ([]any, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, nil
	}
	switch l := v.(type) {
	case []any:
		return l, nil
	case []map[string]any:
		out := make([]any, len(l))
		for i := range l {
			out[i] = l[i]
		}
		return out, nil
	}
	return nil, d.errAt(p, "must be an array, not %s", typeName(v))
}

func (d *doc) table(v any, p []any) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, d.errAt(p, "must be a table, not %s", typeName(v))
	}
	return m, nil
}

func (d *doc) requiredString(m map[string]any, key string, p []any) (string, error) {
	v, ok := m[key]
	if !ok {
		return "", d.errAt(p, "missing %q", key)
	}
	s, ok := v.(string)
	if !ok {
		return "", d.errAt(with(p, key), "must be a string, not %s", typeName(v))
	}
	return s, nil
}

func (d *doc) d1(sec map[string]any, p []any) ([]D1Database, error) {
	items, err := d.list(sec, "d1_databases", with(p, "d1_databases"))
	if err != nil {
		return nil, err
	}
	var out []D1Database
	for i, it := range items {
		ip := with(p, "d1_databases", i)
		m, err := d.table(it, ip)
		if err != nil {
			return nil, err
		}
		db := D1Database{MigrationsDir: "migrations", MigrationsTable: "d1_migrations"}
		if db.Binding, err = d.requiredString(m, "binding", ip); err != nil {
			return nil, err
		}
		for key, dst := range map[string]*string{
			"database_name":       &db.DatabaseName,
			"database_id":         &db.DatabaseID,
			"preview_database_id": &db.PreviewDatabaseID,
			"migrations_dir":      &db.MigrationsDir,
			"migrations_table":    &db.MigrationsTable,
			"migrations_pattern":  &db.MigrationsPattern,
		} {
			if _, ok := m[key]; !ok {
				continue
			}
			s, err := d.optString(m, with(ip, key))
			if err != nil {
				return nil, err
			}
			*dst = s
		}
		out = append(out, db)
	}
	return out, nil
}
