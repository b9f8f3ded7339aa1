package destination

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

func TestAuthFromData(t *testing.T) {
	tests := []struct {
		name string
		data map[string][]byte
		want gitrepo.Auth
	}{
		{"https basic", map[string][]byte{"username": []byte("u"), "password": []byte("p"), "ca.crt": []byte("CA")},
			gitrepo.Auth{Username: "u", Password: "p", SSHPassphrase: "p", CABundle: []byte("CA")}},
		{"https token", map[string][]byte{"bearerToken": []byte("t")}, gitrepo.Auth{BearerToken: "t"}},
		{"flux ssh", map[string][]byte{"identity": []byte("K"), "known_hosts": []byte("H")}, gitrepo.Auth{SSHPrivateKey: []byte("K"), KnownHosts: []byte("H")}},
		{"kubernetes ssh", map[string][]byte{"ssh-privatekey": []byte("K")}, gitrepo.Auth{SSHPrivateKey: []byte("K")}},
		{"camel-case ssh", map[string][]byte{"sshPrivateKey": []byte("K")}, gitrepo.Auth{SSHPrivateKey: []byte("K")}},
		{"identity wins", map[string][]byte{"identity": []byte("A"), "ssh-privatekey": []byte("B")}, gitrepo.Auth{SSHPrivateKey: []byte("A")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, AuthFromData(tc.data)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateBaseFolder(t *testing.T) {
	for f, ok := range map[string]bool{"": true, "clusters/prod": true, "clusters/prod/": true, "/etc": false, "a/../b": false, "..": false, "a//b": false, "./a": false} {
		if err := ValidateBaseFolder(f); (err == nil) != ok {
			t.Errorf("ValidateBaseFolder(%q) = %v, want ok=%v", f, err, ok)
		}
	}
}

func TestSourceAccepts(t *testing.T) {
	cms := discovery.Resource{GVR: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, Namespaced: true}
	obj := func(ns, name string, lbls map[string]string, controlled bool) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap"}}
		u.SetNamespace(ns)
		u.SetName(name)
		u.SetLabels(lbls)
		if controlled {
			yes := true
			u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: "1", Controller: &yes}})
		}
		return u
	}
	named := cms
	named.Named = true
	tests := []struct {
		name string
		src  Source
		obj  *unstructured.Unstructured
		want bool
	}{
		{"plain", Source{Resource: cms}, obj("a", "x", nil, false), true},
		{"root CA is left out, even named", Source{Resource: named}, obj("a", "kube-root-ca.crt", nil, false), false},
		{"root CA named with the opt-in", Source{Resource: named, IncludeSystem: true}, obj("a", "kube-root-ca.crt", nil, false), true},
		{"other namespace", Source{Resource: cms, Namespace: "b"}, obj("a", "x", nil, false), false},
		{"namespace selector", Source{Resource: cms, InNamespaces: map[string]bool{"b": true}}, obj("a", "x", nil, false), false},
		{"label selector", Source{Resource: cms, Selector: labels.SelectorFromSet(labels.Set{"team": "shop"})}, obj("a", "x", map[string]string{"team": "shop"}, false), true},
		{"label selector mismatch", Source{Resource: cms, Selector: labels.SelectorFromSet(labels.Set{"team": "shop"})}, obj("a", "x", nil, false), false},
		{"controller-owned from a wildcard", Source{Resource: cms}, obj("a", "x", nil, true), false},
		{"controller-owned, named", Source{Resource: named}, obj("a", "x", nil, true), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.src.Accepts(tc.obj); got != tc.want {
				t.Errorf("Accepts = %v, want %v", got, tc.want)
			}
			cached := snapshot.Compact(tc.obj)
			if got := tc.src.Accepts(cached); got != tc.want {
				t.Errorf("Accepts(cached) = %v, want %v", got, tc.want)
			}
			if got, want := Key(cms, cached), Key(cms, tc.obj); got != want {
				t.Errorf("Key(cached) = %v, want %v", got, want)
			}
		})
	}
}
