package destination

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

func TestSystemObject(t *testing.T) {
	obj := func(ns, name string, labels, annotations map[string]string, extra map[string]any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "X"}}
		u.SetNamespace(ns)
		u.SetName(name)
		u.SetLabels(labels)
		u.SetAnnotations(annotations)
		for k, v := range extra {
			u.Object[k] = v
		}
		return u
	}
	var (
		cms      = schema.GroupResource{Resource: "configmaps"}
		svcs     = schema.GroupResource{Resource: "services"}
		slices   = schema.GroupResource{Group: "discovery.k8s.io", Resource: "endpointslices"}
		ips      = schema.GroupResource{Group: "networking.k8s.io", Resource: "ipaddresses"}
		prios    = schema.GroupResource{Group: "scheduling.k8s.io", Resource: "priorityclasses"}
		sas      = schema.GroupResource{Resource: "serviceaccounts"}
		roles    = schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}
		schemas  = schema.GroupResource{Group: "flowcontrol.apiserver.k8s.io", Resource: "flowschemas"}
		bundles  = schema.GroupResource{Group: "certificates.k8s.io", Resource: "clustertrustbundles"}
		autoRBAC = map[string]string{"rbac.authorization.kubernetes.io/autoupdate": "true"}
	)
	tests := []struct {
		name string
		gr   schema.GroupResource
		obj  *unstructured.Unstructured
		want bool
	}{
		{"root CA", cms, obj("shop", "kube-root-ca.crt", nil, nil, nil), true},
		{"apiserver client CA", cms, obj("kube-system", "extension-apiserver-authentication", nil, nil, nil), true},
		{"legacy token tracking", cms, obj("kube-system", "kube-apiserver-legacy-service-account-token-tracking", nil, nil, nil), true},
		{"default ServiceCIDR", schema.GroupResource{Group: "networking.k8s.io", Resource: "servicecidrs"}, obj("", "kubernetes", nil, nil, nil), true},
		{"a user's ServiceCIDR", schema.GroupResource{Group: "networking.k8s.io", Resource: "servicecidrs"}, obj("", "extra", nil, nil, nil), false},
		{"same name elsewhere", cms, obj("shop", "extension-apiserver-authentication", nil, nil, nil), false},
		{"kubernetes Service", svcs, obj("default", "kubernetes", nil, nil, nil), true},
		{"a user's kubernetes Service", svcs, obj("shop", "kubernetes", nil, nil, nil), false},
		{"kubernetes EndpointSlice", slices, obj("default", "kubernetes-x", map[string]string{"kubernetes.io/service-name": "kubernetes"}, nil, nil), true},
		{"allocated IPAddress", ips, obj("", "10.0.0.1", map[string]string{"ipaddress.kubernetes.io/managed-by": "ipallocator.k8s.io"}, nil, nil), true},
		{"a user's IPAddress", ips, obj("", "10.0.0.2", nil, nil, nil), false},
		{"built-in PriorityClass", prios, obj("", "system-node-critical", nil, nil, nil), true},
		{"a user's PriorityClass", prios, obj("", "high", nil, nil, nil), false},
		{"untouched default ServiceAccount", sas, obj("shop", "default", nil, nil, nil), true},
		{"default ServiceAccount with a pull secret", sas, obj("shop", "default", nil, nil, map[string]any{"imagePullSecrets": []any{map[string]any{"name": "reg"}}}), false},
		{"default ServiceAccount with a label", sas, obj("shop", "default", map[string]string{"team": "shop"}, nil, nil), false},
		{"auto-updated ClusterRole", roles, obj("", "admin", nil, autoRBAC, nil), true},
		{"a user's ClusterRole", roles, obj("", "mine", nil, nil, nil), false},
		{"auto-updated FlowSchema", schemas, obj("", "exempt", nil, map[string]string{"apf.kubernetes.io/autoupdate-spec": "true"}, nil), true},
		{"apiserver serving CA bundle", bundles, obj("", "kubernetes.io:kube-apiserver-serving:a018", nil, nil, map[string]any{"spec": map[string]any{"signerName": "kubernetes.io/kube-apiserver-serving"}}), true},
		{"a user's trust bundle", bundles, obj("", "example.com:ca:1", nil, nil, map[string]any{"spec": map[string]any{"signerName": "example.com/ca"}}), false},
		{"apiserver serving CA bundle, compact (no spec)", bundles, obj("", "kubernetes.io:kube-apiserver-serving:b7", nil, nil, nil), true},
		{"FlowSchema left alone", schemas, obj("", "exempt", nil, map[string]string{"apf.kubernetes.io/autoupdate-spec": "false"}, nil), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := systemObject(tc.gr, tc.obj); got != tc.want {
				t.Errorf("systemObject = %v, want %v", got, tc.want)
			}
			// As an informer caches it: ServiceAccounts whole, the rest compact.
			obj := tc.obj.DeepCopy()
			if tc.gr == sas {
				obj.SetKind("ServiceAccount")
			}
			if got := systemObject(tc.gr, snapshot.Compact(obj)); got != tc.want {
				t.Errorf("systemObject(cached) = %v, want %v", got, tc.want)
			}
		})
	}
}
