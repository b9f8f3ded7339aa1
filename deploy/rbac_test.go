package deploy_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// serviceAccountUser is the username the controller's ServiceAccount authenticates as.
const serviceAccountUser = "system:serviceaccount:" + controllerNamespace + ":gitops-reverser"

// grant is one verb on one resource that a Role or ClusterRole allows.
type grant struct {
	Role     string
	Group    string
	Resource string
	Verb     string
	Names    string // resourceNames, comma-separated; "" is every name
}

func (g grant) String() string {
	return fmt.Sprintf("%s: %s %s/%s [%s]", g.Role, g.Verb, g.Group, g.Resource, g.Names)
}

// grants flattens the rules of every Role and ClusterRole in objs.
func grants(t *testing.T, objs []*unstructured.Unstructured) []grant {
	t.Helper()
	var out []grant
	for _, o := range ofKind(objs, "Role", "ClusterRole") {
		var role rbacv1.ClusterRole // a Role's rules have the same shape
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &role); err != nil {
			t.Fatalf("%s: %v", id(o), err)
		}
		for _, r := range role.Rules {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, v := range r.Verbs {
						out = append(out, grant{id(o), g, res, v, strings.Join(r.ResourceNames, ",")})
					}
				}
			}
		}
	}
	sortGrants(out)
	return out
}

// sortGrants orders by role, group, resource, verb, names.
func sortGrants(gs []grant) {
	key := func(g grant) string {
		return strings.Join([]string{g.Role, g.Group, g.Resource, g.Verb, g.Names}, "\x00")
	}
	sort.Slice(gs, func(i, j int) bool { return key(gs[i]) < key(gs[j]) })
}

func filter(gs []grant, keep func(grant) bool) []grant {
	var out []grant
	for _, g := range gs {
		if keep(g) {
			out = append(out, g)
		}
	}
	return out
}

func isRead(verb string) bool { return verb == "get" || verb == "list" || verb == "watch" }

// onSecrets is true for a grant that covers core Secrets.
func onSecrets(g grant) bool {
	return (g.Group == "" || g.Group == "*") && (g.Resource == "secrets" || g.Resource == "*")
}

type binding struct {
	id        string
	namespace string
	roleRef   rbacv1.RoleRef
	subjects  []rbacv1.Subject
}

func bindings(t *testing.T, objs []*unstructured.Unstructured) []binding {
	t.Helper()
	var out []binding
	for _, o := range ofKind(objs, "RoleBinding", "ClusterRoleBinding") {
		var b rbacv1.RoleBinding // a ClusterRoleBinding has the same shape
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &b); err != nil {
			t.Fatalf("%s: %v", id(o), err)
		}
		out = append(out, binding{id(o), o.GetNamespace(), b.RoleRef, b.Subjects})
	}
	return out
}

func TestBaseRBAC(t *testing.T) {
	objs := render(t, ".")
	gs := grants(t, objs)
	t.Run("Secrets: get only, never list or watch", func(t *testing.T) {
		want := []grant{
			{"ClusterRole gitops-reverser", "", "secrets", "get", ""},
			// its own age identity, created on first use, only in its own namespace
			{"Role gitops-reverser/gitops-reverser-age-identity", "", "secrets", "create", ""},
		}
		if diff := cmp.Diff(want, filter(gs, onSecrets)); diff != "" {
			t.Errorf("grants on Secrets (-want +got):\n%s", diff)
		}
	})
	t.Run("no wildcards", func(t *testing.T) {
		for _, g := range gs {
			if g.Group == "*" || g.Resource == "*" || g.Verb == "*" {
				t.Errorf("wildcard grant %s", g)
			}
		}
	})
	t.Run("every write", func(t *testing.T) {
		const cr, role = "ClusterRole gitops-reverser", "Role gitops-reverser/gitops-reverser-leader-election"
		const adm, rev = "admissionregistration.k8s.io", "reverser.gitops.dev"
		want := []grant{
			{cr, "", "events", "create", ""},
			{cr, "", "events", "patch", ""},
			{cr, adm, "validatingwebhookconfigurations", "patch", "gitops-reverser"},
			{cr, adm, "validatingwebhookconfigurations", "update", "gitops-reverser"},
			{cr, "events.k8s.io", "events", "create", ""},
			{cr, "events.k8s.io", "events", "patch", ""},
			{cr, rev, "clusterwatchrules/status", "patch", ""},
			{cr, rev, "clusterwatchrules/status", "update", ""},
			{cr, rev, "gitdestinations/status", "patch", ""},
			{cr, rev, "gitdestinations/status", "update", ""},
			{cr, rev, "watchrules/status", "patch", ""},
			{cr, rev, "watchrules/status", "update", ""},
			{role, "coordination.k8s.io", "leases", "create", ""},
			{role, "coordination.k8s.io", "leases", "update", "gitops-reverser"},
			{"Role gitops-reverser/gitops-reverser-age-identity", "", "secrets", "create", ""},
		}
		sortGrants(want)
		got := filter(gs, func(g grant) bool { return !isRead(g.Verb) })
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("grants that write (-want +got):\n%s", diff)
		}
	})
	t.Run("webhook configuration only by its name", func(t *testing.T) {
		name := find(t, objs, "ValidatingWebhookConfiguration", "gitops-reverser").GetName()
		vwc := filter(gs, func(g grant) bool {
			return g.Resource == "validatingwebhookconfigurations" && !isRead(g.Verb)
		})
		if len(vwc) == 0 {
			t.Fatal("the controller cannot patch its webhook configuration")
		}
		for _, g := range vwc {
			if g.Names != name {
				t.Errorf("%s: want resourceNames [%s]", g, name)
			}
		}
	})
	t.Run("reader aggregates the built-in reader", func(t *testing.T) {
		assertAggregates(t, objs, "gitops-reverser-reader", "gitops-reverser-reader-builtin")
	})
	t.Run("bindings", func(t *testing.T) {
		want := []string{"ClusterRole gitops-reverser", "ClusterRole gitops-reverser-reader",
			"Role gitops-reverser-age-identity", "Role gitops-reverser-leader-election"}
		if diff := cmp.Diff(want, boundRoles(t, objs)); diff != "" {
			t.Errorf("roles bound to the ServiceAccount (-want +got):\n%s", diff)
		}
	})
}

func TestSecretsComponentRBAC(t *testing.T) {
	objs := renderOverlay(t, "resources:\n  - {{deploy}}\ncomponents:\n  - {{deploy}}/components/secrets\n")
	got := filter(grants(t, objs), onSecrets)
	for _, verb := range []string{"get", "list", "watch"} {
		want := grant{"ClusterRole gitops-reverser-secrets-reader", "", "secrets", verb, ""}
		if !slices.Contains(got, want) {
			t.Errorf("missing %s; grants on Secrets: %v", want, got)
		}
	}
	if !slices.Contains(boundRoles(t, objs), "ClusterRole gitops-reverser-secrets-reader") {
		t.Errorf("gitops-reverser-secrets-reader is not bound to the ServiceAccount")
	}
}

// boundRoles lists the roles bound to the controller's ServiceAccount, after checking that
// every binding names a rendered role and every ServiceAccount subject a rendered account.
func boundRoles(t *testing.T, objs []*unstructured.Unstructured) []string {
	t.Helper()
	var out []string
	for _, b := range bindings(t, objs) {
		find(t, objs, b.roleRef.Kind, b.roleRef.Name)
		for _, s := range b.subjects {
			if s.Kind != "ServiceAccount" {
				continue
			}
			sa := find(t, objs, "ServiceAccount", s.Name)
			if s.Namespace != sa.GetNamespace() {
				t.Errorf("%s: subject %s/%s, but the ServiceAccount is in %q", b.id, s.Namespace, s.Name, sa.GetNamespace())
			}
			if s.Name == "gitops-reverser" {
				out = append(out, b.roleRef.Kind+" "+b.roleRef.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

func assertAggregates(t *testing.T, objs []*unstructured.Unstructured, aggregate, part string) {
	t.Helper()
	var role rbacv1.ClusterRole
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(find(t, objs, "ClusterRole", aggregate).Object, &role); err != nil {
		t.Fatal(err)
	}
	if role.AggregationRule == nil {
		t.Fatalf("%s has no aggregationRule", aggregate)
	}
	partLabels := labels.Set(find(t, objs, "ClusterRole", part).GetLabels())
	for _, ls := range role.AggregationRule.ClusterRoleSelectors {
		sel, err := metav1.LabelSelectorAsSelector(&ls)
		if err != nil {
			t.Fatal(err)
		}
		if sel.Matches(partLabels) {
			return
		}
	}
	t.Errorf("%s does not select %s (labels %v)", aggregate, part, partLabels)
}

// TestRBACAuthorizesTheServiceAccount installs the RBAC for real and asks the API server's
// authorizer what the ServiceAccount may do.
func TestRBACAuthorizesTheServiceAccount(t *testing.T) {
	s := newServer(t)
	base := render(t, ".")
	s.createNamespaces(t, base)
	for _, o := range ofKind(base, "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding") {
		s.create(t, o)
	}
	type check struct {
		name  string
		attrs authorizationv1.ResourceAttributes
		want  bool
	}
	ns := controllerNamespace
	baseChecks := []check{
		{"get a Secret by name", ra("get", "", "secrets", "", "team-a", "git-credentials"), true},
		{"list Secrets", ra("list", "", "secrets", "", "team-a", ""), false},
		{"watch Secrets", ra("watch", "", "secrets", "", "", ""), false},
		{"create a Secret", ra("create", "", "secrets", "", "team-a", ""), false},
		{"create its age identity in its namespace", ra("create", "", "secrets", "", "gitops-reverser", ""), true},
		{"patch its webhook configuration", ra("patch", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", "", "gitops-reverser"), true},
		{"patch another webhook configuration", ra("patch", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", "", "other"), false},
		{"patch mutating webhooks", ra("patch", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "", "", "gitops-reverser"), false},
		{"create its Lease", ra("create", "coordination.k8s.io", "leases", "", ns, ""), true},
		{"renew its Lease", ra("update", "coordination.k8s.io", "leases", "", ns, "gitops-reverser"), true},
		{"renew another Lease", ra("update", "coordination.k8s.io", "leases", "", ns, "kube-scheduler"), false},
		{"create a Lease elsewhere", ra("create", "coordination.k8s.io", "leases", "", "kube-system", ""), false},
		{"watch GitDestinations", ra("watch", "reverser.gitops.dev", "gitdestinations", "", "", ""), true},
		{"update GitDestination status", ra("update", "reverser.gitops.dev", "gitdestinations", "status", "team-a", "x"), true},
		{"update a GitDestination spec", ra("update", "reverser.gitops.dev", "gitdestinations", "", "team-a", "x"), false},
		{"patch ClusterWatchRule status", ra("patch", "reverser.gitops.dev", "clusterwatchrules", "status", "", "x"), true},
		{"create Events", ra("create", "", "events", "", "team-a", ""), true},
		{"delete a ConfigMap", ra("delete", "", "configmaps", "", "team-a", "x"), false},
		{"read pod logs", ra("get", "", "pods", "log", "team-a", "x"), false},
		{"exec into pods", ra("create", "", "pods", "exec", "team-a", "x"), false},
	}
	run := func(t *testing.T, checks []check) {
		for _, c := range checks {
			t.Run(c.name, func(t *testing.T) {
				if got := allowed(t, s, c.attrs); got != c.want {
					t.Errorf("allowed = %v, want %v", got, c.want)
				}
			})
		}
	}
	t.Run("base", func(t *testing.T) { run(t, baseChecks) })

	component := ofKind(renderOverlay(t, "resources:\n  - {{deploy}}\ncomponents:\n  - {{deploy}}/components/secrets\n"),
		"ClusterRole", "ClusterRoleBinding")
	component = slices.DeleteFunc(component, func(o *unstructured.Unstructured) bool {
		return o.GetName() != "gitops-reverser-secrets-reader"
	})
	for _, o := range component {
		s.create(t, o)
	}
	t.Cleanup(func() { s.Delete(t, yamlOf(t, component)) })
	// The authorizer reads RBAC through its own informers: give it a moment to see the binding.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if allowed(t, s, ra("list", "", "secrets", "", "team-a", "")) {
			break
		}
	}
	t.Run("with the secrets component", func(t *testing.T) {
		run(t, []check{
			{"list Secrets", ra("list", "", "secrets", "", "team-a", ""), true},
			{"watch Secrets cluster-wide", ra("watch", "", "secrets", "", "", ""), true},
			{"create a Secret", ra("create", "", "secrets", "", "team-a", ""), false},
		})
	})
}

func ra(verb, group, resource, subresource, namespace, name string) authorizationv1.ResourceAttributes {
	return authorizationv1.ResourceAttributes{Verb: verb, Group: group, Resource: resource,
		Subresource: subresource, Namespace: namespace, Name: name}
}

// allowed asks the API server whether the controller's ServiceAccount may do attrs.
func allowed(t *testing.T, s *server, attrs authorizationv1.ResourceAttributes) bool {
	t.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               serviceAccountUser,
		Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + controllerNamespace, "system:authenticated"},
		ResourceAttributes: &attrs,
	}}
	got, err := s.Kube.AuthorizationV1().SubjectAccessReviews().Create(t.Context(), sar, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("SubjectAccessReview: %v", err)
	}
	return got.Status.Allowed
}

// yamlOf writes objs as one multi-document YAML (JSON documents are YAML).
func yamlOf(t *testing.T, objs []*unstructured.Unstructured) string {
	t.Helper()
	var b strings.Builder
	for _, o := range objs {
		j, err := o.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(j)
		b.WriteString("\n")
	}
	return b.String()
}
