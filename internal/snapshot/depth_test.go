package snapshot

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// nested is JSON text of objects (or arrays) nested depth deep, the top level counting.
func nested(depth int, array bool) string {
	open, close := `{"a":`, "}"
	if array {
		open, close = "[", "]"
	}
	return strings.Repeat(open, depth-1) + `{"x":"{[\"}"}` + strings.Repeat(close, depth-1)
}

func TestJSONTooDeep(t *testing.T) {
	for name, c := range map[string]struct {
		json string
		want bool
	}{
		"flat":                  {`{"a":1}`, false},
		"at the limit":          {nested(MaxDepth, false), false},
		"one over":              {nested(MaxDepth+1, false), true},
		"arrays at the limit":   {nested(MaxDepth, true), false},
		"arrays one over":       {nested(MaxDepth+1, true), true},
		"brackets in strings":   {`{"a":"` + strings.Repeat(`{[`, 2*MaxDepth) + `"}`, false},
		"escaped quote":         {`{"a":"\"` + strings.Repeat(`{`, 2*MaxDepth) + `"}`, false},
		"unbalanced, not valid": {strings.Repeat("[", MaxDepth+1), true},
	} {
		t.Run(name, func(t *testing.T) {
			if got := JSONTooDeep([]byte(c.json)); got != c.want {
				t.Errorf("JSONTooDeep = %v, want %v", got, c.want)
			}
		})
	}
}

// An object nested beyond MaxDepth is refused in both output modes, quickly and without a
// crash; one at the limit renders.
func TestRenderDepth(t *testing.T) {
	for name, c := range map[string]struct {
		depth   int
		wantErr bool
	}{
		"at the limit":  {MaxDepth, false},
		"one over":      {MaxDepth + 1, true},
		"9,000 deep":    {9000, true},
		"10,000 arrays": {10000, true},
	} {
		t.Run(name, func(t *testing.T) {
			// apiVersion/kind/metadata take one level: data starts at depth 2.
			obj := &unstructured.Unstructured{}
			doc := `{"apiVersion":"example.com/v1","kind":"Deep","metadata":{"name":"d"},"spec":` + nested(c.depth-1, name == "10,000 arrays") + `}`
			if err := obj.UnmarshalJSON([]byte(doc)); err != nil {
				t.Fatal(err)
			}
			for _, o := range []Output{Clean, Full} {
				b, err := PlainFor(obj, o)
				switch {
				case c.wantErr && !errors.Is(err, ErrTooDeep):
					t.Errorf("%s: err = %v, want ErrTooDeep", o, err)
				case !c.wantErr && (err != nil || len(b) == 0):
					t.Errorf("%s: err = %v, %d bytes", o, err, len(b))
				}
			}
		})
	}
}
