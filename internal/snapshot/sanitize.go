package snapshot

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// serverMetadataFields are metadata fields the API server assigns or that describe one live
// object only; a file that carried them would not re-apply to a fresh cluster.
var serverMetadataFields = []string{
	"uid",
	"resourceVersion",
	"generation",
	"creationTimestamp",
	"deletionTimestamp",
	"deletionGracePeriodSeconds",
	"selfLink",
	"managedFields",
	"ownerReferences",
	"finalizers",
	"generateName",
}

// serverAnnotations are annotations written by kubectl or controllers, not by the user.
var serverAnnotations = []string{
	"kubectl.kubernetes.io/last-applied-configuration",
	"deployment.kubernetes.io/revision",
	"control-plane.alpha.kubernetes.io/leader",
}

// jobControllerLabels are the labels the Job controller adds to the pod template.
var jobControllerLabels = []string{"controller-uid", "batch.kubernetes.io/controller-uid"}

// pvcControllerAnnotationPrefixes are annotations the volume controllers set on a claim.
var pvcControllerAnnotationPrefixes = []string{
	"pv.kubernetes.io/",
	"volume.kubernetes.io/",
	"volume.beta.kubernetes.io/",
}

var (
	serviceKind   = schema.GroupKind{Kind: "Service"}
	jobKind       = schema.GroupKind{Group: "batch", Kind: "Job"}
	pvcKind       = schema.GroupKind{Kind: "PersistentVolumeClaim"}
	pvKind        = schema.GroupKind{Kind: "PersistentVolume"}
	secretKind    = schema.GroupKind{Kind: "Secret"}
	boundByCtlAnn = "pv.kubernetes.io/bound-by-controller"
)

// Sanitize returns a deep copy of obj with everything the server owns removed (README.md,
// "What ends up in Git"). It keeps every other field, including meaningful empty values such as
// emptyDir: {} and egress: [{}]. obj is not modified; it must hold JSON-compatible values, as
// objects decoded by client-go do. Sanitize does not refuse Secrets: Render does.
func Sanitize(obj *unstructured.Unstructured) *unstructured.Unstructured {
	if obj == nil {
		return nil
	}
	out := obj.DeepCopy()
	delete(out.Object, "status")
	md, hasMetadata := out.Object["metadata"].(map[string]any)
	if hasMetadata {
		for _, f := range serverMetadataFields {
			delete(md, f)
		}
		deleteKeys(md, "annotations", serverAnnotations)
	}
	sanitizeKind(out.GroupVersionKind().GroupKind(), out.Object)
	if hasMetadata {
		dropEmptyMap(md, "labels")
		dropEmptyMap(md, "annotations")
	}
	return out
}

// sanitizeKind applies the per-kind rules: values a controller assigned that would make the
// file fail or differ when applied to a fresh cluster.
func sanitizeKind(gk schema.GroupKind, obj map[string]any) {
	switch gk {
	case serviceKind:
		sanitizeService(obj)
	case jobKind:
		sanitizeJob(obj)
	case pvcKind:
		sanitizePVC(obj)
	case pvKind:
		if claimRef, ok := mapAt(obj, "spec", "claimRef"); ok {
			delete(claimRef, "uid")
			delete(claimRef, "resourceVersion")
		}
	}
}

// sanitizeService drops the allocated cluster IPs; a headless Service (clusterIP: None) asked
// for its value, so it stays.
func sanitizeService(obj map[string]any) {
	spec, ok := mapAt(obj, "spec")
	if !ok {
		return
	}
	if ip, _ := spec["clusterIP"].(string); ip == "None" {
		return
	}
	delete(spec, "clusterIP")
	delete(spec, "clusterIPs")
}

// sanitizeJob drops the generated selector and the controller-uid labels, which name the uid of
// this one Job; with manualSelector: true the user wrote them.
func sanitizeJob(obj map[string]any) {
	spec, ok := mapAt(obj, "spec")
	if !ok {
		return
	}
	if manual, _ := spec["manualSelector"].(bool); manual {
		return
	}
	delete(spec, "selector")
	templateMD, ok := mapAt(spec, "template", "metadata")
	if !ok {
		return
	}
	if _, ok := templateMD["labels"].(map[string]any); !ok {
		return
	}
	deleteKeys(templateMD, "labels", jobControllerLabels)
	dropEmptyMap(templateMD, "labels")
}

// sanitizePVC drops the volume the controller bound the claim to and the controllers'
// annotations.
func sanitizePVC(obj map[string]any) {
	ann, ok := mapAt(obj, "metadata", "annotations")
	if !ok {
		return
	}
	if bound, _ := ann[boundByCtlAnn].(string); bound == "yes" {
		if spec, ok := mapAt(obj, "spec"); ok {
			delete(spec, "volumeName")
		}
	}
	for k := range ann {
		if hasAnyPrefix(k, pvcControllerAnnotationPrefixes) {
			delete(ann, k)
		}
	}
}

// mapAt returns the map at path below m, if every step is a map.
func mapAt(m map[string]any, path ...string) (map[string]any, bool) {
	cur := m
	for _, k := range path {
		next, ok := cur[k].(map[string]any)
		if !ok {
			return nil, false
		}
		cur = next
	}
	return cur, true
}

// deleteKeys removes keys from the map m[field], if it is one.
func deleteKeys(m map[string]any, field string, keys []string) {
	inner, ok := m[field].(map[string]any)
	if !ok {
		return
	}
	for _, k := range keys {
		delete(inner, k)
	}
}

// dropEmptyMap removes m[field] when it is null or an empty map.
func dropEmptyMap(m map[string]any, field string) {
	v, present := m[field]
	if !present {
		return
	}
	if v == nil {
		delete(m, field)
		return
	}
	if inner, ok := v.(map[string]any); ok && len(inner) == 0 {
		delete(m, field)
	}
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
