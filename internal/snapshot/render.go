package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ErrSecret is returned for core/v1 Secrets: their values must never become plaintext YAML.
var ErrSecret = errors.New("snapshot: refusing to render a Secret as plaintext")

// hashBytes is how many bytes of the sha256 digest Hash keeps: 128 bits is plenty to match an
// admission request with a watch event, and keeps cache keys and logs short.
const hashBytes = 16

// IsSecret reports whether obj is a core Secret, whatever its version.
func IsSecret(obj Object) bool {
	return groupKind(obj) == secretKind
}

// Render is Sanitize followed by Marshal (the Full output): the bytes of the object's file.
// It returns ErrSecret for core Secrets.
func Render(obj *unstructured.Unstructured) ([]byte, error) {
	if IsSecret(obj) {
		return nil, ErrSecret
	}
	return Plain(obj)
}

// Plain is Sanitize + Marshal (the Full output) for any object, Secrets included: for the
// author's hash, which must not depend on a destination's mode, and as the plaintext that
// encryption starts from. It is never to be written as is for a Secret.
func Plain(obj *unstructured.Unstructured) ([]byte, error) {
	return PlainFor(obj, Full)
}

// Hash is a short, stable hex digest (truncated sha256) of rendered bytes.
func Hash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:hashBytes])
}

// MaxDepth is how deeply maps and lists may nest in an object that is rendered, the top-level
// object counting as 1 (README.md, "Who changed it" and "What ends up in Git"). Real objects stay far below it (a CRD's schema
// nests about 40 deep); the API server allows 10,000, and block YAML indents every level, so a
// file's size, and the time and memory to write it, grow with the square of the depth.
const MaxDepth = 100

// ErrTooDeep is returned for an object nested deeper than MaxDepth: it is not rendered.
var ErrTooDeep = fmt.Errorf("snapshot: object nested deeper than %d levels", MaxDepth)

// CheckDepth returns ErrTooDeep when maps and lists in v nest deeper than MaxDepth. It stops at
// the first level too deep, so its cost and stack are bounded whatever v holds.
func CheckDepth(v any) error {
	if tooDeep(v, 0) {
		return ErrTooDeep
	}
	return nil
}

func tooDeep(v any, depth int) bool {
	switch v := v.(type) {
	case map[string]any:
		if depth++; depth > MaxDepth {
			return true
		}
		for _, x := range v {
			if tooDeep(x, depth) {
				return true
			}
		}
	case []any:
		if depth++; depth > MaxDepth {
			return true
		}
		for _, x := range v {
			if tooDeep(x, depth) {
				return true
			}
		}
	}
	return false
}

// JSONTooDeep reports whether the JSON text b nests objects and arrays deeper than MaxDepth,
// without decoding it: for input that is refused before it costs anything. Brackets inside
// strings do not count; b need not be valid JSON.
func JSONTooDeep(b []byte) bool {
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > MaxDepth {
				return true
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return false
}
