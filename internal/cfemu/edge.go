package cfemu

// The edge: what a client of the worker reaches, as opposed to the API.
//
//	GET|POST|... /__edge/{worker}/{path...}
//
// serves the worker's current deployment (its newest). A request whose
// Cloudflare-Workers-Version-Overrides header (an RFC 8941 dictionary,
// `<worker>="<version-id>"`) names a version of that deployment reaches that
// version, even at 0 % — Cloudflare's documented "smoke test". Any other
// request follows the percentages: the emulator runs no code, so it picks
// versions by smooth weighted round robin, which is deterministic and exact
// (after N requests each version has served its share of N, rounded), and a
// version at 0 % never serves a request that is not pinned to it.
//
// A version answers 200 with a JSON body naming itself, unless a health rule
// (SetVersionHealth, or POST /__emu/edge/health) makes it answer another
// status: tests make "a bad version" that way. The answer carries the
// version in the Cf-Emu-Version-Id header. Every request served is counted
// per version and per route (percentage or override) so a test can prove
// that no user request reached a version (EdgeServed, GET /__emu/edge).
// Edge requests are not API requests: they are neither logged, faulted
// nor authenticated.

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// EdgePrefix is the path under which the workers' traffic is served.
const EdgePrefix = "/__edge/"

// VersionOverridesHeader is Cloudflare's header that pins a request to a
// version of the current deployment.
const VersionOverridesHeader = "Cloudflare-Workers-Version-Overrides"

// EdgeVersionHeader names the version that answered an edge request.
const EdgeVersionHeader = "Cf-Emu-Version-Id"

// Routing of an edge request.
const (
	RoutedPercentage = "percentage"
	RoutedOverride   = "override"
)

// HealthRule makes matching versions of a worker answer Status on the edge.
// A rule matches by VersionID, or by Tag (the version's workers/tag
// annotation: guard writes the commit there, which a test knows before the
// version exists).
type HealthRule struct {
	Worker    string `json:"worker"`
	VersionID string `json:"version_id,omitempty"`
	Tag       string `json:"tag,omitempty"`
	// Status is what the version answers; 0 means 500.
	Status int `json:"status,omitempty"`
}

func (h HealthRule) validate() error {
	if h.Worker == "" {
		return errors.New("health rule: worker is required")
	}
	if (h.VersionID == "") == (h.Tag == "") {
		return errors.New("health rule: give exactly one of version_id and tag")
	}
	if h.Status != 0 && (h.Status < 100 || h.Status > 599) {
		return fmt.Errorf("health rule: status %d is not an HTTP status", h.Status)
	}
	return nil
}

// EdgeCount is how many edge requests a version served, by route.
type EdgeCount struct {
	Percentage int `json:"percentage"`
	Override   int `json:"override"`
}

// edgeState is the edge's bookkeeping, guarded by Emulator.mu.
type edgeState struct {
	rules []HealthRule
	// credit is the round robin's running credit per deployment and version.
	credit map[string]map[string]float64
	// served counts requests per worker ("account/worker") and version.
	served map[string]map[string]*EdgeCount
}

func (e *Emulator) edge() *edgeState {
	if e.edgeSt == nil {
		e.edgeSt = &edgeState{credit: map[string]map[string]float64{}, served: map[string]map[string]*EdgeCount{}}
	}
	return e.edgeSt
}

// SetVersionHealth adds a health rule; a later rule for the same version
// or tag replaces the earlier one.
func (e *Emulator) SetVersionHealth(h HealthRule) error {
	if err := h.validate(); err != nil {
		return err
	}
	if h.Status == 0 {
		h.Status = http.StatusInternalServerError
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ed := e.edge()
	kept := ed.rules[:0]
	for _, r := range ed.rules {
		if r.Worker != h.Worker || r.VersionID != h.VersionID || r.Tag != h.Tag {
			kept = append(kept, r)
		}
	}
	ed.rules = append(kept, h)
	return nil
}

// ClearVersionHealth removes every health rule: every version is healthy.
func (e *Emulator) ClearVersionHealth() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.edge().rules = nil
}

// EdgeServed returns how many edge requests each version of the worker
// (in any account) has served, by route.
func (e *Emulator) EdgeServed(worker string) map[string]EdgeCount {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]EdgeCount{}
	for key, m := range e.edge().served {
		if _, w, _ := strings.Cut(key, "/"); w == worker {
			for v, c := range m {
				cur := out[v]
				cur.Percentage += c.Percentage
				cur.Override += c.Override
				out[v] = cur
			}
		}
	}
	return out
}

func (e *Emulator) resetEdgeLocked() { e.edgeSt = nil }

// serveEdge answers one request to a worker.
func (e *Emulator) serveEdge(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, EdgePrefix)
	worker, _, _ := strings.Cut(rest, "/")
	if worker == "" {
		http.Error(w, "cfemu edge: the path must be "+EdgePrefix+"<worker>/...", http.StatusNotFound)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var found []*Script
	var accounts []string
	for id, a := range e.st.accounts {
		if s := a.Scripts[worker]; s != nil {
			found = append(found, s)
			accounts = append(accounts, id)
		}
	}
	switch {
	case len(found) == 0:
		http.Error(w, fmt.Sprintf("cfemu edge: no worker %q", worker), http.StatusNotFound)
		return
	case len(found) > 1:
		sort.Strings(accounts)
		http.Error(w, fmt.Sprintf("cfemu edge: worker %q exists in several accounts (%s)", worker, strings.Join(accounts, ", ")), http.StatusMisdirectedRequest)
		return
	}
	s, key := found[0], accounts[0]+"/"+worker
	if len(s.Deployments) == 0 {
		http.Error(w, fmt.Sprintf("cfemu edge: worker %q has no deployment", worker), http.StatusNotFound)
		return
	}
	dep := s.Deployments[len(s.Deployments)-1]
	ed := e.edge()
	routed := RoutedPercentage
	vid := ""
	if pinned, ok := overrideFor(r.Header.Values(VersionOverridesHeader), worker); ok {
		for _, dv := range dep.Versions {
			if dv.VersionID == pinned {
				vid, routed = pinned, RoutedOverride
			}
		}
	}
	if vid == "" {
		vid = ed.pick(dep)
	}
	if ed.served[key] == nil {
		ed.served[key] = map[string]*EdgeCount{}
	}
	c := ed.served[key][vid]
	if c == nil {
		c = &EdgeCount{}
		ed.served[key][vid] = c
	}
	if routed == RoutedOverride {
		c.Override++
	} else {
		c.Percentage++
	}
	status := http.StatusOK
	if v := findVersion(s, vid); v != nil {
		for _, rule := range ed.rules {
			if rule.Worker == worker && (rule.VersionID == vid || (rule.Tag != "" && rule.Tag == v.Annotations["workers/tag"])) {
				status = rule.Status
			}
		}
	}
	w.Header().Set(EdgeVersionHeader, vid)
	writeJSON(w, status, map[string]any{
		"worker":        worker,
		"version_id":    vid,
		"deployment_id": dep.ID,
		"routed":        routed,
		"path":          "/" + strings.TrimPrefix(strings.TrimPrefix(rest, worker), "/"),
		"status":        status,
	})
}

// pick chooses the version of dep that serves the next unpinned request:
// smooth weighted round robin over the percentages.
func (ed *edgeState) pick(dep *Deployment) string {
	credit := ed.credit[dep.ID]
	if credit == nil {
		credit = map[string]float64{}
		ed.credit[dep.ID] = credit
	}
	best, total := -1, 0.0
	for i, dv := range dep.Versions {
		credit[dv.VersionID] += dv.Percentage
		total += dv.Percentage
		if dv.Percentage > 0 && (best < 0 || credit[dv.VersionID] > credit[dep.Versions[best].VersionID]) {
			best = i
		}
	}
	if best < 0 {
		best = 0 // percentages sum to 100, so this needs a corrupt state
	}
	id := dep.Versions[best].VersionID
	credit[id] -= total
	return id
}

// overrideFor reads the version a Cloudflare-Workers-Version-Overrides
// header pins worker to. The header is an RFC 8941 dictionary whose
// members are sf-strings: `a="v1", b="v2"`. A header that does not parse
// pins nothing, as a member of another type would not.
func overrideFor(values []string, worker string) (string, bool) {
	for _, h := range values {
		members, err := parseStringDictionary(h)
		if err != nil {
			continue
		}
		if v, ok := members[worker]; ok {
			return v, true
		}
	}
	return "", false
}

// parseStringDictionary parses an RFC 8941 dictionary whose values are all
// sf-strings (parameters are not allowed; the last duplicate key wins, as
// the RFC says).
func parseStringDictionary(s string) (map[string]string, error) {
	out := map[string]string{}
	i := 0
	skipOWS := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	skipSP := func() {
		for i < len(s) && s[i] == ' ' {
			i++
		}
	}
	skipSP()
	if i == len(s) {
		return out, nil
	}
	for {
		start := i
		if i >= len(s) || !(s[i] >= 'a' && s[i] <= 'z' || s[i] == '*') {
			return nil, fmt.Errorf("key expected at %d", i)
		}
		for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= '0' && s[i] <= '9' || strings.IndexByte("_-.*", s[i]) >= 0) {
			i++
		}
		key := s[start:i]
		if i >= len(s) || s[i] != '=' {
			return nil, fmt.Errorf("member %q is not a string", key)
		}
		i++
		if i >= len(s) || s[i] != '"' {
			return nil, fmt.Errorf("member %q is not a string", key)
		}
		i++
		var b strings.Builder
		closed := false
		for i < len(s) {
			c := s[i]
			i++
			if c == '\\' {
				if i >= len(s) || (s[i] != '"' && s[i] != '\\') {
					return nil, errors.New("bad escape in string")
				}
				b.WriteByte(s[i])
				i++
				continue
			}
			if c == '"' {
				closed = true
				break
			}
			if c < 0x20 || c > 0x7e {
				return nil, errors.New("invalid character in string")
			}
			b.WriteByte(c)
		}
		if !closed {
			return nil, errors.New("unterminated string")
		}
		out[key] = b.String()
		skipOWS()
		if i == len(s) {
			return out, nil
		}
		if s[i] != ',' {
			return nil, fmt.Errorf("comma expected at %d", i)
		}
		i++
		skipOWS()
		if i == len(s) {
			return nil, errors.New("trailing comma")
		}
	}
}
