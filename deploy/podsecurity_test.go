package deploy_test

import (
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

// restrictedNamespace enforces (and warns about) the "restricted" Pod Security Standard.
// Enforce rejects Pods only; for a Deployment or CronJob the API server answers with a
// warning, so both the workload and a Pod made from its template are checked.
const restrictedNamespace = "psa-restricted"

// podSecurityMarker is in both the Pod rejection and the workload warning.
const podSecurityMarker = `PodSecurity "restricted:latest"`

func restricted(t *testing.T, s *server) {
	t.Helper()
	s.create(t, kubetest.Decode(t, `
apiVersion: v1
kind: Namespace
metadata:
  name: `+restrictedNamespace+`
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/warn: restricted
`)[0])
}

// templatePath is where a workload keeps its pod template.
func templatePath(t *testing.T, w *unstructured.Unstructured) []string {
	t.Helper()
	switch w.GetKind() {
	case "Deployment":
		return []string{"spec", "template"}
	case "CronJob":
		return []string{"spec", "jobTemplate", "spec", "template"}
	}
	t.Fatalf("%s has no known pod template", id(w))
	return nil
}

// podSpec is the workload's pod spec, not a copy: changing it changes the workload.
func podSpec(t *testing.T, w *unstructured.Unstructured) map[string]any {
	t.Helper()
	spec, ok, err := unstructured.NestedFieldNoCopy(w.Object, append(templatePath(t, w), "spec")...)
	m, isMap := spec.(map[string]any)
	if err != nil || !ok || !isMap {
		t.Fatalf("%s: no pod spec (%v)", id(w), err)
	}
	return m
}

// container is the first container of spec, not a copy.
func container(t *testing.T, spec map[string]any) map[string]any {
	t.Helper()
	cs, _ := spec["containers"].([]any)
	if len(cs) == 0 {
		t.Fatal("no containers")
	}
	c, _ := cs[0].(map[string]any)
	return c
}

func child(t *testing.T, m map[string]any, key string) map[string]any {
	t.Helper()
	c, ok := m[key].(map[string]any)
	if !ok {
		t.Fatalf("no %s", key)
	}
	return c
}

// inRestricted is a copy of w in the restricted namespace, and the Pod its template makes.
func inRestricted(t *testing.T, w *unstructured.Unstructured) (workload, pod *unstructured.Unstructured) {
	t.Helper()
	workload = w.DeepCopy()
	workload.SetNamespace(restrictedNamespace)
	pod = &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "Pod",
		"metadata":   map[string]any{"name": w.GetName(), "namespace": restrictedNamespace},
		"spec":       podSpec(t, workload),
	}}
	return workload, pod
}

func workloads(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	return []*unstructured.Unstructured{
		find(t, render(t, "."), "Deployment", "gitops-reverser"),
		find(t, render(t, "examples"), "CronJob", "gitops-reverser-snapshot"),
	}
}

func TestWorkloadsMeetRestrictedPodSecurity(t *testing.T) {
	s := newServer(t)
	restricted(t, s)
	for _, w := range workloads(t) {
		t.Run(w.GetKind(), func(t *testing.T) {
			workload, pod := inRestricted(t, w)
			assertAdmitted(t, s, []*unstructured.Unstructured{workload, pod})
		})
	}
}

// TestPodSecurityViolationsAreCaught shows the check above can fail: each case breaks one
// rule of the restricted standard in the Deployment and must be refused.
func TestPodSecurityViolationsAreCaught(t *testing.T) {
	s := newServer(t)
	restricted(t, s)
	tests := []struct {
		name    string
		violate func(t *testing.T, spec map[string]any)
	}{
		{"privilege escalation allowed", func(t *testing.T, spec map[string]any) {
			child(t, container(t, spec), "securityContext")["allowPrivilegeEscalation"] = true
		}},
		{"capabilities not dropped", func(t *testing.T, spec map[string]any) {
			delete(child(t, container(t, spec), "securityContext"), "capabilities")
		}},
		{"no seccomp profile", func(t *testing.T, spec map[string]any) {
			delete(child(t, spec, "securityContext"), "seccompProfile")
		}},
		{"runs as root", func(t *testing.T, spec map[string]any) {
			sc := child(t, spec, "securityContext")
			delete(sc, "runAsNonRoot")
			sc["runAsUser"] = int64(0)
		}},
		{"hostPath volume", func(t *testing.T, spec map[string]any) {
			spec["volumes"].([]any)[0] = map[string]any{"name": "cache", "hostPath": map[string]any{"path": "/var/cache"}}
		}},
	}
	deployment := workloads(t)[0]
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			workload, pod := inRestricted(t, deployment)
			tc.violate(t, podSpec(t, workload))
			warns, err := s.dryRun(t, workload)
			if err != nil || !strings.Contains(strings.Join(warns, "\n"), podSecurityMarker) {
				t.Errorf("Deployment: got err=%v warnings=%q, want a %s warning", err, warns, podSecurityMarker)
			}
			_, err = s.dryRun(t, pod)
			if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), podSecurityMarker) {
				t.Errorf("Pod: got %v, want Forbidden by %s", err, podSecurityMarker)
			}
		})
	}
}
