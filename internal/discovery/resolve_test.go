package discovery

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// loadCatalog reads testdata/catalog.json: discovery of a small cluster with the usual
// built-in groups and a CRD group shop.example.com (v1 preferred, v2beta1).
func loadCatalog(t testing.TB) *Catalog {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "catalog.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups    []metav1.APIGroup         `json:"groups"`
		Resources []*metav1.APIResourceList `json:"resources"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("catalog.json: %v", err)
	}
	return &Catalog{Groups: f.Groups, Resources: f.Resources}
}

// res builds a Resource from "group/version" (or "v1" for core).
func res(groupVersion, resource, kind string, namespaced, named bool) Resource {
	gv, err := schema.ParseGroupVersion(groupVersion)
	if err != nil {
		panic(err)
	}
	return Resource{GVR: gv.WithResource(resource), Kind: kind, Namespaced: namespaced, Named: named}
}

// scalable marks a resource as having a scale subresource (the fixture's deployments).
func scalable(r Resource) Resource {
	r.Scale = true
	return r
}

// The core resources "*" selects in the fixture: no bindings (create only), events, endpoints
// or subresources.
func coreWildcard() []Resource {
	return []Resource{
		res("v1", "configmaps", "ConfigMap", true, false),
		res("v1", "namespaces", "Namespace", false, false),
		res("v1", "pods", "Pod", true, false),
		res("v1", "secrets", "Secret", true, false),
		res("v1", "services", "Service", true, false),
	}
}

// failVersion marks a group version as failed and drops its resource list, as partial
// discovery does.
func failVersion(group, version string) func(*Catalog) {
	return func(c *Catalog) {
		gv := schema.GroupVersion{Group: group, Version: version}
		if c.Failed == nil {
			c.Failed = map[schema.GroupVersion]error{}
		}
		c.Failed[gv] = errors.New("the server is currently unable to handle the request")
		var kept []*metav1.APIResourceList
		for _, l := range c.Resources {
			if l.GroupVersion != gv.String() {
				kept = append(kept, l)
			}
		}
		c.Resources = kept
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name        string
		catalog     func(*Catalog) // changes to the fixture
		rules       []Rule
		want        []Resource
		wantUnknown []string
	}{
		{
			name:  "core configmaps",
			rules: []Rule{{APIGroups: []string{""}, Resources: []string{"configmaps"}}},
			want:  []Resource{res("v1", "configmaps", "ConfigMap", true, true)},
		},
		{
			name:  "wildcard in core leaves out noisy, create-only and subresources",
			rules: []Rule{{APIGroups: []string{""}, Resources: []string{"*"}}},
			want:  coreWildcard(),
		},
		{
			name:  "wildcard everything: preferred versions, no noisy types",
			rules: []Rule{{APIGroups: []string{"*"}, Resources: []string{"*"}}},
			want: append(coreWildcard(),
				res("apiextensions.k8s.io/v1", "customresourcedefinitions", "CustomResourceDefinition", false, false),
				scalable(res("apps/v1", "deployments", "Deployment", true, false)),
				res("apps/v1", "replicasets", "ReplicaSet", true, false),
				res("rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", false, false),
				res("rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", false, false),
				res("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding", true, false),
				res("rbac.authorization.k8s.io/v1", "roles", "Role", true, false),
				res("shop.example.com/v1", "icecreamorders", "IceCreamOrder", true, false),
			),
		},
		{
			name: "naming noisy types includes them",
			rules: []Rule{
				{APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}},
				{APIGroups: []string{"*"}, Resources: []string{"leases", "endpoints", "endpointslices"}},
			},
			want: []Resource{
				res("v1", "endpoints", "Endpoints", true, true),
				res("v1", "events", "Event", true, true),
				res("coordination.k8s.io/v1", "leases", "Lease", true, true),
				res("discovery.k8s.io/v1", "endpointslices", "EndpointSlice", true, true),
				res("events.k8s.io/v1", "events", "Event", true, true),
			},
		},
		{
			name:  "explicit non-preferred version",
			rules: []Rule{{APIGroups: []string{"shop.example.com"}, APIVersions: []string{"v2beta1"}, Resources: []string{"*"}}},
			want: []Resource{
				res("shop.example.com/v2beta1", "icecreamorders", "IceCreamOrder", true, false),
				res("shop.example.com/v2beta1", "toppings", "Topping", false, false),
			},
		},
		{
			name:  "preferred version wins when allowed, whatever the rule's order",
			rules: []Rule{{APIGroups: []string{"shop.example.com"}, APIVersions: []string{"v2beta1", "v1"}, Resources: []string{"*"}}},
			want: []Resource{
				res("shop.example.com/v1", "icecreamorders", "IceCreamOrder", true, false),
				res("shop.example.com/v2beta1", "toppings", "Topping", false, false),
			},
		},
		{
			name:  "all versions",
			rules: []Rule{{APIGroups: []string{"shop.example.com"}, APIVersions: []string{"*"}, Resources: []string{"toppings", "icecreamorders"}}},
			want: []Resource{
				res("shop.example.com/v1", "icecreamorders", "IceCreamOrder", true, true),
				res("shop.example.com/v2beta1", "toppings", "Topping", false, true),
			},
		},
		{
			name: "one version per resource across rules, preferred wins",
			rules: []Rule{
				{APIGroups: []string{"shop.example.com"}, APIVersions: []string{"v2beta1"}, Resources: []string{"*"}},
				{APIGroups: []string{"shop.example.com"}, Resources: []string{"icecreamorders"}},
			},
			want: []Resource{
				res("shop.example.com/v1", "icecreamorders", "IceCreamOrder", true, true),
				res("shop.example.com/v2beta1", "toppings", "Topping", false, false),
			},
		},
		{
			name:  "scope cluster",
			rules: []Rule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Scope: ScopeCluster}},
			want: []Resource{
				res("v1", "namespaces", "Namespace", false, false),
				res("apiextensions.k8s.io/v1", "customresourcedefinitions", "CustomResourceDefinition", false, false),
				res("rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", false, false),
				res("rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", false, false),
			},
		},
		{
			name:  "scope namespaced",
			rules: []Rule{{APIGroups: []string{"", "rbac.authorization.k8s.io"}, Resources: []string{"*"}, Scope: ScopeNamespaced}},
			want: []Resource{
				res("v1", "configmaps", "ConfigMap", true, false),
				res("v1", "pods", "Pod", true, false),
				res("v1", "secrets", "Secret", true, false),
				res("v1", "services", "Service", true, false),
				res("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding", true, false),
				res("rbac.authorization.k8s.io/v1", "roles", "Role", true, false),
			},
		},
		{
			name: "duplicates merge with Named OR-ed",
			rules: []Rule{
				{APIGroups: []string{""}, Resources: []string{"*"}},
				{APIGroups: []string{"", "apps"}, Resources: []string{"configmaps", "deployments"}},
				{APIGroups: []string{"*"}, Resources: []string{"configmaps"}},
			},
			want: func() []Resource {
				want := coreWildcard()
				want[0].Named = true
				return append(want, scalable(res("apps/v1", "deployments", "Deployment", true, true)))
			}(),
		},
		{
			name:        "unknown name beside known ones across groups",
			rules:       []Rule{{APIGroups: []string{"", "apps"}, Resources: []string{"configmaps", "configmapz", "deployments"}}},
			want:        []Resource{res("v1", "configmaps", "ConfigMap", true, true), scalable(res("apps/v1", "deployments", "Deployment", true, true))},
			wantUnknown: []string{"configmapz"},
		},
		{
			name: "unknown group, resource in a group, version; other rules still resolve",
			rules: []Rule{
				{APIGroups: []string{"example.com"}, Resources: []string{"widgets"}},
				{APIGroups: []string{"shop.example.com"}, Resources: []string{"widgets"}},
				{APIGroups: []string{"shop.example.com"}, APIVersions: []string{"v3"}, Resources: []string{"*"}},
				{APIGroups: []string{"apps"}, Resources: []string{"deployments"}},
			},
			want:        []Resource{scalable(res("apps/v1", "deployments", "Deployment", true, true))},
			wantUnknown: []string{"example.com", "shop.example.com/v3", "widgets.shop.example.com"},
		},
		{
			name: "named but not watchable or out of scope is unknown",
			rules: []Rule{
				{APIGroups: []string{""}, Resources: []string{"bindings"}},
				{APIGroups: []string{"shop.example.com"}, Resources: []string{"toppings"}},
				{APIGroups: []string{""}, Resources: []string{"namespaces"}, Scope: ScopeNamespaced},
			},
			wantUnknown: []string{"bindings", "namespaces", "toppings.shop.example.com"},
		},
		{
			name:    "failed group is not unknown",
			catalog: failVersion("metrics.k8s.io", "v1beta1"),
			rules: []Rule{
				{APIGroups: []string{"metrics.k8s.io"}, Resources: []string{"pods"}},
				{APIGroups: []string{"*"}, Resources: []string{"podmetrics"}},
			},
		},
		{
			name:    "failed preferred version resolves nothing and reports nothing",
			catalog: failVersion("shop.example.com", "v1"),
			rules: []Rule{
				{APIGroups: []string{"shop.example.com"}, Resources: []string{"icecreamorders"}},
				{APIGroups: []string{""}, Resources: []string{"configmaps"}},
			},
			want: []Resource{res("v1", "configmaps", "ConfigMap", true, true)},
		},
		{
			name:    "other versions of a partly failed group still resolve",
			catalog: failVersion("shop.example.com", "v2beta1"),
			rules:   []Rule{{APIGroups: []string{"shop.example.com"}, APIVersions: []string{"*"}, Resources: []string{"*"}}},
			want:    []Resource{res("shop.example.com/v1", "icecreamorders", "IceCreamOrder", true, false)},
		},
		{
			name: "no rules",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := loadCatalog(t)
			if tt.catalog != nil {
				tt.catalog(c)
			}
			got, err := Resolve(c, tt.rules)
			var unknown *UnknownError
			switch {
			case errors.As(err, &unknown):
				if diff := cmp.Diff(tt.wantUnknown, unknown.Names); diff != "" {
					t.Errorf("unknown names mismatch (-want +got):\n%s", diff)
				}
			case err != nil:
				t.Fatalf("Resolve() error = %v", err)
			case tt.wantUnknown != nil:
				t.Errorf("Resolve() error = nil, want unknown %v", tt.wantUnknown)
			}
			if diff := cmp.Diff(tt.want, got, cmpEmptyAsNil); diff != "" {
				t.Errorf("Resolve() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

var cmpEmptyAsNil = cmp.FilterValues(func(a, b []Resource) bool { return len(a) == 0 && len(b) == 0 }, cmp.Ignore())

func TestResolveRejectsInvalidRule(t *testing.T) {
	rules := []Rule{
		{APIGroups: []string{""}, Resources: []string{"configmaps"}},
		{APIGroups: []string{""}, Resources: []string{"pods/log"}},
	}
	got, err := Resolve(loadCatalog(t), rules)
	if !errors.Is(err, ErrInvalidRule) {
		t.Fatalf("Resolve() error = %v, want ErrInvalidRule", err)
	}
	if got != nil {
		t.Errorf("Resolve() = %v, want nil on an invalid rule", got)
	}
}

func TestUnknownErrorMessage(t *testing.T) {
	err := error(&UnknownError{Names: []string{"configmapz", "widgets.example.com"}})
	want := "rules name what the server does not serve: configmapz, widgets.example.com"
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestUnavailable(t *testing.T) {
	c := loadCatalog(t)
	failVersion("shop.example.com", "v2beta1")(c)
	tests := []struct {
		name string
		c    *Catalog
		gr   schema.GroupResource
		want bool
	}{
		{name: "resource of a failed version", c: c, gr: schema.GroupResource{Group: "shop.example.com", Resource: "toppings"}, want: true},
		{name: "other resource of the same group", c: c, gr: schema.GroupResource{Group: "shop.example.com", Resource: "icecreamorders"}, want: true},
		{name: "healthy group", c: c, gr: schema.GroupResource{Resource: "configmaps"}},
		{name: "nothing failed", c: loadCatalog(t), gr: schema.GroupResource{Group: "shop.example.com", Resource: "toppings"}},
		{name: "nil catalog", gr: schema.GroupResource{Resource: "configmaps"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Unavailable(tt.gr); got != tt.want {
				t.Errorf("Unavailable(%v) = %v, want %v", tt.gr, got, tt.want)
			}
		})
	}
}
