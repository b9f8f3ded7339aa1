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

// File renders obj to its path and content in the target's repository.
func (t *Target) File(res discovery.Resource, obj *unstructured.Unstructured) (string, []byte, error) {
	p := snapshot.Path(t.BaseFolder, Key(res, obj))
	b, err := snapshot.Render(obj)
	if errors.Is(err, snapshot.ErrSecret) {
		// SOPS encryption is not there yet: a Secret is never written in plaintext.
		return p, nil, fmt.Errorf("secret %s/%s: %w", obj.GetNamespace(), obj.GetName(), ErrSkipped)
	}
	if err != nil {
		return p, nil, fmt.Errorf("render %s: %w", p, err)
	}
	return p, b, nil
}
