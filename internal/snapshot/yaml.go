package snapshot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// leadingKeys come first at the top level, in this order; the other keys follow sorted.
var leadingKeys = []string{"apiVersion", "kind", "metadata"}

// Marshal writes obj as deterministic YAML: 2-space indent, sequences not indented below their
// key (the kubectl layout), top-level keys apiVersion, kind, metadata and then the rest sorted,
// nested keys sorted. Strings that a YAML 1.1 or 1.2 reader would take for another type are
// quoted and multi-line strings are literal blocks where YAML allows. An object nested deeper
// than MaxDepth gives ErrTooDeep.
func Marshal(obj map[string]any) ([]byte, error) {
	if err := CheckDepth(obj); err != nil {
		return nil, err
	}
	root, err := topLevelNode(obj)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encode yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode yaml: %w", err)
	}
	return buf.Bytes(), nil
}

// topLevelNode orders the leading keys first, then the others sorted.
func topLevelNode(obj map[string]any) (*yaml.Node, error) {
	keys := make([]string, 0, len(obj))
	for _, k := range leadingKeys {
		if _, ok := obj[k]; ok {
			keys = append(keys, k)
		}
	}
	var rest []string
	for k := range obj {
		if !slices.Contains(leadingKeys, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return mappingNode(obj, append(keys, rest...))
}

func mappingNode(m map[string]any, keys []string) (*yaml.Node, error) {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, k := range keys {
		v, err := valueNode(m[k])
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
		n.Content = append(n.Content, stringNode(k), v)
	}
	return n, nil
}

func sortedMappingNode(m map[string]any) (*yaml.Node, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return mappingNode(m, keys)
}

func sequenceNode(items []any) (*yaml.Node, error) {
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for i, item := range items {
		v, err := valueNode(item)
		if err != nil {
			return nil, fmt.Errorf("index %d: %w", i, err)
		}
		n.Content = append(n.Content, v)
	}
	return n, nil
}

// valueNode handles the types unstructured objects hold (JSON decoded with int64 preserved)
// directly, and other Go values of the same shapes through reflection.
func valueNode(v any) (*yaml.Node, error) {
	switch v := v.(type) {
	case nil:
		return scalarNode("!!null", "null"), nil
	case string:
		return stringNode(v), nil
	case bool:
		return scalarNode("!!bool", strconv.FormatBool(v)), nil
	case int64:
		return scalarNode("!!int", strconv.FormatInt(v, 10)), nil
	case float64:
		return floatNode(v, 64), nil
	case map[string]any:
		return sortedMappingNode(v)
	case []any:
		return sequenceNode(v)
	case json.Number:
		return numberNode(v)
	}
	return reflectNode(reflect.ValueOf(v))
}

func reflectNode(rv reflect.Value) (*yaml.Node, error) {
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return valueNode(nil)
		}
		return valueNode(rv.Elem().Interface())
	case reflect.String:
		return stringNode(rv.String()), nil
	case reflect.Bool:
		return valueNode(rv.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return valueNode(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return scalarNode("!!int", strconv.FormatUint(rv.Uint(), 10)), nil
	case reflect.Float32:
		return floatNode(rv.Float(), 32), nil
	case reflect.Float64:
		return floatNode(rv.Float(), 64), nil
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return valueNode(nil)
		}
		items := make([]any, rv.Len())
		for i := range items {
			items[i] = rv.Index(i).Interface()
		}
		return sequenceNode(items)
	case reflect.Map:
		return reflectMapNode(rv)
	}
	return nil, fmt.Errorf("cannot marshal value of type %s", rv.Type())
}

func reflectMapNode(rv reflect.Value) (*yaml.Node, error) {
	if rv.Type().Key().Kind() != reflect.String {
		return nil, fmt.Errorf("cannot marshal map with %s keys", rv.Type().Key())
	}
	if rv.IsNil() {
		return valueNode(nil)
	}
	m := make(map[string]any, rv.Len())
	iter := rv.MapRange()
	for iter.Next() {
		m[iter.Key().String()] = iter.Value().Interface()
	}
	return sortedMappingNode(m)
}

func numberNode(n json.Number) (*yaml.Node, error) {
	if i, err := n.Int64(); err == nil {
		return valueNode(i)
	}
	f, err := n.Float64()
	if err != nil {
		return nil, fmt.Errorf("json number %q: %w", n, err)
	}
	return floatNode(f, 64), nil
}

func scalarNode(tag, value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}

// floatNode writes f the way encoding/json does, plus ".0" on integral values so that the
// value reads back as a float.
func floatNode(f float64, bits int) *yaml.Node {
	var s string
	switch {
	case math.IsInf(f, 1):
		s = ".inf"
	case math.IsInf(f, -1):
		s = "-.inf"
	case math.IsNaN(f):
		s = ".nan"
	default:
		format := byte('f')
		if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
			format = 'e'
		}
		s = strconv.FormatFloat(f, format, -1, bits)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
	}
	return scalarNode("!!float", s)
}

// stringNode is a scalar that reads back as the string s. The !!str tag makes the encoder quote
// s when plain text would resolve to another type in YAML 1.2. YAML 1.1 readers
// (sigs.k8s.io/yaml, which kubectl uses) also take yes/on/no/off and base-60 numbers for
// non-strings, and every reader takes a plain << key for a merge key, so those are quoted here.
// The emitter itself falls back to quotes when plain or literal style cannot hold s.
func stringNode(s string) *yaml.Node {
	n := scalarNode("!!str", s)
	switch {
	case strings.Contains(s, "\n"):
		n.Style = yaml.LiteralStyle
	case isYAML11Bool(s) || isBase60Float(s) || s == mergeKey:
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// mergeKey is the YAML merge key; plain, it would merge a map instead of being a key.
const mergeKey = "<<"

// isYAML11Bool reports the YAML 1.1 booleans that YAML 1.2 reads as strings.
func isYAML11Bool(s string) bool {
	switch s {
	case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON",
		"n", "N", "no", "No", "NO", "off", "Off", "OFF":
		return true
	}
	return false
}

// base60Float matches YAML 1.1 sexagesimal numbers such as 1:20 (the expression yaml.v3 quotes).
var base60Float = regexp.MustCompile(`^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`)

func isBase60Float(s string) bool {
	return strings.IndexByte(s, ':') >= 0 && base60Float.MatchString(s)
}
