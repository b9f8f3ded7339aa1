package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	admissionv1 "k8s.io/api/admission/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitops-reverser/gitops-reverser/internal/change"
	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

// Both sides of the author match build their Keys here: the admission side from a request
// (admissionKey), the watch side from an informer's event (Cache.Author). Whatever one side
// records, the other asks for with the same fields and the same hash.

// Key identifies one change: the object, the operation and the hash (fullHash) of the object's Full
// rendering after the change. A delete has no hash (the request deletes whatever state the
// object ends in); a write through the scale subresource has the replicas asked for. The
// version is left out on purpose: the webhook is registered for the version the controller
// watches, and the rendered bytes carry apiVersion.
type Key struct {
	Group     string
	Resource  string
	Namespace string
	Name      string
	Op        change.Op
	// Scale marks an update through the scale subresource; Hash is then the replicas.
	Scale bool
	Hash  string
}

// ErrNoObject is ObjectHash's answer for a nil object.
var ErrNoObject = errors.New("webhook: no object to hash")

// fullHash is the hash both sides match on: snapshot.Hash of the object's Full rendering,
// whatever a destination writes. Secrets are hashed from the same bytes, which never leave
// memory.
func fullHash(full []byte) string { return snapshot.Hash(full) }

// ObjectHash is fullHash of an object as an admission request carries it.
func ObjectHash(obj *unstructured.Unstructured) (string, error) {
	if obj == nil {
		return "", ErrNoObject
	}
	b, err := snapshot.Plain(obj)
	if err != nil {
		return "", fmt.Errorf("hash: %w", err)
	}
	return fullHash(b), nil
}

// deleteKey is the key of a delete. It has no hash: who deleted an object is who asked to,
// and its last state (finalizers run, a namespace emptied) is not the one the request saw.
func deleteKey(group, resource, namespace, name string) Key {
	return Key{Group: group, Resource: resource, Namespace: namespace, Name: name, Op: change.Delete}
}

// scaleKey is the key of a write through the scale subresource that set replicas.
func scaleKey(group, resource, namespace, name string, replicas int64) Key {
	return Key{Group: group, Resource: resource, Namespace: namespace, Name: name, Op: change.Update, Scale: true, Hash: strconv.FormatInt(replicas, 10)}
}

// admissionOps are the admission operations that change a file.
var admissionOps = map[admissionv1.Operation]change.Op{
	admissionv1.Create: change.Create,
	admissionv1.Update: change.Update,
	admissionv1.Delete: change.Delete,
}

// admissionKey is the change a request makes; ok is false for requests with nothing to record.
func admissionKey(req *admissionv1.AdmissionRequest) (k Key, ok bool, err error) {
	op, known := admissionOps[req.Operation]
	switch {
	case req.SubResource == "scale" && op == change.Update:
		return admissionScaleKey(req)
	case req.SubResource != "" || !known:
		// status and the like: the file never holds what they change; CONNECT changes nothing.
		return Key{}, false, nil
	}
	raw := req.Object.Raw
	if op == change.Delete {
		raw = req.OldObject.Raw
	}
	if len(raw) == 0 {
		return Key{}, false, nil
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(raw); err != nil {
		// The decoder's error quotes the object: report the kind of failure only.
		return Key{}, false, fmt.Errorf("decode %s %s/%s: %w", req.Resource.Resource, req.Namespace, req.Name, errUndecodable)
	}
	name := obj.GetName()
	if name == "" {
		name = req.Name
	}
	if op == change.Delete {
		return deleteKey(req.Resource.Group, req.Resource.Resource, obj.GetNamespace(), name), true, nil
	}
	k = Key{Group: req.Resource.Group, Resource: req.Resource.Resource, Namespace: obj.GetNamespace(), Name: name, Op: op}
	if k.Hash, err = ObjectHash(obj); err != nil {
		return Key{}, false, err
	}
	return k, true, nil
}

// admissionScaleKey is a write through the scale subresource: it counts for the parent
// object, whose spec.replicas the watch then shows with the requested value.
func admissionScaleKey(req *admissionv1.AdmissionRequest) (Key, bool, error) {
	var scale autoscalingv1.Scale
	if len(req.Object.Raw) == 0 {
		return Key{}, false, nil
	}
	if err := json.Unmarshal(req.Object.Raw, &scale); err != nil {
		return Key{}, false, fmt.Errorf("decode %s/scale %s/%s: %w", req.Resource.Resource, req.Namespace, req.Name, errUndecodable)
	}
	return scaleKey(req.Resource.Group, req.Resource.Resource, req.Namespace, req.Name, int64(scale.Spec.Replicas)), true, nil
}

// Author is who made the change a watch event shows, "" when nobody matches (webhook down, a
// controller's write it did not see, a resync):
//   - a delete: whoever asked for it (nothing to render);
//   - a create or update: the write whose object had this Full rendering (full);
//   - an update of a resource with a scale subresource: also a write of spec.replicas through it.
func (c *Cache) Author(res discovery.Resource, op change.Op, obj snapshot.Object, full []byte) string {
	if c.Len() == 0 {
		return ""
	}
	g, r, ns, name := res.GVR.Group, res.GVR.Resource, obj.GetNamespace(), obj.GetName()
	if op == change.Delete {
		return c.lookup(deleteKey(g, r, ns, name))
	}
	if user := c.lookup(Key{Group: g, Resource: r, Namespace: ns, Name: name, Op: op, Hash: fullHash(full)}); user != "" || op != change.Update || !res.Scale {
		return user
	}
	replicas, ok := snapshot.Replicas(obj)
	if !ok {
		return ""
	}
	return c.lookup(scaleKey(g, r, ns, name, replicas))
}

func (c *Cache) lookup(k Key) string {
	user, _ := c.Lookup(k)
	return user
}
