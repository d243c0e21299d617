package wranglercfg

import (
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
	"github.com/tailscale/hujson"
)

// locate returns the byte offset of the value (or, in TOML, the key) at key
// path p, or of the deepest part of p that exists, or of the document. Only
// called on the error path, so the TOML index is built lazily.
func (d *doc) locate(p []any) int {
	if d.format == formatJSON {
		return d.locateJSON(p)
	}
	if d.toml == nil {
		d.toml = tomlIndex(d.data)
	}
	for n := len(p); n > 0; n-- {
		if off, ok := d.toml[pathKey(p[:n])]; ok {
			return off
		}
	}
	return 0
}

func pathKey(p []any) string {
	var b strings.Builder
	for _, e := range p {
		switch e := e.(type) {
		case int:
			b.WriteString("\x00#" + strconv.Itoa(e))
		case string:
			b.WriteString("\x00." + e)
		}
	}
	return b.String()
}

func (d *doc) locateJSON(p []any) int {
	if d.json == nil {
		return 0
	}
	v := d.json
	for _, e := range p {
		var next *hujson.Value
		switch e := e.(type) {
		case string:
			if obj, ok := v.Value.(*hujson.Object); ok {
				// The last member wins, as in encoding/json.
				for i := range obj.Members {
					if lit, ok := obj.Members[i].Name.Value.(hujson.Literal); ok && lit.String() == e {
						next = &obj.Members[i].Value
					}
				}
			}
		case int:
			if arr, ok := v.Value.(*hujson.Array); ok && e < len(arr.Elements) {
				next = &arr.Elements[e]
			}
		}
		if next == nil {
			break
		}
		v = next
	}
	return v.StartOffset
}

// tomlIndex maps every key path of a TOML document to the offset of its
// key (or, for array elements, of the element). Arrays of tables get their
// element index as a path part, like decoded arrays.
func tomlIndex(data []byte) map[string]int {
	idx := map[string]int{}
	count := map[string]int{} // array-of-tables path -> elements so far
	var p unstable.Parser
	p.Reset(data)
	var prefix []any
	record := func(path []any, off int) {
		k := pathKey(path)
		if _, ok := idx[k]; !ok {
			idx[k] = off
		}
	}
	var value func(path []any, n *unstable.Node, fallback int)
	value = func(path []any, n *unstable.Node, fallback int) {
		switch n.Kind {
		case unstable.InlineTable:
			for it := n.Children(); it.Next(); {
				kv := it.Node()
				if kv.Kind != unstable.KeyValue {
					continue
				}
				keys, off := keyOf(kv)
				full := append(append([]any{}, path...), keys...)
				record(full, off)
				value(full, kv.Value(), off)
			}
		case unstable.Array:
			i := 0
			for it := n.Children(); it.Next(); {
				el := it.Node()
				if el.Kind == unstable.Comment {
					continue
				}
				off := fallback
				if el.Raw.Length > 0 {
					off = int(el.Raw.Offset)
				}
				full := append(append([]any{}, path...), i)
				record(full, off)
				value(full, el, off)
				i++
			}
		}
	}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			keys, off := keyOf(e)
			var resolved []any
			for i, k := range keys {
				resolved = append(resolved, k)
				if n, ok := count[pathKey(resolved)]; ok && (i < len(keys)-1 || e.Kind == unstable.Table) {
					resolved = append(resolved, n-1)
				}
			}
			if e.Kind == unstable.ArrayTable {
				k := pathKey(resolved)
				record(resolved, off)
				resolved = append(resolved, count[k])
				count[k]++
			}
			record(resolved, off)
			prefix = resolved
		case unstable.KeyValue:
			keys, off := keyOf(e)
			full := append(append([]any{}, prefix...), keys...)
			record(full, off)
			value(full, e.Value(), off)
		}
	}
	return idx
}

func keyOf(n *unstable.Node) ([]any, int) {
	var keys []any
	off := -1
	for it := n.Key(); it.Next(); {
		k := it.Node()
		if off < 0 {
			off = int(k.Raw.Offset)
		}
		keys = append(keys, string(k.Data))
	}
	if off < 0 {
		off = 0
	}
	return keys, off
}
