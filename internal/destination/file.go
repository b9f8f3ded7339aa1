package destination

import (
	"errors"
	"fmt"

	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

// ErrSkipped marks an object that is deliberately not written, such as a Secret of a
// destination without encryption.
var ErrSkipped = errors.New("not written")

// Key is where obj, an object of res, lives in the destination.
func Key(res discovery.Resource, obj snapshot.Object) snapshot.Key {
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

// File renders obj for the target's repository, in the target's output mode. A Secret is
// only ever written encrypted: without encryption it gives ErrSkipped.
func (t *Target) File(res discovery.Resource, obj snapshot.Object) (File, error) {
	return t.FileOf(res, snapshot.NewRenderingWith(obj, t.Defaulter))
}

// FileOf is File for an object being rendered for several destinations (and the webhook's
// hash) at once: each output mode is rendered once.
func (t *Target) FileOf(res discovery.Resource, r *snapshot.Rendering) (File, error) {
	obj := r.Object()
	f := File{Path: snapshot.Path(t.BaseFolder, Key(res, obj))}
	plain, err := r.Plain(t.OutputMode())
	if err != nil {
		return f, err
	}
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

// OutputMode is the target's output, the default when it names none.
func (t *Target) OutputMode() snapshot.Output {
	if t.Output == "" {
		return snapshot.DefaultOutput
	}
	return t.Output
}

// Current reports whether existing, the file at path in Git, already holds f: the same bytes,
// or for an encrypted file the same plaintext for the same recipients.
func (t *Target) Current(f File, existing []byte) bool {
	if f.Plain == nil || t.Encrypter == nil {
		return string(existing) == string(f.Content)
	}
	return t.Encrypter.Current(existing, f.Plain)
}
