package destination

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

// ErrSkipped marks an object that is deliberately not written, such as a Secret of a
// destination without encryption.
var ErrSkipped = errors.New("not written")

// Key is where obj, an object of res, lives in the destination.
func Key(res discovery.Resource, obj *unstructured.Unstructured) snapshot.Key {
	return snapshot.Key{Namespace: obj.GetNamespace(), Resource: res.GVR.GroupResource(), Name: obj.GetName()}
}

// File is one object rendered for the repository.
type File struct {
	Path    string
	Content []byte
	// Plain is the sanitized YAML before encryption, for encrypted files only: SOPS output
	// differs on every run, so whether the file in Git is current is decided on it.
	Plain []byte
}

// File renders obj for the target's repository. A Secret is only ever written encrypted:
// without encryption it gives ErrSkipped.
func (t *Target) File(res discovery.Resource, obj *unstructured.Unstructured) (File, error) {
	plain, err := snapshot.Plain(obj)
	if err != nil {
		return File{Path: snapshot.Path(t.BaseFolder, Key(res, obj))}, err
	}
	return t.FileOf(res, obj, plain)
}

// FileOf is File for an object already rendered with snapshot.Plain, so that one rendering
// serves every destination (and the webhook's hash) of a watch event.
func (t *Target) FileOf(res discovery.Resource, obj *unstructured.Unstructured, plain []byte) (File, error) {
	f := File{Path: snapshot.Path(t.BaseFolder, Key(res, obj))}
	if !snapshot.IsSecret(obj) {
		f.Content = plain
		return f, nil
	}
	if t.Encrypter == nil {
		return f, fmt.Errorf("secret %s/%s: %w", obj.GetNamespace(), obj.GetName(), ErrSkipped)
	}
	enc, err := t.Encrypter.Encrypt(plain)
	if err != nil {
		return f, fmt.Errorf("encrypt %s: %w", f.Path, err)
	}
	f.Content, f.Plain = enc, plain
	return f, nil
}

// Current reports whether existing, the file at path in Git, already holds f: the same bytes,
// or for an encrypted file the same plaintext for the same recipients.
func (t *Target) Current(f File, existing []byte) bool {
	if f.Plain == nil || t.Encrypter == nil {
		return string(existing) == string(f.Content)
	}
	return t.Encrypter.Current(existing, f.Plain)
}
