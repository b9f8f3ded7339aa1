package defaulting

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

// Importing k8s.io/kubernetes/pkg/apis/... must not make other schemes default objects:
// client-go's global scheme, nor one built later from k8s.io/api's AddToScheme.
func TestOtherSchemesDoNotDefault(t *testing.T) {
	fresh := runtime.NewScheme()
	if err := scheme.AddToScheme(fresh); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*runtime.Scheme{"client-go scheme.Scheme": scheme.Scheme, "a scheme built now": fresh} {
		pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}}}
		s.Default(pod)
		if pod.Spec.RestartPolicy != "" || pod.Spec.Containers[0].ImagePullPolicy != "" {
			t.Errorf("%s defaulted a Pod: restartPolicy %q, imagePullPolicy %q", name, pod.Spec.RestartPolicy, pod.Spec.Containers[0].ImagePullPolicy)
		}
		for gvk, typ := range s.AllKnownTypes() {
			if hasDefaulter(s, typ) {
				t.Errorf("%s has a defaulting function for %s", name, gvk)
			}
		}
	}
}

func TestBuiltinKinds(t *testing.T) {
	b := NewBuiltin()
	for _, tc := range []struct {
		gvk  schema.GroupVersionKind
		want bool
	}{
		{corev1.SchemeGroupVersion.WithKind("Pod"), true},
		{corev1.SchemeGroupVersion.WithKind("PodTemplate"), true},
		{corev1.SchemeGroupVersion.WithKind("Service"), true},
		{corev1.SchemeGroupVersion.WithKind("ConfigMap"), false},
		{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, true},
		{schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "CronJob"}, true},
		{schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"}, true},
		{schema.GroupVersionKind{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"}, true},
		{schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleBinding"}, true},
		{schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"}, false},
		{schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}, true},
		{schema.GroupVersionKind{Group: "shop.example.com", Version: "v1", Kind: "IceCreamOrder"}, false},
	} {
		if got := b.Has(tc.gvk); got != tc.want {
			t.Errorf("Has(%s) = %v, want %v", tc.gvk, got, tc.want)
		}
	}
}

func TestBuiltinDefault(t *testing.T) {
	b := NewBuiltin()
	pod := map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "p"},
		"spec":     map[string]any{"containers": []any{map[string]any{"name": "app", "image": "nginx"}}},
	}
	got, err := b.Default(corev1.SchemeGroupVersion.WithKind("Pod"), pod)
	if err != nil {
		t.Fatal(err)
	}
	spec := got["spec"].(map[string]any)
	if spec["restartPolicy"] != "Always" || spec["containers"].([]any)[0].(map[string]any)["imagePullPolicy"] != "Always" {
		t.Errorf("Pod not defaulted: %v", spec)
	}
	if _, ok := pod["spec"].(map[string]any)["restartPolicy"]; ok {
		t.Error("Default modified its input")
	}
}

// The binary links only the defaulting packages of k8s.io/kubernetes: each group's
// pkg/apis/<group>[/<version>], and the few packages they import. A new import that pulls in
// more (a validation, a registry, a controller) fails here.
func TestOnlyDefaultingPackages(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/gitops-reverser/gitops-reverser/cmd/gitops-reverser").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := regexp.MustCompile(`^k8s\.io/kubernetes/pkg/(apis/[a-z0-9]+(/[a-z0-9]+)*|api/v1/service|features|util/parsers)$`)
	n := 0
	for _, pkg := range strings.Fields(string(out)) {
		if !strings.HasPrefix(pkg, "k8s.io/kubernetes/") {
			continue
		}
		n++
		if !allowed.MatchString(pkg) || strings.Contains(pkg, "/validation") {
			t.Errorf("the binary links %s", pkg)
		}
	}
	if n == 0 {
		t.Error("no package of k8s.io/kubernetes is linked: the defaulting is gone")
	}
}
