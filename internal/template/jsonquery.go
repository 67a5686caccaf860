package template

import (
	"encoding/json"
	"math"
	"reflect"
	"sort"
	"strings"

	"github.com/jmespath/go-jmespath"
)

// json_query is community.general.json_query: a JMESPath search (with
// go-jmespath) over the value. Values go over as go-jmespath's plain JSON
// types and come back as tend's: dicts the query returns unchanged keep
// their key order, new dicts (multiselect hashes, merge()) get sorted
// keys, and whole floats become ints, since go-jmespath keeps every number
// as float64.
func fJSONQuery(_ *scope, in any, args []any, kw map[string]any) any {
	query := toStr(arg(args, kw, 0, "expr", nil))
	orders := map[uintptr][]string{}
	res, err := jmespath.Search(legacyLiterals(query), toJMESPath(in, orders))
	if err != nil {
		fail("JMESPathError in json_query filter plugin:\n%v", err)
	}
	return fromJMESPath(res, orders)
}

// toJMESPath converts v for go-jmespath, remembering each dict's key
// order by the identity of the map it became.
func toJMESPath(v any, orders map[uintptr][]string) any {
	v = norm(v)
	switch x := v.(type) {
	case nil, bool, string, float64:
		return x
	case int:
		return float64(x)
	case markup:
		return string(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = toJMESPath(e, orders)
		}
		return out
	}
	if keys, ok := mapKeys(v); ok {
		out := make(map[string]any, len(keys))
		for _, k := range keys {
			e, _ := mapGet(v, k)
			out[k] = toJMESPath(e, orders)
		}
		orders[reflect.ValueOf(out).Pointer()] = keys
		return out
	}
	if l, ok := v.(tuple); ok {
		return toJMESPath([]any(l), orders)
	}
	if isList(v) {
		return toJMESPath(iterate(v), orders)
	}
	return toStr(v)
}

func fromJMESPath(v any, orders map[uintptr][]string) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int(x)
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = fromJMESPath(e, orders)
		}
		return out
	case map[string]any:
		m := NewMap()
		keys := orders[reflect.ValueOf(x).Pointer()]
		if len(keys) != len(x) {
			keys = make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
		}
		for _, k := range keys {
			m.Set(k, fromJMESPath(x[k], orders))
		}
		return m
	}
	return v
}

// legacyLiterals rewrites backtick literals that are not JSON (`bob`)
// into JSON strings, as Python's jmespath still accepts them (with a
// deprecation warning) and go-jmespath does not.
func legacyLiterals(q string) string {
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch c {
		case '\'', '"':
			j := i + 1
			for j < len(q) && q[j] != c {
				if q[j] == '\\' {
					j++
				}
				j++
			}
			end := min(j+1, len(q))
			b.WriteString(q[i:end])
			i = end - 1
		case '`':
			j := i + 1
			for j < len(q) && q[j] != '`' {
				if q[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(q) {
				b.WriteString(q[i:])
				return b.String()
			}
			lit := strings.ReplaceAll(q[i+1:j], "\\`", "`")
			if !json.Valid([]byte(lit)) {
				quoted, _ := json.Marshal(strings.TrimLeft(lit, " \t\n\r"))
				lit = string(quoted)
			}
			b.WriteString("`" + strings.ReplaceAll(lit, "`", "\\`") + "`")
			i = j
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
