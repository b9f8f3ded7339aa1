package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ErrSecret is returned for core/v1 Secrets: their values must never become plaintext YAML.
var ErrSecret = errors.New("snapshot: refusing to render a Secret as plaintext")

// hashBytes is how many bytes of the sha256 digest Hash keeps: 128 bits is plenty to match an
// admission request with a watch event, and keeps cache keys and logs short.
const hashBytes = 16

// IsSecret reports whether obj is a core Secret, whatever its version.
func IsSecret(obj *unstructured.Unstructured) bool {
	return obj.GroupVersionKind().GroupKind() == secretKind
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
