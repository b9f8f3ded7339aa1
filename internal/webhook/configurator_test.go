package webhook

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

var (
	namespacesResource  = discovery.Resource{GVR: schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, Kind: "Namespace"}
	secretsResource     = discovery.Resource{GVR: schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, Kind: "Secret", Namespaced: true}
	deploymentsResource = discovery.Resource{GVR: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, Kind: "Deployment", Namespaced: true, Named: true}
)

// rule is the expected rule for one group, version and scope.
func rule(group, version string, scope admissionregistrationv1.ScopeType, resources ...string) admissionregistrationv1.RuleWithOperations {
	return admissionregistrationv1.RuleWithOperations{
		Operations: []admissionregistrationv1.OperationType{"CREATE", "UPDATE", "DELETE"},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{group}, APIVersions: []string{version}, Resources: resources, Scope: &scope},
	}
}

// expectedWebhook spells out the contract: the entry as read back from the apiserver.
func expectedWebhook(cc admissionregistrationv1.WebhookClientConfig, exclude string, rules ...admissionregistrationv1.RuleWithOperations) admissionregistrationv1.ValidatingWebhook {
	ignore, equivalent, none, timeout := admissionregistrationv1.Ignore, admissionregistrationv1.Equivalent, admissionregistrationv1.SideEffectClassNone, int32(2)
	return admissionregistrationv1.ValidatingWebhook{
		Name:         "authors.reverser.gitops.dev",
		ClientConfig: cc,
		Rules:        rules,
		NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: []string{exclude}},
		}},
		ObjectSelector:          &metav1.LabelSelector{},
		FailurePolicy:           &ignore,
		MatchPolicy:             &equivalent,
		SideEffects:             &none,
		TimeoutSeconds:          &timeout,
		AdmissionReviewVersions: []string{"v1"},
	}
}

func getVWC(t *testing.T, kube kubernetes.Interface, name string) *admissionregistrationv1.ValidatingWebhookConfiguration {
	t.Helper()
	vwc, err := kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return vwc
}

func deleteVWCAtEnd(t *testing.T, kube kubernetes.Interface, name string) {
	t.Cleanup(func() {
		_ = kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

func TestConfiguratorRulesFollowResources(t *testing.T) {
	kube := kubetest.NewClient(t, env.Config).Kube
	name := uniqueName("gitops-reverser-rules")
	deleteVWCAtEnd(t, kube, name)
	ca, _, err := selfSigned(nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Nothing listens on port 1: these rules only have to be stored, and failurePolicy
	// Ignore keeps other tests' writes working meanwhile.
	url := "https://127.0.0.1:1/validate"
	conf := NewConfigurator(slog.New(slog.DiscardHandler), kube, ConfigOptions{Name: name, ExcludeNamespace: "gitops-reverser", URL: url, CABundle: ca})
	cc := admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: ca}

	steps := []struct {
		name      string
		resources []discovery.Resource
		want      []admissionregistrationv1.RuleWithOperations
		write     bool
	}{
		{
			name:      "created with the watched set",
			resources: []discovery.Resource{deploymentsResource, configMapsResource, namespacesResource},
			want: []admissionregistrationv1.RuleWithOperations{
				rule("", "v1", "Cluster", "namespaces"),
				rule("", "v1", "Namespaced", "configmaps"),
				rule("apps", "v1", "Namespaced", "deployments"),
			},
			write: true,
		},
		{
			name:      "a resource added",
			resources: []discovery.Resource{deploymentsResource, configMapsResource, namespacesResource, secretsResource},
			want: []admissionregistrationv1.RuleWithOperations{
				rule("", "v1", "Cluster", "namespaces"),
				rule("", "v1", "Namespaced", "configmaps", "secrets"),
				rule("apps", "v1", "Namespaced", "deployments"),
			},
			write: true,
		},
		{
			name:      "same set in another order, with a duplicate: no write",
			resources: []discovery.Resource{secretsResource, namespacesResource, configMapsResource, deploymentsResource, secretsResource},
			want: []admissionregistrationv1.RuleWithOperations{
				rule("", "v1", "Cluster", "namespaces"),
				rule("", "v1", "Namespaced", "configmaps", "secrets"),
				rule("apps", "v1", "Namespaced", "deployments"),
			},
		},
		{
			name:      "resources removed",
			resources: []discovery.Resource{deploymentsResource},
			want:      []admissionregistrationv1.RuleWithOperations{rule("apps", "v1", "Namespaced", "deployments")},
			write:     true,
		},
		{name: "empty set: no rules", write: true},
		{name: "empty again: no write"},
	}
	lastVersion := ""
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			if err := conf.SetResources(t.Context(), step.resources); err != nil {
				t.Fatal(err)
			}
			vwc := getVWC(t, kube, name)
			want := []admissionregistrationv1.ValidatingWebhook{expectedWebhook(cc, "gitops-reverser", step.want...)}
			if diff := cmp.Diff(want, vwc.Webhooks); diff != "" {
				t.Errorf("webhooks (-want +got):\n%s", diff)
			}
			if wrote := vwc.ResourceVersion != lastVersion; wrote != step.write {
				t.Errorf("wrote = %v, want %v", wrote, step.write)
			}
			lastVersion = vwc.ResourceVersion
		})
	}
}

func TestConfiguratorInstalledConfiguration(t *testing.T) {
	kube := kubetest.NewClient(t, env.Config).Kube
	name := uniqueName("gitops-reverser-installed")
	deleteVWCAtEnd(t, kube, name)
	injected, _, err := selfSigned(nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// As the manifests install it, with a CA that cert-manager injected, and a stale rule.
	none, path := admissionregistrationv1.SideEffectClassNone, "/validate"
	installed := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "kept"}},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "authors.reverser.gitops.dev",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{
				Service:  &admissionregistrationv1.ServiceReference{Namespace: "gitops-reverser", Name: "gitops-reverser-webhook", Path: &path},
				CABundle: injected,
			},
			Rules:                   []admissionregistrationv1.RuleWithOperations{rule("", "v1", "*", "pods")},
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
	if _, err := kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(t.Context(), installed, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	conf := NewConfigurator(slog.New(slog.DiscardHandler), kube, ConfigOptions{
		Name: name, ExcludeNamespace: "gitops-reverser",
		ServiceName: "gitops-reverser-webhook", ServiceNamespace: "gitops-reverser",
	})
	for _, round := range []string{"first", "second"} {
		if err := conf.SetResources(t.Context(), []discovery.Resource{configMapsResource}); err != nil {
			t.Fatalf("%s: %v", round, err)
		}
	}
	vwc := getVWC(t, kube, name)
	port := int32(443)
	cc := admissionregistrationv1.WebhookClientConfig{
		Service:  &admissionregistrationv1.ServiceReference{Namespace: "gitops-reverser", Name: "gitops-reverser-webhook", Path: &path, Port: &port},
		CABundle: injected,
	}
	want := []admissionregistrationv1.ValidatingWebhook{expectedWebhook(cc, "gitops-reverser", rule("", "v1", "Namespaced", "configmaps"))}
	if diff := cmp.Diff(want, vwc.Webhooks); diff != "" {
		t.Errorf("webhooks (-want +got):\n%s", diff)
	}
	if vwc.Labels["app"] != "kept" {
		t.Errorf("labels %v: the installed metadata was not kept", vwc.Labels)
	}
	// Created at 1, updated once at 2: the second round wrote nothing.
	if vwc.Generation != 2 {
		t.Errorf("generation %d, want 2 (one update)", vwc.Generation)
	}
}
