package template

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Map is an insertion-ordered dictionary, the representation of Python/YAML
// dicts inside the template engine. Ansible keeps YAML key order wherever it
// shows (items(), to_json, combine, loops), so the engine should hand YAML
// mappings over as *Map (see MapFromYAML helpers in the engine) — a plain
// map[string]any is accepted too and then iterates in sorted key order.
type Map struct {
	keys []string
	m    map[string]any
	tmp  bool // created by the template being rendered: may be changed in place
}

func newTmpMap() *Map { return &Map{m: map[string]any{}, tmp: true} }

// NewMap returns an empty ordered map.
func NewMap() *Map { return &Map{m: map[string]any{}} }

// Set adds or replaces key; a new key goes to the end.
func (m *Map) Set(k string, v any) {
	if _, ok := m.m[k]; !ok {
		m.keys = append(m.keys, k)
	}
	m.m[k] = v
}

// Get returns the value of key.
func (m *Map) Get(k string) (any, bool) {
	if m == nil {
		return nil, false
	}
	v, ok := m.m[k]
	return v, ok
}

// Delete removes key.
func (m *Map) Delete(k string) {
	if _, ok := m.m[k]; !ok {
		return
	}
	delete(m.m, k)
	for i, kk := range m.keys {
		if kk == k {
			m.keys = append(m.keys[:i:i], m.keys[i+1:]...)
			break
		}
	}
}

// Keys returns the keys in insertion order (do not modify).
func (m *Map) Keys() []string {
	if m == nil {
		return nil
	}
	return m.keys
}

// Len is the number of keys.
func (m *Map) Len() int {
	if m == nil {
		return 0
	}
	return len(m.keys)
}

// Copy returns a shallow copy.
func (m *Map) Copy() *Map {
	n := &Map{keys: append([]string(nil), m.keys...), m: make(map[string]any, len(m.m))}
	for k, v := range m.m {
		n.m[k] = v
	}
	return n
}

// Shallow is the map as a map[string]any, one level deep: the values stay as
// they are (the maps inside keep their order). Variable scopes are plain
// maps at the top, ordered below.
func (m *Map) Shallow() map[string]any {
	out := make(map[string]any, len(m.keys))
	for _, k := range m.keys {
		out[k] = m.m[k]
	}
	return out
}

// ToGo converts the map (deeply) to map[string]any, losing the order.
func (m *Map) ToGo() map[string]any {
	out := make(map[string]any, len(m.keys))
	for _, k := range m.keys {
		out[k] = ToGo(m.m[k])
	}
	return out
}

// ToGo converts template values deeply to plain Go values: *Map becomes
// map[string]any, lists become []any.
func ToGo(v any) any {
	switch x := v.(type) {
	case markup:
		return string(x)
	case object:
		return x.str()
	case *Map:
		return x.ToGo()
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = ToGo(e)
		}
		return out
	}
	return v
}

// undef is the value of an undefined variable or missing attribute.
type undef struct {
	name string // variable name, for "'name' is undefined"
	msg  string // full message when not a plain variable
}

// Undefined is a value that fails, with msg, wherever a template uses it:
// for a variable that exists but cannot be given, such as a !vault value
// no password decrypts.
func Undefined(name, msg string) any { return &undef{name: name, msg: msg} }

func (u *undef) err() error {
	if u.msg != "" {
		return &UndefinedError{Name: u.name, Msg: u.msg}
	}
	return &UndefinedError{Name: u.name}
}

// UndefinedError is returned (wrapped) when a template uses an undefined
// variable or a missing attribute.
type UndefinedError struct {
	Name string
	Msg  string // set for missing attributes, e.g. "'dict object' has no attribute 'x'"
}

func (e *UndefinedError) Error() string {
	if e.Msg != "" {
		return e.Msg
	}
	return fmt.Sprintf("'%s' is undefined", e.Name)
}

// tuple is a Python tuple: it behaves as a list everywhere (norm turns it
// into []any) except when printed ("(1, 2)"), typed and %-formatted.
type tuple []any

// groupTuple is one (grouper, list) pair of the groupby filter: a tuple
// whose items are also the attributes .grouper and .list.
type groupTuple tuple

// asTuple returns v as a tuple when it is one (a groupby pair included).
func asTuple(v any) (tuple, bool) {
	switch x := v.(type) {
	case tuple:
		return x, true
	case groupTuple:
		return tuple(x), true
	}
	return nil, false
}

// markup is a string Jinja2 has marked safe for HTML (the result of safe,
// escape, forceescape and tojson). It is a plain string everywhere (norm
// turns it into one) except that escape leaves it alone, the escaped test
// is true for it, and it prints and types as Markup.
type markup string

// object is a Python value beyond the engine's plain kinds (a datetime, a
// timedelta): it prints, names its type and answers attributes itself.
// It may also implement truther, jsoner and the arithmetic in objectArith.
type object interface {
	str() string
	repr() string
	typeName() string
	attr(name string) (any, bool)
}

// truther is an object with Python's __bool__.
type truther interface{ truth() bool }

// jsoner is an object Ansible's JSON encoder can write (datetime).
type jsoner interface{ jsonValue() any }

// literalOnly reports whether v's repr reads back as a Python literal: no
// markup, datetime or timedelta inside.
func literalOnly(v any) bool {
	var items []any
	switch x := v.(type) {
	case markup, object:
		return false
	case tuple:
		items = x
	case groupTuple:
		items = x
	case []any:
		items = x
	case *Map:
		for _, k := range x.keys {
			items = append(items, x.m[k])
		}
	case map[string]any:
		for _, e := range x {
			items = append(items, e)
		}
	}
	for _, e := range items {
		if !literalOnly(e) {
			return false
		}
	}
	return true
}

// norm converts Go values from YAML/JSON decoders and callers to the
// engine's value set: nil, bool, int, float64, string, []any, *Map,
// map[string]any (sorted iteration), callables and undefined.
func norm(v any) any {
	switch x := v.(type) {
	case tuple:
		return []any(x)
	case groupTuple:
		return []any(x)
	case markup:
		return string(x)
	case int64:
		return int(x)
	case int32:
		return int(x)
	case uint64:
		return int(x)
	case uint:
		return int(x)
	case uint32:
		return int(x)
	case int8:
		return int(x)
	case int16:
		return int(x)
	case uint8:
		return int(x)
	case uint16:
		return int(x)
	case float32:
		return float64(x)
	case []string:
		return toAnySlice(x)
	case []int:
		return toAnySlice(x)
	case []float64:
		return toAnySlice(x)
	case []bool:
		return toAnySlice(x)
	case []map[string]any:
		return toAnySlice(x)
	case []*Map:
		return toAnySlice(x)
	case map[any]any:
		m := NewMap()
		keys := make([]string, 0, len(x))
		vals := map[string]any{}
		for k, v := range x {
			ks := toStr(k)
			keys = append(keys, ks)
			vals[ks] = v
		}
		sort.Strings(keys)
		for _, k := range keys {
			m.Set(k, vals[k])
		}
		return m
	case map[string]string:
		m := NewMap()
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			m.Set(k, x[k])
		}
		return m
	}
	return v
}

func toAnySlice[T any](l []T) []any {
	out := make([]any, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// mapKeys returns the keys of a mapping in iteration order.
func mapKeys(v any) ([]string, bool) {
	switch x := v.(type) {
	case *Map:
		return x.keys, true
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return keys, true
	}
	return nil, false
}

func mapGet(v any, k string) (any, bool) {
	switch x := v.(type) {
	case *Map:
		r, ok := x.m[k]
		return norm(r), ok
	case map[string]any:
		r, ok := x[k]
		return norm(r), ok
	}
	return nil, false
}

func isMap(v any) bool {
	switch v.(type) {
	case *Map, map[string]any:
		return true
	}
	return false
}

// asOrdered returns v as a *Map (converting map[string]any, sorted).
func asOrdered(v any) *Map {
	switch x := v.(type) {
	case *Map:
		return x
	case map[string]any:
		m := NewMap()
		keys, _ := mapKeys(x)
		for _, k := range keys {
			m.Set(k, x[k])
		}
		return m
	}
	return nil
}

func isList(v any) bool {
	_, ok := v.([]any)
	return ok
}

func isNumber(v any) bool {
	switch v.(type) {
	case int, float64:
		return true
	}
	return false
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case float64:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// truth is Python's bool(); undefined raises.
func truth(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case int:
		return x != 0
	case float64:
		return x != 0
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case *Map:
		return x.Len() > 0
	case map[string]any:
		return len(x) > 0
	case *undef:
		panic(x.err())
	case markup:
		return x != ""
	case truther:
		return x.truth()
	}
	return true
}

// toStr is Python's str() of a value as Jinja2 prints it.
func toStr(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return "None"
	case *undef:
		panic(x.err())
	case markup:
		return string(x)
	case object:
		return x.str()
	}
	return repr(v)
}

// repr is Python's repr().
func repr(v any) string {
	var b strings.Builder
	writeRepr(&b, v)
	return b.String()
}

func writeRepr(b *strings.Builder, v any) {
	if m, ok := v.(markup); ok {
		b.WriteString("Markup(" + pyQuote(string(m)) + ")")
		return
	}
	if t, ok := asTuple(v); ok {
		b.WriteByte('(')
		for i, e := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, e)
		}
		if len(t) == 1 {
			b.WriteByte(',')
		}
		b.WriteByte(')')
		return
	}
	switch x := norm(v).(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if x {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int:
		b.WriteString(strconv.Itoa(x))
	case float64:
		b.WriteString(formatFloat(x))
	case string:
		b.WriteString(pyQuote(x))
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, e)
		}
		b.WriteByte(']')
	case *Map, map[string]any:
		keys, _ := mapKeys(x)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pyQuote(k))
			b.WriteString(": ")
			e, _ := mapGet(x, k)
			writeRepr(b, e)
		}
		b.WriteByte('}')
	case *undef:
		panic(x.err())
	case *macro:
		b.WriteString("<Macro '" + x.name + "'>")
	case object:
		b.WriteString(x.repr())
	default:
		fmt.Fprintf(b, "%v", x)
	}
}

// formatFloat prints a float as Python's repr does.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	exp := int(math.Floor(math.Log10(math.Abs(f))))
	if exp < -4 || exp >= 16 {
		s := strconv.FormatFloat(f, 'e', -1, 64)
		// Go: 1e+16, Python: 1e+16; Go: 1e-05, Python 1e-05.
		return s
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// pyQuote quotes s the way Python's repr(str) does.
func pyQuote(s string) string {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(q):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// typeName is Python's type(v).__name__ as Ansible reports it.
func typeName(v any) string {
	switch x := v.(type) {
	case tuple:
		return "tuple"
	case groupTuple:
		return "_GroupTuple"
	case markup:
		return "Markup"
	case object:
		return x.typeName()
	}
	switch norm(v).(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []any:
		return "list"
	case *Map, map[string]any:
		return "dict"
	case *undef:
		return "AnsibleUndefined"
	case Getter:
		return "dict"
	}
	return fmt.Sprintf("%T", v)
}

// equal is Python's ==.
func equal(a, b any) bool {
	a, b = norm(a), norm(b)
	if fa, ok := toFloat(a); ok && !isStrOrNil(a) {
		if fb, ok := toFloat(b); ok && !isStrOrNil(b) {
			return fa == fb
		}
		return false
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case *Map, map[string]any:
		if !isMap(b) {
			return false
		}
		ka, _ := mapKeys(a)
		kb, _ := mapKeys(b)
		if len(ka) != len(kb) {
			return false
		}
		for _, k := range ka {
			va, _ := mapGet(a, k)
			vb, ok := mapGet(b, k)
			if !ok || !equal(va, vb) {
				return false
			}
		}
		return true
	case *undef:
		panic(x.err())
	case object:
		return objectEqual(x, b)
	}
	return a == b
}

func isStrOrNil(v any) bool {
	switch v.(type) {
	case string, nil:
		return true
	}
	return false
}

// compare is Python's ordering; it panics on incomparable types.
func compare(a, b any) int {
	a, b = norm(a), norm(b)
	if u, ok := a.(*undef); ok {
		panic(u.err())
	}
	if u, ok := b.(*undef); ok {
		panic(u.err())
	}
	fa, okA := toFloat(a)
	fb, okB := toFloat(b)
	if okA && okB {
		switch {
		case fa < fb:
			return -1
		case fa > fb:
			return 1
		}
		return 0
	}
	if sa, ok := a.(string); ok {
		if sb, ok := b.(string); ok {
			return strings.Compare(sa, sb)
		}
	}
	if la, ok := a.([]any); ok {
		if lb, ok := b.([]any); ok {
			for i := 0; i < len(la) && i < len(lb); i++ {
				if c := compare(la[i], lb[i]); c != 0 {
					return c
				}
			}
			return len(la) - len(lb)
		}
	}
	if c, ok := objectCompare(a, b); ok {
		return c
	}
	panic(fmt.Errorf("'<' not supported between instances of '%s' and '%s'", typeName(a), typeName(b)))
}

// deepNorm converts a whole value tree (e.g. from YAML) into engine values.
func deepNorm(v any) any {
	switch x := norm(v).(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepNorm(e)
		}
		return out
	case *Map:
		return x
	case map[string]any:
		return x
	default:
		return x
	}
}
