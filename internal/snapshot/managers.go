package snapshot

import (
	"encoding/json"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Managers are the field managers that own something of obj other than its status, sorted;
// nil when obj records none. They tell whose object it is: one every field of which a GitOps
// tool owns was applied from that tool's repository.
func Managers(obj Object) []string {
	switch o := obj.(type) {
	case *Cached:
		if o.managers == "" {
			return nil
		}
		return strings.Split(o.managers, "\x00")
	case *unstructured.Unstructured:
		return managers(o)
	}
	return nil
}

func managers(u *unstructured.Unstructured) []string {
	var out []string
	for _, e := range u.GetManagedFields() {
		if e.Subresource == "status" || e.Manager == "" || slices.Contains(out, e.Manager) || !ownsBeyondStatus(e.FieldsV1) {
			continue
		}
		out = append(out, e.Manager)
	}
	slices.Sort(out)
	return out
}

// ownsBeyondStatus reports whether a field set holds anything but f:status. A set that is
// missing or does not parse counts as owning everything: such an object is never left out.
func ownsBeyondStatus(f *metav1.FieldsV1) bool {
	var top map[string]json.RawMessage
	if f == nil || json.Unmarshal(f.Raw, &top) != nil {
		return true
	}
	for k := range top {
		if k != "f:status" {
			return true
		}
	}
	return false
}
