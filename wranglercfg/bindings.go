package wranglercfg

// spec describes where one kind of binding lives in a configuration section
// and which field names it. The list follows wrangler's Environment type
// (workers-sdk packages/workers-utils/src/config/environment.ts).
type spec struct {
	kind     string   // Binding.Kind
	path     []string // keys inside a section
	name     string   // field that names the binding
	single   bool     // one table, not an array of tables
	optional bool     // a missing name field means there is no binding
	inherit  bool     // named environments inherit it from the top level
}

var bindingSpecs = []spec{
	{kind: "d1_databases", path: []string{"d1_databases"}, name: "binding"},
	{kind: "r2_buckets", path: []string{"r2_buckets"}, name: "binding"},
	{kind: "kv_namespaces", path: []string{"kv_namespaces"}, name: "binding"},
	{kind: "durable_objects", path: []string{"durable_objects", "bindings"}, name: "name"},
	{kind: "services", path: []string{"services"}, name: "binding"},
	{kind: "queues.producers", path: []string{"queues", "producers"}, name: "binding"},
	{kind: "queues.consumers", path: []string{"queues", "consumers"}, name: "queue"},
	{kind: "hyperdrive", path: []string{"hyperdrive"}, name: "binding"},
	{kind: "vectorize", path: []string{"vectorize"}, name: "binding"},
	{kind: "analytics_engine_datasets", path: []string{"analytics_engine_datasets"}, name: "binding"},
	{kind: "workflows", path: []string{"workflows"}, name: "binding"},
	{kind: "dispatch_namespaces", path: []string{"dispatch_namespaces"}, name: "binding"},
	{kind: "mtls_certificates", path: []string{"mtls_certificates"}, name: "binding"},
	{kind: "pipelines", path: []string{"pipelines"}, name: "binding"},
	{kind: "secrets_store_secrets", path: []string{"secrets_store_secrets"}, name: "binding"},
	{kind: "send_email", path: []string{"send_email"}, name: "name"},
	{kind: "ratelimits", path: []string{"ratelimits"}, name: "name"},
	{kind: "tail_consumers", path: []string{"tail_consumers"}, name: "service"},
	{kind: "streaming_tail_consumers", path: []string{"streaming_tail_consumers"}, name: "service"},
	{kind: "containers", path: []string{"containers"}, name: "class_name"},
	{kind: "ai_search_namespaces", path: []string{"ai_search_namespaces"}, name: "binding"},
	{kind: "ai_search", path: []string{"ai_search"}, name: "binding"},
	{kind: "agent_memory", path: []string{"agent_memory"}, name: "binding"},
	{kind: "artifacts", path: []string{"artifacts"}, name: "binding"},
	{kind: "flagship", path: []string{"flagship"}, name: "binding"},
	{kind: "worker_loaders", path: []string{"worker_loaders"}, name: "binding"},
	{kind: "vpc_services", path: []string{"vpc_services"}, name: "binding"},
	{kind: "vpc_networks", path: []string{"vpc_networks"}, name: "binding"},
	{kind: "unsafe_hello_world", path: []string{"unsafe_hello_world"}, name: "binding"},
	{kind: "constellation", path: []string{"constellation"}, name: "binding"}, // older wrangler versions
	{kind: "unsafe.bindings", path: []string{"unsafe", "bindings"}, name: "name"},
	{kind: "logfwdr", path: []string{"logfwdr", "bindings"}, name: "name", inherit: true},
	{kind: "ai", path: []string{"ai"}, name: "binding", single: true},
	{kind: "browser", path: []string{"browser"}, name: "binding", single: true},
	{kind: "images", path: []string{"images"}, name: "binding", single: true},
	{kind: "media", path: []string{"media"}, name: "binding", single: true},
	{kind: "stream", path: []string{"stream"}, name: "binding", single: true},
	{kind: "websearch", path: []string{"websearch"}, name: "binding", single: true},
	{kind: "version_metadata", path: []string{"version_metadata"}, name: "binding", single: true},
	{kind: "assets", path: []string{"assets"}, name: "binding", single: true, optional: true, inherit: true},
}

// BindingKinds lists every Binding.Kind this package reports.
func BindingKinds() []string {
	out := []string{"routes", "route", "custom_domains"}
	for _, s := range bindingSpecs {
		out = append(out, s.kind)
	}
	return out
}

// sectionBindings extracts the bindings of one section. top is the
// top-level table when sec is a named environment (for inheritable kinds).
func (d *doc) sectionBindings(env string, sec, top map[string]any) ([]Binding, error) {
	var out []Binding
	add := func(kind, name string) { out = append(out, Binding{Env: env, Kind: kind, Name: name}) }

	// Routes first: they are what makes a Worker reachable.
	src, p := sec, sectionPath(env)
	if top != nil && !has(sec, "routes") && !has(sec, "route") {
		src, p = top, nil
	}
	if err := d.routes(src, p, add); err != nil {
		return nil, err
	}

	for _, s := range bindingSpecs {
		src, p := sec, sectionPath(env)
		if s.inherit && top != nil && !has(sec, s.path[0]) {
			src, p = top, nil
		}
		if err := d.spec(s, src, p, add); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func has(m map[string]any, key string) bool {
	_, ok := m[key]
	return ok
}

func (d *doc) spec(s spec, sec map[string]any, p []any, add func(kind, name string)) error {
	// Walk to the table that holds the last key.
	m := sec
	for i, k := range s.path[:len(s.path)-1] {
		v, ok := m[k]
		if !ok || v == nil {
			return nil
		}
		var err error
		if m, err = d.table(v, with(p, anys(s.path[:i+1])...)); err != nil {
			return err
		}
	}
	last := s.path[len(s.path)-1]
	lp := with(p, anys(s.path)...)
	if s.single {
		v, ok := m[last]
		if !ok || v == nil {
			return nil
		}
		t, err := d.table(v, lp)
		if err != nil {
			return err
		}
		if s.optional && !has(t, s.name) {
			return nil
		}
		name, err := d.requiredString(t, s.name, lp)
		if err != nil {
			return err
		}
		add(s.kind, name)
		return nil
	}
	items, err := d.list(m, last, lp)
	if err != nil {
		return err
	}
	for i, it := range items {
		ip := with(lp, i)
		t, err := d.table(it, ip)
		if err != nil {
			return err
		}
		name, err := d.requiredString(t, s.name, ip)
		if err != nil {
			return err
		}
		add(s.kind, name)
	}
	return nil
}

// routes handles route (one) and routes (many). An entry is a pattern
// string or a table with "pattern"; custom_domain = true makes it a custom
// domain, reported as kind custom_domains.
func (d *doc) routes(sec map[string]any, p []any, add func(kind, name string)) error {
	entry := func(v any, ep []any, kind string) error {
		switch v := v.(type) {
		case string:
			if v == "" && kind == "route" {
				return nil // wrangler ignores an empty route, with a warning
			}
			add(kind, v)
			return nil
		case map[string]any:
			pat, err := d.requiredString(v, "pattern", ep)
			if err != nil {
				return err
			}
			if cd, ok := v["custom_domain"]; ok {
				b, ok := cd.(bool)
				if !ok {
					return d.errAt(with(ep, "custom_domain"), "must be a boolean, not %s", typeName(cd))
				}
				if b {
					kind = "custom_domains"
				}
			}
			add(kind, pat)
			return nil
		}
		return d.errAt(ep, "must be a route pattern string or a table, not %s", typeName(v))
	}
	if v, ok := sec["route"]; ok && v != nil {
		if err := entry(v, with(p, "route"), "route"); err != nil {
			return err
		}
	}
	items, err := d.list(sec, "routes", with(p, "routes"))
	if err != nil {
		return err
	}
	for i, it := range items {
		if err := entry(it, with(p, "routes", i), "routes"); err != nil {
			return err
		}
	}
	return nil
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
