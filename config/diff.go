package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
)

// Change is one setting two configurations disagree on.
type Change struct {
	// Key is the dotted key ("categories.standard", "pre_push.commands").
	Key      string
	From, To string // the values as JSON
}

func (c Change) String() string { return fmt.Sprintf("%s: %s → %s", c.Key, c.From, c.To) }

// Diff lists the effective settings that differ between from and to,
// sorted by key: what a change of guard.toml really changes, defaults
// included (a key written with its default value changes nothing).
func Diff(from, to *Config) []Change {
	a, b := flatten(from), flatten(to)
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var out []Change
	for k := range keys {
		if !reflect.DeepEqual(a[k], b[k]) {
			out = append(out, Change{Key: k, From: jsonValue(a[k]), To: jsonValue(b[k])})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// flatten maps every leaf setting (a value that is not a table) to its
// dotted key, through the JSON form `guard config --json` would show.
func flatten(c *Config) map[string]any {
	out := map[string]any{}
	if c == nil {
		return out
	}
	data, err := json.Marshal(c)
	if err != nil {
		return out
	}
	var m map[string]any
	if json.Unmarshal(data, &m) != nil {
		return out
	}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if t, ok := v.(map[string]any); ok {
			for k, sub := range t {
				key := k
				if prefix != "" {
					key = prefix + "." + k
				}
				walk(key, sub)
			}
			return
		}
		out[prefix] = v
	}
	walk("", m)
	return out
}

func jsonValue(v any) string {
	if v == nil {
		return "(unset)"
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}
