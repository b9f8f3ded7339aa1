package destination

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

// systemObject reports whether obj is one the control plane makes and keeps up to date by
// itself (README.md, "What ends up in Git"): applied to another cluster, such a
// file would fight or break that cluster's own copy.
func systemObject(gr schema.GroupResource, obj snapshot.Object) bool {
	name, ns := obj.GetName(), obj.GetNamespace()
	switch gr {
	case schema.GroupResource{Resource: "configmaps"}:
		return name == "kube-root-ca.crt" || ns == "kube-system" && apiserverConfigMaps[name]
	case schema.GroupResource{Resource: "services"}, schema.GroupResource{Resource: "endpoints"}:
		return ns == "default" && name == "kubernetes"
	case schema.GroupResource{Group: "discovery.k8s.io", Resource: "endpointslices"}:
		return ns == "default" && (name == "kubernetes" || snapshot.LabelsOf(obj).Get("kubernetes.io/service-name") == "kubernetes")
	case schema.GroupResource{Group: "networking.k8s.io", Resource: "ipaddresses"}:
		return snapshot.LabelsOf(obj).Get("ipaddress.kubernetes.io/managed-by") == "ipallocator.k8s.io"
	case schema.GroupResource{Group: "networking.k8s.io", Resource: "servicecidrs"}:
		return name == "kubernetes" // the apiserver's --service-cluster-ip-range
	case schema.GroupResource{Group: "scheduling.k8s.io", Resource: "priorityclasses"}:
		return strings.HasPrefix(name, "system-")
	case schema.GroupResource{Resource: "serviceaccounts"}:
		return name == "default" && untouchedServiceAccount(obj)
	case schema.GroupResource{Group: "certificates.k8s.io", Resource: "clustertrustbundles"}:
		// The kube-controller-manager publishes the apiserver's serving CA: restored into
		// another cluster, it would make that cluster trust the old one's. The API requires
		// a bundle of a signer to be named after it, and the name (unlike the spec) is what
		// an informer cache keeps.
		return strings.HasPrefix(name, "kubernetes.io:kube-apiserver-serving:")
	}
	switch gr.Group {
	case "rbac.authorization.k8s.io":
		return snapshot.AnnotationsOf(obj).Get("rbac.authorization.kubernetes.io/autoupdate") == "true"
	case "flowcontrol.apiserver.k8s.io":
		return snapshot.AnnotationsOf(obj).Get("apf.kubernetes.io/autoupdate-spec") == "true"
	}
	return false
}

// apiserverConfigMaps are the kube-system ConfigMaps the apiserver writes: its client CAs, and
// since when it tracks legacy service-account tokens (which decides when they are cleaned up).
var apiserverConfigMaps = map[string]bool{
	"extension-apiserver-authentication":                   true,
	"kube-apiserver-legacy-service-account-token-tracking": true,
}

// untouchedServiceAccount reports whether a ServiceAccount holds only what the
// controller-manager put there: no labels, annotations, secrets or settings. That takes all
// its fields, which informer caches keep of ServiceAccounts (snapshot.Compact); one without
// them is not known to be untouched.
func untouchedServiceAccount(o snapshot.Object) bool {
	obj, whole := o.(*unstructured.Unstructured)
	if !whole || len(obj.GetLabels()) > 0 {
		return false
	}
	for k := range obj.GetAnnotations() {
		if k != "kubectl.kubernetes.io/last-applied-configuration" {
			return false
		}
	}
	for k := range obj.Object {
		switch k {
		case "apiVersion", "kind", "metadata":
		default:
			return false
		}
	}
	return true
}
