package deploy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

var env *kubetest.Env

func TestMain(m *testing.M) { kubetest.Main(m, &env) }

// controllerNamespace is the namespace the base installs into.
const controllerNamespace = "gitops-reverser"

func deployDir() string { return filepath.Join(kubetest.Root(), "deploy") }

// build renders the kustomization in dir, as `kubectl apply -k` would.
func build(t *testing.T, fSys filesys.FileSystem, dir string) []*unstructured.Unstructured {
	t.Helper()
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fSys, dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := rm.AsYaml()
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	return kubetest.Decode(t, string(out))
}

// render builds deploy/<rel> from disk.
func render(t *testing.T, rel string) []*unstructured.Unstructured {
	t.Helper()
	return build(t, filesys.MakeFsOnDisk(), filepath.Join(deployDir(), rel))
}

// renderOverlay builds a user's own kustomization that lives outside deploy/ (an overlay
// inside deploy/ that points back at deploy/ is a cycle for kustomize). {{deploy}} in
// kustomization becomes the relative path to deploy/.
func renderOverlay(t *testing.T, kustomization string) []*unstructured.Unstructured {
	t.Helper()
	dir := t.TempDir()
	rel, err := filepath.Rel(dir, deployDir())
	if err != nil {
		t.Fatal(err)
	}
	k := strings.ReplaceAll(kustomization, "{{deploy}}", filepath.ToSlash(rel))
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o600); err != nil {
		t.Fatal(err)
	}
	return build(t, filesys.MakeFsOnDisk(), dir)
}

// id names an object in messages and expected lists: Kind namespace/name or Kind name.
func id(obj *unstructured.Unstructured) string {
	if obj.GetNamespace() == "" {
		return obj.GetKind() + " " + obj.GetName()
	}
	return obj.GetKind() + " " + obj.GetNamespace() + "/" + obj.GetName()
}

func ids(objs []*unstructured.Unstructured) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, id(o))
	}
	sort.Strings(out)
	return out
}

// find returns the one object of kind and name in objs.
func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s in %v", kind, name, ids(objs))
	return nil
}

func ofKind(objs []*unstructured.Unstructured, kinds ...string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		for _, k := range kinds {
			if o.GetKind() == k {
				out = append(out, o)
			}
		}
	}
	return out
}

// warnings collects the Warning headers the API server sends (Pod Security "would violate",
// deprecated APIs, unknown fields under Warn validation).
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.msgs
	w.msgs = nil
	return out
}

// server is a client of the test API server that records warnings per request.
type server struct {
	*kubetest.Client
	warnings *warnings
}

func newServer(t *testing.T) *server {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	w := &warnings{}
	cfg.WarningHandler = w
	return &server{Client: kubetest.NewClient(t, cfg), warnings: w}
}

// dryRun submits obj with server-side dry-run and strict field validation: every admission
// step and validation runs, nothing is stored. An object that exists already (the CRDs that
// kubetest installs, namespaces created for real) is validated as a server-side apply instead.
// It returns the warnings of the request.
func (s *server) dryRun(t *testing.T, obj *unstructured.Unstructured) ([]string, error) {
	t.Helper()
	s.warnings.take()
	ri := s.Resource(t, obj)
	_, err := ri.Create(t.Context(), obj, metav1.CreateOptions{
		DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict",
	})
	if apierrors.IsAlreadyExists(err) {
		data, jerr := json.Marshal(obj.Object)
		if jerr != nil {
			t.Fatal(jerr)
		}
		force := true
		_, err = ri.Patch(t.Context(), obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{
			DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict", FieldManager: "deploy-test", Force: &force,
		})
	}
	return s.warnings.take(), err
}

// create stores obj for real; an existing object is fine.
func (s *server) create(t *testing.T, obj *unstructured.Unstructured) {
	t.Helper()
	_, err := s.Resource(t, obj).Create(t.Context(), obj, metav1.CreateOptions{FieldValidation: "Strict"})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create %s: %v", id(obj), err)
	}
}

// createNamespaces stores the Namespaces in objs for real, so namespaced objects can be
// dry-run into them.
func (s *server) createNamespaces(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, ns := range ofKind(objs, "Namespace") {
		s.create(t, ns)
	}
}

// assertAdmitted dry-runs every object and fails on any error or warning.
func assertAdmitted(t *testing.T, s *server, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, obj := range objs {
		warns, err := s.dryRun(t, obj)
		if err != nil {
			t.Errorf("%s rejected: %v", id(obj), err)
			continue
		}
		if len(warns) > 0 {
			t.Errorf("%s admitted with warnings: %q", id(obj), warns)
		}
	}
}

func TestBaseRendersTheInstall(t *testing.T) {
	want := []string{
		"ClusterRole gitops-reverser",
		"ClusterRole gitops-reverser-reader",
		"ClusterRole gitops-reverser-reader-builtin",
		"ClusterRoleBinding gitops-reverser",
		"ClusterRoleBinding gitops-reverser-reader",
		"CustomResourceDefinition clusterwatchrules.reverser.gitops.dev",
		"CustomResourceDefinition gitdestinations.reverser.gitops.dev",
		"CustomResourceDefinition watchrules.reverser.gitops.dev",
		"Deployment gitops-reverser/gitops-reverser",
		"Namespace gitops-reverser",
		"Role gitops-reverser/gitops-reverser-age-identity",
		"Role gitops-reverser/gitops-reverser-leader-election",
		"RoleBinding gitops-reverser/gitops-reverser-age-identity",
		"RoleBinding gitops-reverser/gitops-reverser-leader-election",
		"Service gitops-reverser/gitops-reverser-metrics",
		"Service gitops-reverser/gitops-reverser-webhook",
		"ServiceAccount gitops-reverser/gitops-reverser",
		"ValidatingWebhookConfiguration gitops-reverser",
	}
	if diff := cmp.Diff(want, ids(render(t, "."))); diff != "" {
		t.Errorf("objects of `kubectl apply -k deploy/` (-want +got):\n%s", diff)
	}
}

func TestBaseIsAdmitted(t *testing.T) {
	s := newServer(t)
	objs := render(t, ".")
	s.createNamespaces(t, objs)
	assertAdmitted(t, s, objs)
}

func TestDeploymentContract(t *testing.T) {
	d := find(t, render(t, "."), "Deployment", "gitops-reverser")
	c := container(t, podSpec(t, d))
	tests := []struct {
		name string
		path []string
		want string
	}{
		{"one replica", []string{"spec", "replicas"}, "1"},
		{"recreate", []string{"spec", "strategy", "type"}, "Recreate"},
		{"time for the final flush", []string{"spec", "template", "spec", "terminationGracePeriodSeconds"}, "60"},
		{"service account", []string{"spec", "template", "spec", "serviceAccountName"}, "gitops-reverser"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := unstructured.NestedFieldCopy(d.Object, tc.path...)
			if err != nil || !ok {
				t.Fatalf("%s: missing (%v)", strings.Join(tc.path, "."), err)
			}
			// fmt.Sprint: numbers decode as float64 or int64 depending on the decoder.
			if diff := cmp.Diff(tc.want, fmt.Sprint(got)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", strings.Join(tc.path, "."), diff)
			}
		})
	}
	t.Run("args", func(t *testing.T) {
		want := []any{"run", "--leader-elect", "--log-format=json", "--resync-interval=10m",
			"--discovery-interval=30s", "--cache-dir=/var/cache/gitops-reverser"}
		if diff := cmp.Diff(want, c["args"]); diff != "" {
			t.Errorf("args (-want +got):\n%s", diff)
		}
	})
	t.Run("POD_NAMESPACE and GOMEMLIMIT from the downward API", func(t *testing.T) {
		want := []any{
			map[string]any{"name": "POD_NAMESPACE", "valueFrom": map[string]any{
				"fieldRef": map[string]any{"fieldPath": "metadata.namespace"}}},
			map[string]any{"name": "GOMEMLIMIT", "valueFrom": map[string]any{
				"resourceFieldRef": map[string]any{"resource": "limits.memory"}}},
		}
		if diff := cmp.Diff(want, c["env"]); diff != "" {
			t.Errorf("env (-want +got):\n%s", diff)
		}
	})
}

func TestExamplesAreAdmitted(t *testing.T) {
	s := newServer(t)
	objs := render(t, "examples")
	want := []string{
		"ClusterWatchRule cluster-config",
		"CronJob gitops-reverser/gitops-reverser-snapshot",
		"GitDestination team-a/cluster-state",
		"GitDestination team-a/cluster-state-ssh",
		"Namespace team-a",
		"Secret team-a/git-https-credentials",
		"Secret team-a/git-ssh-credentials",
		"WatchRule team-a/team-a-config",
	}
	if diff := cmp.Diff(want, ids(objs)); diff != "" {
		t.Errorf("objects of deploy/examples (-want +got):\n%s", diff)
	}
	s.createNamespaces(t, render(t, ".")) // the CronJob lives in the controller's namespace
	s.createNamespaces(t, objs)
	assertAdmitted(t, s, objs)
}

// TestDryRunValidatesCustomResources shows that a dry-run create of a custom resource really
// runs the CRD's validation, so the examples passing means something.
func TestDryRunValidatesCustomResources(t *testing.T) {
	s := newServer(t)
	s.createNamespaces(t, render(t, "examples"))
	tests := []struct {
		name string
		doc  string
	}{
		{"GitDestination with an ftp URL", `
apiVersion: reverser.gitops.dev/v1alpha1
kind: GitDestination
metadata: {name: bad-url, namespace: team-a}
spec: {url: "ftp://git.example.com/repo.git"}
`},
		{"GitDestination with a field the CRD lacks", `
apiVersion: reverser.gitops.dev/v1alpha1
kind: GitDestination
metadata: {name: typo, namespace: team-a}
spec: {url: "https://git.example.com/repo.git", brnach: main}
`},
		{"WatchRule naming a subresource", `
apiVersion: reverser.gitops.dev/v1alpha1
kind: WatchRule
metadata: {name: logs, namespace: team-a}
spec:
  destinationRef: {name: cluster-state}
  rules: [{apiGroups: [""], resources: ["pods/log"]}]
`},
		{"ClusterWatchRule without a destination namespace", `
apiVersion: reverser.gitops.dev/v1alpha1
kind: ClusterWatchRule
metadata: {name: no-namespace}
spec:
  destinationRef: {name: cluster-state}
  rules: [{apiGroups: [""], resources: ["namespaces"]}]
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obj := kubetest.Decode(t, tc.doc)[0]
			if _, err := s.dryRun(t, obj); !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
				t.Errorf("dry-run create: got %v, want Invalid or BadRequest", err)
			}
		})
	}
}

func TestExamplesHoldOnlyPlaceholderCredentials(t *testing.T) {
	secrets := ofKind(render(t, "examples"), "Secret")
	if len(secrets) == 0 {
		t.Fatal("no example Secrets")
	}
	for _, sec := range secrets {
		data, _, err := unstructured.NestedStringMap(sec.Object, "stringData")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := sec.Object["data"]; ok {
			t.Errorf("%s: use stringData so the placeholder is readable", id(sec))
		}
		for key, v := range data {
			if key == "username" {
				continue
			}
			if !strings.Contains(v, "REPLACE-WITH") || strings.Contains(v, "-----BEGIN") {
				t.Errorf("%s %s = %q: want an obvious REPLACE-WITH placeholder, no key material", id(sec), key, v)
			}
		}
	}
}

func TestSecretsComponent(t *testing.T) {
	added := []string{"ClusterRole gitops-reverser-secrets-reader", "ClusterRoleBinding gitops-reverser-secrets-reader"}
	want := append(ids(render(t, ".")), added...)
	sort.Strings(want)
	tests := []struct {
		name   string
		render func(*testing.T) []*unstructured.Unstructured
	}{
		{"user overlay", func(t *testing.T) []*unstructured.Unstructured {
			return renderOverlay(t, "resources:\n  - {{deploy}}\ncomponents:\n  - {{deploy}}/components/secrets\n")
		}},
		{"uncommented in the base", renderBaseWithComponentUncommented},
	}
	s := newServer(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := tc.render(t)
			if diff := cmp.Diff(want, ids(objs)); diff != "" {
				t.Fatalf("objects (-want +got):\n%s", diff)
			}
			s.createNamespaces(t, objs)
			assertAdmitted(t, s, objs)
		})
	}
}

// renderBaseWithComponentUncommented builds deploy/ with the `components:` lines that
// kustomization.yaml offers uncommented, from an in-memory copy of deploy/.
func renderBaseWithComponentUncommented(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	fSys := filesys.MakeFsInMemory()
	err := filepath.WalkDir(deployDir(), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return fSys.WriteFile(path, b)
	})
	if err != nil {
		t.Fatal(err)
	}
	kpath := filepath.Join(deployDir(), "kustomization.yaml")
	b, err := fSys.ReadFile(kpath)
	if err != nil {
		t.Fatal(err)
	}
	const commented = "# components:\n#   - components/secrets\n"
	if !strings.Contains(string(b), commented) {
		t.Fatalf("deploy/kustomization.yaml no longer offers %q", commented)
	}
	k := strings.Replace(string(b), commented, "components:\n  - components/secrets\n", 1)
	if err := fSys.WriteFile(kpath, []byte(k)); err != nil {
		t.Fatal(err)
	}
	return build(t, fSys, deployDir())
}

// TestInstallIntoAnotherNamespace proves the overlay the README gives for a namespace other
// than gitops-reverser: everything, RBAC subjects and the webhook included, moves.
func TestInstallIntoAnotherNamespace(t *testing.T) {
	const ns = "platform-git"
	objs := renderOverlay(t, `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - {{deploy}}
transformers:
  - |-
    apiVersion: builtin
    kind: NamespaceTransformer
    metadata:
      name: namespace
      namespace: platform-git
    setRoleBindingSubjects: allServiceAccounts
    fieldSpecs:
      - kind: Namespace
        path: metadata/name
      - kind: ValidatingWebhookConfiguration
        path: webhooks/clientConfig/service/namespace
`)
	for _, o := range objs {
		if o.GetNamespace() != "" && o.GetNamespace() != ns {
			t.Errorf("%s: want namespace %q", id(o), ns)
		}
	}
	// The namespaceSelector is left as rendered: the controller rewrites it from --namespace.
	vwc := find(t, objs, "ValidatingWebhookConfiguration", "gitops-reverser").Object
	if got := webhookField(t, vwc, "clientConfig", "service", "namespace"); got != ns {
		t.Errorf("webhook service namespace = %q, want %q", got, ns)
	}
	find(t, objs, "Namespace", ns)
	for _, b := range bindings(t, objs) {
		for _, s := range b.subjects {
			if s.Kind == "ServiceAccount" && s.Namespace != ns {
				t.Errorf("%s: subject %s in namespace %q, want %q", b.id, s.Name, s.Namespace, ns)
			}
		}
	}
	s := newServer(t)
	s.createNamespaces(t, objs)
	assertAdmitted(t, s, objs)
}

// webhookField reads a string field of webhooks[0].
func webhookField(t *testing.T, vwc map[string]any, path ...string) string {
	t.Helper()
	hooks, _ := vwc["webhooks"].([]any)
	if len(hooks) != 1 {
		t.Fatalf("want one webhook, got %d", len(hooks))
	}
	hook, _ := hooks[0].(map[string]any)
	v, _, err := unstructured.NestedString(hook, path...)
	if err != nil {
		t.Fatalf("webhook %s: %v", strings.Join(path, "."), err)
	}
	return v
}

func TestWebhookContract(t *testing.T) {
	vwc := find(t, render(t, "."), "ValidatingWebhookConfiguration", "gitops-reverser").Object
	tests := []struct {
		path []string
		want string
	}{
		{[]string{"name"}, "authors.reverser.gitops.dev"},
		{[]string{"failurePolicy"}, "Ignore"},
		{[]string{"sideEffects"}, "None"},
		{[]string{"clientConfig", "service", "name"}, "gitops-reverser-webhook"},
		{[]string{"clientConfig", "service", "namespace"}, controllerNamespace},
		{[]string{"clientConfig", "service", "path"}, "/validate"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.path, "."), func(t *testing.T) {
			if got := webhookField(t, vwc, tc.path...); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	hook := vwc["webhooks"].([]any)[0].(map[string]any)
	t.Run("the rest", func(t *testing.T) {
		want := map[string]string{
			"timeoutSeconds":            "2",
			"admissionReviewVersions":   "[v1]",
			"clientConfig.service.port": "443",
			"namespaceSelector":         "map[matchExpressions:[map[key:kubernetes.io/metadata.name operator:NotIn values:[gitops-reverser]]]]",
			// Owned by the controller at run time; see webhook.yaml.
			"rules":                 "<nil>",
			"clientConfig.caBundle": "<nil>",
		}
		got := map[string]string{}
		for k := range want {
			v, _, err := unstructured.NestedFieldCopy(hook, strings.Split(k, ".")...)
			if err != nil {
				t.Fatal(err)
			}
			got[k] = fmt.Sprint(v)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("webhook (-want +got):\n%s", diff)
		}
	})
}

// TestWebhookNetworkPolicyComponent: the component adds one NetworkPolicy, admitted by the API
// server, that selects the controller's Pods and lets the webhook port be reached only from an
// ipBlock (a user's patch sets it), metrics and health from anywhere.
func TestWebhookNetworkPolicyComponent(t *testing.T) {
	objs := renderOverlay(t, "resources:\n  - {{deploy}}\ncomponents:\n  - {{deploy}}/components/webhook-networkpolicy\n"+
		"patches:\n  - target: {kind: NetworkPolicy, name: gitops-reverser-webhook}\n    patch: |\n      - op: replace\n        path: /spec/ingress/0/from/0/ipBlock/cidr\n        value: 10.0.0.0/24\n")
	want := append(ids(render(t, ".")), "NetworkPolicy gitops-reverser/gitops-reverser-webhook")
	sort.Strings(want)
	if diff := cmp.Diff(want, ids(objs)); diff != "" {
		t.Fatalf("objects (-want +got):\n%s", diff)
	}
	s := newServer(t)
	s.createNamespaces(t, objs)
	assertAdmitted(t, s, objs)

	np := find(t, objs, "NetworkPolicy", "gitops-reverser-webhook").Object
	pod := find(t, objs, "Deployment", "gitops-reverser").Object
	podLabels, _, _ := unstructured.NestedStringMap(pod, "spec", "template", "metadata", "labels")
	selector, _, _ := unstructured.NestedStringMap(np, "spec", "podSelector", "matchLabels")
	for k, v := range selector {
		if podLabels[k] != v {
			t.Errorf("podSelector %s=%s does not match the controller's Pods %v", k, v, podLabels)
		}
	}
	ingress, _, _ := unstructured.NestedSlice(np, "spec", "ingress")
	got := fmt.Sprint(ingress)
	if want := "[map[from:[map[ipBlock:map[cidr:10.0.0.0/24]]] ports:[map[port:webhook protocol:TCP]]] map[ports:[map[port:metrics protocol:TCP] map[port:health protocol:TCP]]]]"; got != want {
		t.Errorf("ingress:\n%s\nwant:\n%s", got, want)
	}
}
