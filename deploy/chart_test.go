package deploy_test

// Tests of the Helm chart in charts/gitops-reverser: rendered with Helm's own library (the
// install action in client-only mode, which is `helm template --include-crds`), linted with
// Helm's lint action, and every rendering admitted by the test API server with strict field
// validation. They live beside the kustomize tests so they can hold the two installs side by
// side and share their API server and helpers.

import (
	"bytes"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authorizationv1 "k8s.io/api/authorization/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/strvals"

	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

func chartDir() string { return filepath.Join(kubetest.Root(), "charts", "gitops-reverser") }

// release is one `helm install <name> charts/gitops-reverser --namespace <namespace> -f values`.
type release struct {
	name      string // default gitops-reverser, as in the README
	namespace string // default "default": the kubeconfig's namespace when -n is not given
	values    string // YAML
}

func (r release) withDefaults() release {
	if r.name == "" {
		r.name = "gitops-reverser"
	}
	if r.namespace == "" {
		r.namespace = "default"
	}
	return r
}

// serverKubeVersion is the test API server's version, which Helm renders and lints against.
var serverKubeVersion = sync.OnceValues(func() (*common.KubeVersion, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		return nil, err
	}
	v, err := dc.ServerVersion()
	if err != nil {
		return nil, err
	}
	return common.ParseKubeVersion(v.GitVersion)
})

func kubeVersion(t *testing.T) *common.KubeVersion {
	t.Helper()
	v, err := serverKubeVersion()
	if err != nil {
		t.Fatalf("server version: %v", err)
	}
	return v
}

func readValues(t *testing.T, doc string) map[string]any {
	t.Helper()
	vals, err := common.ReadValues([]byte(doc))
	if err != nil {
		t.Fatalf("values %q: %v", doc, err)
	}
	return vals
}

// tryRender renders the chart as `helm template --include-crds` does (and as `helm install`
// does before it talks to the cluster): values are checked against values.schema.json, then
// the templates are executed. It returns the objects and the NOTES.
func (r release) tryRender(t *testing.T) ([]*unstructured.Unstructured, string, error) {
	t.Helper()
	r = r.withDefaults()
	chrt, err := loader.Load(chartDir())
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(slog.DiscardHandler))
	install := action.NewInstall(cfg)
	install.DryRunStrategy = action.DryRunClient
	install.ReleaseName = r.name
	install.Namespace = r.namespace
	install.Replace = true
	install.IncludeCRDs = true
	install.KubeVersion = kubeVersion(t)
	out, err := install.Run(chrt, readValues(t, r.values))
	if err != nil {
		return nil, "", err
	}
	rel, ok := out.(*releasev1.Release)
	if !ok {
		t.Fatalf("install returned %T", out)
	}
	return kubetest.Decode(t, rel.Manifest), rel.Info.Notes, nil
}

func (r release) render(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	objs, _, err := r.tryRender(t)
	if err != nil {
		t.Fatalf("render chart with %q: %v", r.values, err)
	}
	return objs
}

// renderChart renders the default release with values.
func renderChart(t *testing.T, values string) []*unstructured.Unstructured {
	t.Helper()
	return release{values: values}.render(t)
}

// lintChart runs `helm lint --strict` with values: warnings count as failures.
func lintChart(t *testing.T, r release) *action.LintResult {
	t.Helper()
	r = r.withDefaults()
	l := action.NewLint()
	l.Strict = true
	l.Namespace = r.namespace
	l.KubeVersion = kubeVersion(t)
	return l.Run([]string{chartDir()}, readValues(t, r.values))
}

// assertLintClean fails on any lint error or warning (information, such as "icon is
// recommended", is fine).
func assertLintClean(t *testing.T, r release) {
	t.Helper()
	res := lintChart(t, r)
	if res.TotalChartsLinted != 1 {
		t.Errorf("linted %d charts, want 1 (%v)", res.TotalChartsLinted, res.Errors)
	}
	for _, m := range res.Messages {
		if m.Severity > support.InfoSev {
			t.Errorf("helm lint: %s", m)
		}
	}
	for _, err := range res.Errors {
		t.Errorf("helm lint: %v", err)
	}
}

// --- CRDs that the test API server lacks --------------------------------------------------

// The ServiceMonitor, Certificate and Issuer kinds are installed as minimal CRDs: the subset
// of the real schemas (prometheus-operator monitoring.coreos.com/v1, cert-manager
// cert-manager.io/v1: same names, types and required fields) that the chart writes, with no
// x-kubernetes-preserve-unknown-fields, so strict field validation refuses any field the chart
// writes that the subset lacks.
const thirdPartyCRDs = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: servicemonitors.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          required: [spec]
          properties:
            spec:
              type: object
              required: [endpoints, selector]
              properties:
                selector:
                  type: object
                  properties:
                    matchLabels: {type: object, additionalProperties: {type: string}}
                endpoints:
                  type: array
                  items:
                    type: object
                    properties:
                      port: {type: string}
                      path: {type: string}
                      scheme: {type: string, enum: [http, https]}
                      interval: {type: string, pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$'}
                      scrapeTimeout: {type: string, pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$'}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: certificates.cert-manager.io}
spec:
  group: cert-manager.io
  names: {kind: Certificate, listKind: CertificateList, plural: certificates, singular: certificate}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [issuerRef, secretName]
              properties:
                secretName: {type: string}
                dnsNames: {type: array, items: {type: string}}
                duration: {type: string}
                renewBefore: {type: string}
                issuerRef:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    kind: {type: string}
                    group: {type: string}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: issuers.cert-manager.io}
spec:
  group: cert-manager.io
  names: {kind: Issuer, listKind: IssuerList, plural: issuers, singular: issuer}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                selfSigned:
                  type: object
                  properties:
                    crlDistributionPoints: {type: array, items: {type: string}}
                ca:
                  type: object
                  required: [secretName]
                  properties:
                    secretName: {type: string}
`

var installThirdPartyCRDs = sync.OnceValue(func() error {
	var crds []*apiextensionsv1.CustomResourceDefinition
	for doc := range strings.SplitSeq(thirdPartyCRDs, "\n---\n") {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict([]byte(doc), &crd); err != nil {
			return err
		}
		crds = append(crds, &crd)
	}
	_, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{CRDs: crds, MaxTime: 30 * time.Second})
	return err
})

// chartServer is a server client that can admit every kind the chart renders.
func chartServer(t *testing.T) *server {
	t.Helper()
	if err := installThirdPartyCRDs(); err != nil {
		t.Fatalf("install ServiceMonitor and cert-manager CRDs: %v", err)
	}
	return newServer(t)
}

// --- The chart against deploy/ ------------------------------------------------------------

// TestChartCRDsAreDeployCRDs: crds/ holds exactly the files of deploy/crds, byte for byte
// (`make generate` writes both).
func TestChartCRDsAreDeployCRDs(t *testing.T) {
	read := func(dir string) map[string][]byte {
		out := map[string][]byte{}
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			rel, _ := filepath.Rel(dir, path)
			out[rel] = b
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	want, got := read(filepath.Join(deployDir(), "crds")), read(filepath.Join(chartDir(), "crds"))
	if len(want) == 0 {
		t.Fatal("deploy/crds is empty")
	}
	if diff := cmp.Diff(slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(got))); diff != "" {
		t.Errorf("files of charts/gitops-reverser/crds (-deploy/crds +chart):\n%s", diff)
	}
	for name, b := range want {
		if g, ok := got[name]; ok && !bytes.Equal(b, g) {
			t.Errorf("charts/gitops-reverser/crds/%s differs from deploy/crds/%s: run make generate", name, name)
		}
	}
}

// sansLabels is obj without what the chart is free to do its own way: labels and
// annotations (Helm's standard labels are added, checked by assertKustomizeLabels) and label
// selectors (the chart's add app.kubernetes.io/instance, checked by assertSelectorsMatchPods).
func sansLabels(obj *unstructured.Unstructured) map[string]any {
	c := obj.DeepCopy().Object
	unstructured.RemoveNestedField(c, "metadata", "labels")
	unstructured.RemoveNestedField(c, "metadata", "annotations")
	switch obj.GetKind() {
	case "Deployment":
		unstructured.RemoveNestedField(c, "spec", "selector")
		unstructured.RemoveNestedField(c, "spec", "template", "metadata", "labels")
	case "Service":
		unstructured.RemoveNestedField(c, "spec", "selector")
	}
	return c
}

// TestChartDefaultIsTheKustomizeInstall: `helm install gitops-reverser charts/gitops-reverser`
// renders the objects of `kubectl apply -k deploy/`, field for field apart from labels and
// selectors, with the same RBAC.
func TestChartDefaultIsTheKustomizeInstall(t *testing.T) {
	kust := render(t, ".")
	chart := renderChart(t, "")
	if diff := cmp.Diff(ids(kust), ids(chart)); diff != "" {
		t.Fatalf("objects (-kustomize +helm):\n%s", diff)
	}
	t.Run("RBAC rules", func(t *testing.T) {
		if diff := cmp.Diff(grants(t, kust), grants(t, chart)); diff != "" {
			t.Errorf("grants (-kustomize +helm):\n%s", diff)
		}
		if diff := cmp.Diff(boundRoles(t, kust), boundRoles(t, chart)); diff != "" {
			t.Errorf("roles bound to the ServiceAccount (-kustomize +helm):\n%s", diff)
		}
		assertAggregates(t, chart, "gitops-reverser-reader", "gitops-reverser-reader-builtin")
	})
	t.Run("objects", func(t *testing.T) {
		for _, k := range kust {
			h := find(t, chart, k.GetKind(), k.GetName())
			if diff := cmp.Diff(sansLabels(k), sansLabels(h)); diff != "" {
				t.Errorf("%s (-kustomize +helm):\n%s", id(k), diff)
			}
		}
	})
	t.Run("labels", func(t *testing.T) { assertKustomizeLabels(t, kust, chart) })
	t.Run("selectors", func(t *testing.T) { assertSelectorsMatchPods(t, chart) })
}

// assertKustomizeLabels: every label deploy/ puts on an object (the aggregation label, Pod
// Security, app.kubernetes.io/*) is on the chart's object too. The CRDs are left out: the
// chart's are deploy/crds as they are, without kustomize's part-of label.
func assertKustomizeLabels(t *testing.T, kust, chart []*unstructured.Unstructured) {
	t.Helper()
	for _, k := range kust {
		if k.GetKind() == "CustomResourceDefinition" {
			continue
		}
		h := find(t, chart, k.GetKind(), k.GetName())
		for key, v := range k.GetLabels() {
			if got, ok := h.GetLabels()[key]; !ok || got != v {
				t.Errorf("%s: label %s=%q, want %q", id(h), key, got, v)
			}
		}
	}
}

// assertSelectorsMatchPods: the Deployment selects its own Pods, and every Service,
// NetworkPolicy, PodDisruptionBudget and ServiceMonitor selector selects them.
func assertSelectorsMatchPods(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	d := ofKind(objs, "Deployment")[0]
	pod, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "labels")
	podLabels := labels.Set(pod)
	check := func(o *unstructured.Unstructured, path ...string) {
		m, ok, err := unstructured.NestedStringMap(o.Object, path...)
		if err != nil || !ok || len(m) == 0 {
			t.Errorf("%s: no selector at %s (%v)", id(o), strings.Join(path, "."), err)
			return
		}
		if !labels.SelectorFromSet(m).Matches(podLabels) {
			t.Errorf("%s: selector %v does not select the controller's Pods %v", id(o), m, pod)
		}
	}
	check(d, "spec", "selector", "matchLabels")
	for _, o := range ofKind(objs, "Service") {
		check(o, "spec", "selector")
	}
	for _, o := range ofKind(objs, "NetworkPolicy") {
		check(o, "spec", "podSelector", "matchLabels")
	}
	for _, o := range ofKind(objs, "PodDisruptionBudget") {
		check(o, "spec", "selector", "matchLabels")
	}
	// A ServiceMonitor selects Services: the metrics Service, which selects the Pods.
	for _, o := range ofKind(objs, "ServiceMonitor") {
		m, _, _ := unstructured.NestedStringMap(o.Object, "spec", "selector", "matchLabels")
		svc := find(t, objs, "Service", "gitops-reverser-metrics")
		if !labels.SelectorFromSet(m).Matches(labels.Set(svc.GetLabels())) {
			t.Errorf("%s: selector %v does not select %s (labels %v)", id(o), m, id(svc), svc.GetLabels())
		}
	}
}

// --- Every opt-in -----------------------------------------------------------------------

// everything turns every opt-in and every Pod setting on at once.
const everything = `
rbac: {snapshotSecrets: true}
webhook:
  certManager: {enabled: true}
  clientCA: {secretName: apiserver-webhook-client-ca}
  networkPolicy: {enabled: true, apiserverCIDRs: [10.0.0.0/24, "fd00:10::/64"]}
metrics:
  serviceMonitor: {enabled: true, interval: 30s, scrapeTimeout: 10s, labels: {release: prometheus}}
podDisruptionBudget: {enabled: true, minAvailable: 1}
image: {tag: v1.2.3, pullPolicy: IfNotPresent}
imagePullSecrets: [{name: registry-credentials}]
resources:
  requests: {cpu: 100m, memory: 1Gi}
  limits: {memory: 2Gi}
logFormat: text
logLevel: debug
resyncInterval: 1h
resyncSchedule: "0 3 * * *"
discoveryInterval: 1m
extraArgs: [--author-email-domain=example.com]
extraEnv: [{name: GITOPS_REVERSER_WEBHOOK_CACHE_SIZE, value: "20000"}]
nodeSelector: {kubernetes.io/os: linux}
tolerations: [{key: dedicated, operator: Equal, value: gitops, effect: NoSchedule}]
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms:
        - matchExpressions: [{key: kubernetes.io/arch, operator: In, values: [amd64, arm64]}]
priorityClassName: gitops-reverser-test
podAnnotations: {example.com/owner: platform}
podLabels: {example.com/team: platform}
`

// chartOptIns are the renderings every opt-in test runs over: the default and each opt-in,
// with the objects it adds to the default's (or removes from them).
var chartOptIns = []struct {
	name           string
	values         string
	added, removed []string
}{
	{"default", "", nil, nil},
	{"secrets RBAC", "rbac: {snapshotSecrets: true}",
		[]string{"ClusterRole gitops-reverser-secrets-reader", "ClusterRoleBinding gitops-reverser-secrets-reader"}, nil},
	{"webhook NetworkPolicy", "webhook: {networkPolicy: {enabled: true, apiserverCIDRs: [10.0.0.0/24, \"fd00:10::/64\"]}}",
		[]string{"NetworkPolicy gitops-reverser/gitops-reverser-webhook"}, nil},
	{"webhook client CA from a Secret", "webhook: {clientCA: {secretName: apiserver-webhook-client-ca}}", nil, nil},
	{"webhook client CA from a ConfigMap", "webhook: {clientCA: {configMapName: apiserver-webhook-client-ca, key: ca.pem}}", nil, nil},
	{"cert-manager, self-signed issuer", "webhook: {certManager: {enabled: true}}",
		[]string{"Certificate gitops-reverser/gitops-reverser-webhook", "Issuer gitops-reverser/gitops-reverser-selfsigned"}, nil},
	{"cert-manager, own issuer", "webhook: {certManager: {enabled: true, issuerRef: {name: company-ca, kind: ClusterIssuer, group: cert-manager.io}, duration: 2160h, renewBefore: 360h}}",
		[]string{"Certificate gitops-reverser/gitops-reverser-webhook"}, nil},
	{"ServiceMonitor", "metrics: {serviceMonitor: {enabled: true, interval: 30s, scrapeTimeout: 10s, labels: {release: prometheus}}}",
		[]string{"ServiceMonitor gitops-reverser/gitops-reverser"}, nil},
	{"PodDisruptionBudget", "podDisruptionBudget: {enabled: true}",
		[]string{"PodDisruptionBudget gitops-reverser/gitops-reverser"}, nil},
	{"PodDisruptionBudget with minAvailable", "podDisruptionBudget: {enabled: true, minAvailable: 1}",
		[]string{"PodDisruptionBudget gitops-reverser/gitops-reverser"}, nil},
	{"no leader election", "leaderElection: {enabled: false}", nil,
		[]string{"Role gitops-reverser/gitops-reverser-leader-election", "RoleBinding gitops-reverser/gitops-reverser-leader-election"}},
	{"everything", everything, []string{
		"Certificate gitops-reverser/gitops-reverser-webhook",
		"ClusterRole gitops-reverser-secrets-reader",
		"ClusterRoleBinding gitops-reverser-secrets-reader",
		"Issuer gitops-reverser/gitops-reverser-selfsigned",
		"NetworkPolicy gitops-reverser/gitops-reverser-webhook",
		"PodDisruptionBudget gitops-reverser/gitops-reverser",
		"ServiceMonitor gitops-reverser/gitops-reverser",
	}, nil},
}

// TestChartOptIns renders the default and every opt-in and checks each rendering: the objects
// it adds, helm lint, admission of every object by the API server (server-side dry-run, strict
// field validation, no warnings), the Pod template under PodSecurity restricted, selectors,
// and that no role but the opt-in secrets reader reaches Secrets beyond `get` by name.
func TestChartOptIns(t *testing.T) {
	s := chartServer(t)
	restricted(t, s)
	// The "everything" Pods name a PriorityClass: the Pod admission looks it up.
	s.create(t, kubetest.Decode(t, "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: gitops-reverser-test}\nvalue: 1000\n")[0])
	base := ids(renderChart(t, ""))
	for _, tc := range chartOptIns {
		t.Run(tc.name, func(t *testing.T) {
			r := release{values: tc.values}
			objs := r.render(t)
			want := slices.DeleteFunc(append(slices.Clone(base), tc.added...), func(s string) bool {
				return slices.Contains(tc.removed, s)
			})
			sort.Strings(want)
			if diff := cmp.Diff(want, ids(objs)); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
			t.Run("helm lint", func(t *testing.T) { assertLintClean(t, r) })
			t.Run("admitted", func(t *testing.T) {
				s.createNamespaces(t, objs)
				assertAdmitted(t, s, objs)
			})
			t.Run("PodSecurity restricted", func(t *testing.T) {
				workload, pod := inRestricted(t, find(t, objs, "Deployment", "gitops-reverser"))
				assertAdmitted(t, s, []*unstructured.Unstructured{workload, pod})
			})
			t.Run("selectors", func(t *testing.T) { assertSelectorsMatchPods(t, objs) })
			t.Run("Secrets", func(t *testing.T) { assertSecretsGrants(t, objs, strings.Contains(tc.values, "snapshotSecrets: true")) })
		})
	}
}

// assertSecretsGrants: the base roles reach Secrets only to get one by name and to create the
// age identity in the controller's namespace; with the opt-in, the secrets reader alone adds
// list and watch, and is bound to the ServiceAccount.
func assertSecretsGrants(t *testing.T, objs []*unstructured.Unstructured, optIn bool) {
	t.Helper()
	want := []grant{
		{"ClusterRole gitops-reverser", "", "secrets", "get", ""},
		{"Role gitops-reverser/gitops-reverser-age-identity", "", "secrets", "create", ""},
	}
	if optIn {
		for _, verb := range []string{"get", "list", "watch"} {
			want = append(want, grant{"ClusterRole gitops-reverser-secrets-reader", "", "secrets", verb, ""})
		}
		if !slices.Contains(boundRoles(t, objs), "ClusterRole gitops-reverser-secrets-reader") {
			t.Error("gitops-reverser-secrets-reader is not bound to the ServiceAccount")
		}
	}
	sortGrants(want)
	if diff := cmp.Diff(want, filter(grants(t, objs), onSecrets)); diff != "" {
		t.Errorf("grants on Secrets (-want +got):\n%s", diff)
	}
	for _, g := range grants(t, objs) {
		if g.Group == "*" || g.Resource == "*" || g.Verb == "*" {
			t.Errorf("wildcard grant %s", g)
		}
	}
}

// --- What each value does -------------------------------------------------------------------

func deploymentOf(t *testing.T, objs []*unstructured.Unstructured) (d *unstructured.Unstructured, spec, c map[string]any) {
	t.Helper()
	d = find(t, objs, "Deployment", "gitops-reverser")
	spec = podSpec(t, d)
	return d, spec, container(t, spec)
}

func stringsOf(t *testing.T, v any) []string {
	t.Helper()
	items, _ := v.([]any)
	out := make([]string, 0, len(items))
	for _, i := range items {
		s, ok := i.(string)
		if !ok {
			t.Fatalf("%v is not a string", i)
		}
		out = append(out, s)
	}
	return out
}

// mountOf returns the volume mounted at path in container c and the volume itself.
func mountOf(t *testing.T, spec, c map[string]any, path string) (mount, volume map[string]any) {
	t.Helper()
	mounts, _ := c["volumeMounts"].([]any)
	for _, m := range mounts {
		mm := m.(map[string]any)
		if mm["mountPath"] != path {
			continue
		}
		vols, _ := spec["volumes"].([]any)
		for _, v := range vols {
			if vm := v.(map[string]any); vm["name"] == mm["name"] {
				return mm, vm
			}
		}
		t.Fatalf("mount %s names no volume %v", path, mm["name"])
	}
	t.Fatalf("nothing mounted at %s: %v", path, mounts)
	return nil, nil
}

func TestChartPodValues(t *testing.T) {
	d, spec, c := deploymentOf(t, renderChart(t, everything))
	wantArgs := []string{"run", "--leader-elect", "--log-format=text", "--log-level=debug", "--resync-interval=1h",
		"--resync-schedule=0 3 * * *", "--discovery-interval=1m", "--cache-dir=/var/cache/gitops-reverser",
		"--webhook-cert-dir=/etc/gitops-reverser/webhook-tls", "--webhook-client-ca=/etc/webhook-client-ca/ca.crt",
		"--author-email-domain=example.com"}
	if diff := cmp.Diff(wantArgs, stringsOf(t, c["args"])); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
	tests := []struct {
		name string
		got  any
		want string
	}{
		{"image", c["image"], "ghcr.io/gitops-reverser/gitops-reverser:v1.2.3"},
		{"pull policy", c["imagePullPolicy"], "IfNotPresent"},
		{"pull secrets", spec["imagePullSecrets"], "[map[name:registry-credentials]]"},
		{"resources", c["resources"], "map[limits:map[memory:2Gi] requests:map[cpu:100m memory:1Gi]]"},
		{"env", c["env"], "[map[name:POD_NAMESPACE valueFrom:map[fieldRef:map[fieldPath:metadata.namespace]]] " +
			"map[name:GOMEMLIMIT valueFrom:map[resourceFieldRef:map[resource:limits.memory]]] " +
			"map[name:GITOPS_REVERSER_WEBHOOK_CACHE_SIZE value:20000]]"},
		{"nodeSelector", spec["nodeSelector"], "map[kubernetes.io/os:linux]"},
		{"tolerations", spec["tolerations"], "[map[effect:NoSchedule key:dedicated operator:Equal value:gitops]]"},
		{"affinity", spec["affinity"], "map[nodeAffinity:map[requiredDuringSchedulingIgnoredDuringExecution:map[nodeSelectorTerms:[map[matchExpressions:[map[key:kubernetes.io/arch operator:In values:[amd64 arm64]]]]]]]]"},
		{"priorityClassName", spec["priorityClassName"], "gitops-reverser-test"},
		{"pod annotation", d.Object["spec"].(map[string]any)["template"].(map[string]any)["metadata"].(map[string]any)["annotations"], "map[example.com/owner:platform]"},
	}
	for _, tc := range tests {
		if got := fmt.Sprint(tc.got); got != tc.want {
			t.Errorf("%s = %s, want %s", tc.name, got, tc.want)
		}
	}
	podLabels, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "labels")
	if podLabels["example.com/team"] != "platform" || podLabels["app.kubernetes.io/component"] != "controller" {
		t.Errorf("pod labels %v: want podLabels beside the chart's", podLabels)
	}

	t.Run("digest replaces the tag", func(t *testing.T) {
		const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		_, _, c := deploymentOf(t, renderChart(t, "image: {tag: v1.2.3, digest: "+digest+"}"))
		if got, want := c["image"], "ghcr.io/gitops-reverser/gitops-reverser@"+digest; got != want {
			t.Errorf("image = %v, want %s", got, want)
		}
	})
	t.Run("GOMEMLIMIT and leader election off", func(t *testing.T) {
		objs := renderChart(t, "goMemLimitFromMemoryLimit: false\nleaderElection: {enabled: false}\nextraEnv: [{name: GOMEMLIMIT, value: 900MiB}]")
		_, _, c := deploymentOf(t, objs)
		if got := fmt.Sprint(c["env"]); got != "[map[name:POD_NAMESPACE valueFrom:map[fieldRef:map[fieldPath:metadata.namespace]]] map[name:GOMEMLIMIT value:900MiB]]" {
			t.Errorf("env = %s, want POD_NAMESPACE and the given GOMEMLIMIT", got)
		}
		if args := stringsOf(t, c["args"]); slices.Contains(args, "--leader-elect") {
			t.Errorf("args %v: --leader-elect with leaderElection.enabled false", args)
		}
		for _, g := range grants(t, objs) {
			if g.Resource == "leases" {
				t.Errorf("%s without leader election", g)
			}
		}
	})
	t.Run("replicas", func(t *testing.T) {
		d, _, _ := deploymentOf(t, renderChart(t, "replicaCount: 0"))
		if got := fmt.Sprint(d.Object["spec"].(map[string]any)["replicas"]); got != "0" {
			t.Errorf("replicas = %s, want 0", got)
		}
	})
}

// TestChartWebhookCertificates: by default the controller makes its own certificate (no
// --webhook-cert-dir, no Certificate, no CA injection). With cert-manager, the webhook
// configuration asks the CA injector for the CA of the Certificate the chart makes, and the
// Secret that Certificate is issued into is mounted where --webhook-cert-dir points.
func TestChartWebhookCertificates(t *testing.T) {
	t.Run("self-signed by the controller", func(t *testing.T) {
		objs := renderChart(t, "")
		_, _, c := deploymentOf(t, objs)
		for _, a := range stringsOf(t, c["args"]) {
			if strings.HasPrefix(a, "--webhook-cert-dir") {
				t.Errorf("arg %s: the default is the controller's own certificate", a)
			}
		}
		if a := find(t, objs, "ValidatingWebhookConfiguration", "gitops-reverser").GetAnnotations(); len(a) > 0 {
			t.Errorf("webhook annotations %v, want none", a)
		}
		if len(ofKind(objs, "Certificate", "Issuer")) > 0 {
			t.Error("cert-manager objects without webhook.certManager.enabled")
		}
	})
	for _, tc := range []struct{ name, values, issuer string }{
		{"cert-manager, self-signed issuer", "webhook: {certManager: {enabled: true}}", "map[group:cert-manager.io kind:Issuer name:gitops-reverser-selfsigned]"},
		{"cert-manager, own issuer", "webhook: {certManager: {enabled: true, issuerRef: {name: company-ca, kind: ClusterIssuer}}}", "map[kind:ClusterIssuer name:company-ca]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := renderChart(t, tc.values)
			cert := ofKind(objs, "Certificate")
			if len(cert) != 1 {
				t.Fatalf("%d Certificates, want 1", len(cert))
			}
			vwc := find(t, objs, "ValidatingWebhookConfiguration", "gitops-reverser")
			if got, want := vwc.GetAnnotations()["cert-manager.io/inject-ca-from"], cert[0].GetNamespace()+"/"+cert[0].GetName(); got != want {
				t.Errorf("cert-manager.io/inject-ca-from = %q, want %q", got, want)
			}
			issuer, _, _ := unstructured.NestedMap(cert[0].Object, "spec", "issuerRef")
			if got := fmt.Sprint(issuer); got != tc.issuer {
				t.Errorf("issuerRef = %s, want %s", got, tc.issuer)
			}
			if tc.issuer == fmt.Sprint(map[string]any{"group": "cert-manager.io", "kind": "Issuer", "name": "gitops-reverser-selfsigned"}) {
				iss := find(t, objs, "Issuer", "gitops-reverser-selfsigned")
				if iss.GetNamespace() != cert[0].GetNamespace() {
					t.Errorf("Issuer in %q, Certificate in %q", iss.GetNamespace(), cert[0].GetNamespace())
				}
			}
			// The serving certificate names the Service the API server calls.
			svc := webhookField(t, vwc.Object, "clientConfig", "service", "name") + "." +
				webhookField(t, vwc.Object, "clientConfig", "service", "namespace") + ".svc"
			dns, _, _ := unstructured.NestedStringSlice(cert[0].Object, "spec", "dnsNames")
			if !slices.Contains(dns, svc) {
				t.Errorf("dnsNames %v lack %s", dns, svc)
			}
			// --webhook-cert-dir is the mount of the Certificate's Secret, with tls.crt and tls.key.
			_, spec, c := deploymentOf(t, objs)
			var dir string
			for _, a := range stringsOf(t, c["args"]) {
				if v, ok := strings.CutPrefix(a, "--webhook-cert-dir="); ok {
					dir = v
				}
			}
			if dir == "" {
				t.Fatalf("no --webhook-cert-dir in %v", c["args"])
			}
			mount, vol := mountOf(t, spec, c, dir)
			secretName, _, _ := unstructured.NestedString(cert[0].Object, "spec", "secretName")
			if got, _, _ := unstructured.NestedString(vol, "secret", "secretName"); got != secretName {
				t.Errorf("%s mounts Secret %q, the Certificate is issued into %q", dir, got, secretName)
			}
			if mount["readOnly"] != true {
				t.Errorf("%s is not mounted read-only", dir)
			}
			items, _, _ := unstructured.NestedSlice(vol, "secret", "items")
			if got := fmt.Sprint(items); got != "[map[key:tls.crt path:tls.crt] map[key:tls.key path:tls.key]]" {
				t.Errorf("Secret items %s, want tls.crt and tls.key", got)
			}
		})
	}
}

// TestChartWebhookClientCA: --webhook-client-ca points at ca.crt of a volume made from the
// named Secret or ConfigMap, from the key the values give.
func TestChartWebhookClientCA(t *testing.T) {
	for _, tc := range []struct{ name, values, source string }{
		{"Secret", "webhook: {clientCA: {secretName: apiserver-webhook-client-ca}}", "secret:map[items:[map[key:ca.crt path:ca.crt]] secretName:apiserver-webhook-client-ca]"},
		{"ConfigMap", "webhook: {clientCA: {configMapName: apiserver-webhook-client-ca, key: ca.pem}}", "configMap:map[items:[map[key:ca.pem path:ca.crt]] name:apiserver-webhook-client-ca]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, spec, c := deploymentOf(t, renderChart(t, tc.values))
			var file string
			for _, a := range stringsOf(t, c["args"]) {
				if v, ok := strings.CutPrefix(a, "--webhook-client-ca="); ok {
					file = v
				}
			}
			if filepath.Base(file) != "ca.crt" {
				t.Fatalf("--webhook-client-ca=%q, want a ca.crt", file)
			}
			_, vol := mountOf(t, spec, c, filepath.Dir(file))
			delete(vol, "name")
			var got []string
			for k, v := range vol {
				got = append(got, fmt.Sprintf("%s:%v", k, v))
			}
			if diff := cmp.Diff([]string{tc.source}, got); diff != "" {
				t.Errorf("volume (-want +got):\n%s", diff)
			}
		})
	}
}

// TestChartWebhookNetworkPolicy: the chart's NetworkPolicy is the component's, with the
// apiserver CIDRs from the values.
func TestChartWebhookNetworkPolicy(t *testing.T) {
	objs := renderChart(t, "webhook: {networkPolicy: {enabled: true, apiserverCIDRs: [10.0.0.0/24, \"fd00:10::/64\"]}}")
	np := find(t, objs, "NetworkPolicy", "gitops-reverser-webhook").Object
	ingress, _, _ := unstructured.NestedSlice(np, "spec", "ingress")
	want := "[map[from:[map[ipBlock:map[cidr:10.0.0.0/24]] map[ipBlock:map[cidr:fd00:10::/64]]] ports:[map[port:webhook protocol:TCP]]] map[ports:[map[port:metrics protocol:TCP] map[port:health protocol:TCP]]]]"
	if got := fmt.Sprint(ingress); got != want {
		t.Errorf("ingress:\n%s\nwant:\n%s", got, want)
	}
	// The same policy as deploy/components/webhook-networkpolicy apart from the CIDRs.
	comp := find(t, renderOverlay(t, "resources:\n  - {{deploy}}\ncomponents:\n  - {{deploy}}/components/webhook-networkpolicy\n"),
		"NetworkPolicy", "gitops-reverser-webhook").Object
	for _, m := range []map[string]any{np, comp} {
		unstructured.RemoveNestedField(m, "metadata", "labels")
		unstructured.RemoveNestedField(m, "spec", "podSelector")
		ing := m["spec"].(map[string]any)["ingress"].([]any)
		ing[0].(map[string]any)["from"] = nil
	}
	if diff := cmp.Diff(comp, np); diff != "" {
		t.Errorf("NetworkPolicy (-component +chart):\n%s", diff)
	}
}

// TestChartServiceMonitor: it scrapes the metrics Service's metrics port at /metrics.
func TestChartServiceMonitor(t *testing.T) {
	objs := renderChart(t, "metrics: {serviceMonitor: {enabled: true, interval: 30s, labels: {release: prometheus}}}")
	sm := find(t, objs, "ServiceMonitor", "gitops-reverser")
	if sm.GetLabels()["release"] != "prometheus" {
		t.Errorf("labels %v lack release=prometheus", sm.GetLabels())
	}
	eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if got := fmt.Sprint(eps); got != "[map[interval:30s path:/metrics port:metrics scheme:http]]" {
		t.Errorf("endpoints %s", got)
	}
	ports, _, _ := unstructured.NestedSlice(find(t, objs, "Service", "gitops-reverser-metrics").Object, "spec", "ports")
	if ports[0].(map[string]any)["name"] != "metrics" {
		t.Errorf("metrics Service ports %v lack metrics", ports)
	}
	assertSelectorsMatchPods(t, objs)
}

func TestChartPodDisruptionBudget(t *testing.T) {
	for _, tc := range []struct{ values, want string }{
		{"podDisruptionBudget: {enabled: true}", "map[maxUnavailable:1]"},
		{"podDisruptionBudget: {enabled: true, minAvailable: 1}", "map[minAvailable:1]"},
		{"podDisruptionBudget: {enabled: true, maxUnavailable: 50%}", "map[maxUnavailable:50%]"},
		{"podDisruptionBudget: {enabled: true, minAvailable: 0}", "map[minAvailable:0]"},
	} {
		spec := find(t, renderChart(t, tc.values), "PodDisruptionBudget", "gitops-reverser").Object["spec"].(map[string]any)
		delete(spec, "selector")
		if got := fmt.Sprint(spec); got != tc.want {
			t.Errorf("%s: spec %s, want %s", tc.values, got, tc.want)
		}
	}
}

// TestChartAnotherReleaseAndNamespace: a release not named gitops-reverser names every object
// after itself and tells the controller the names it cannot derive (webhook configuration,
// webhook Service, Lease, age identity); its RBAC, installed for real, lets its ServiceAccount
// do exactly its own work. The namespace moves everywhere, subjects and webhook included.
func TestChartAnotherReleaseAndNamespace(t *testing.T) {
	const ns, name = "platform-git", "platform-gitops-reverser"
	r := release{name: "platform", namespace: "helm-releases", values: "namespace: {name: " + ns + "}"}
	objs := r.render(t)
	for _, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" && !strings.HasPrefix(o.GetName(), name) && o.GetName() != ns {
			t.Errorf("%s: not named after the release", id(o))
		}
		if o.GetNamespace() != "" && o.GetNamespace() != ns {
			t.Errorf("%s: want namespace %q", id(o), ns)
		}
	}
	find(t, objs, "Namespace", ns)
	vwc := find(t, objs, "ValidatingWebhookConfiguration", name)
	svc := webhookField(t, vwc.Object, "clientConfig", "service", "name")
	if got := webhookField(t, vwc.Object, "clientConfig", "service", "namespace"); got != ns {
		t.Errorf("webhook Service namespace %q, want %q", got, ns)
	}
	find(t, objs, "Service", svc)
	for _, b := range bindings(t, objs) {
		for _, s := range b.subjects {
			if s.Kind != "ServiceAccount" || s.Namespace != ns || s.Name != name {
				t.Errorf("%s: subject %s %s/%s", b.id, s.Kind, s.Namespace, s.Name)
			}
		}
	}
	d := find(t, objs, "Deployment", name)
	args := stringsOf(t, container(t, podSpec(t, d))["args"])
	for _, want := range []string{"--webhook-config-name=" + vwc.GetName(), "--webhook-service=" + svc,
		"--leader-election-id=" + name, "--age-identity-secret=" + name + "-age-identity"} {
		if !slices.Contains(args, want) {
			t.Errorf("args %v lack %s", args, want)
		}
	}
	assertLintClean(t, r)

	s := chartServer(t)
	s.createNamespaces(t, objs)
	assertAdmitted(t, s, objs)
	for _, o := range ofKind(objs, "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding") {
		s.create(t, o)
	}
	t.Cleanup(func() {
		s.Delete(t, yamlOf(t, ofKind(objs, "ClusterRole", "ClusterRoleBinding")))
	})
	user := "system:serviceaccount:" + ns + ":" + name
	checks := []struct {
		name  string
		attrs authorizationv1.ResourceAttributes
		want  bool
	}{
		{"get a Secret by name", ra("get", "", "secrets", "", "team-a", "git-credentials"), true},
		{"list Secrets", ra("list", "", "secrets", "", "team-a", ""), false},
		{"patch its webhook configuration", ra("patch", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", "", name), true},
		{"patch the default release's webhook configuration", ra("patch", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", "", "gitops-reverser"), false},
		{"renew its Lease", ra("update", "coordination.k8s.io", "leases", "", ns, name), true},
		{"renew the default release's Lease", ra("update", "coordination.k8s.io", "leases", "", ns, "gitops-reverser"), false},
		{"create its age identity", ra("create", "", "secrets", "", ns, ""), true},
		{"create a Secret elsewhere", ra("create", "", "secrets", "", "gitops-reverser", ""), false},
	}
	// The authorizer reads RBAC through its own informers: give it a moment to see the bindings.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if allowedFor(t, s, user, ns, checks[0].attrs) && allowedFor(t, s, user, ns, checks[4].attrs) {
			break
		}
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if got := allowedFor(t, s, user, ns, c.attrs); got != c.want {
				t.Errorf("allowed = %v, want %v", got, c.want)
			}
		})
	}

	t.Run("release namespace", func(t *testing.T) {
		r := release{name: "gitops-reverser", namespace: "team-x", values: "namespace: {name: \"\", create: false}"}
		objs := r.render(t)
		if len(ofKind(objs, "Namespace")) != 0 {
			t.Error("a Namespace with namespace.create false")
		}
		for _, o := range objs {
			if o.GetNamespace() != "" && o.GetNamespace() != "team-x" {
				t.Errorf("%s: want the release namespace team-x", id(o))
			}
		}
		if got := webhookField(t, find(t, objs, "ValidatingWebhookConfiguration", "gitops-reverser").Object, "clientConfig", "service", "namespace"); got != "team-x" {
			t.Errorf("webhook Service namespace %q", got)
		}
		s.Namespace(t, "team-x")
		assertAdmitted(t, s, objs)
	})
}

// allowedFor asks the API server whether the ServiceAccount user of namespace may do attrs.
func allowedFor(t *testing.T, s *server, user, namespace string, attrs authorizationv1.ResourceAttributes) bool {
	t.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               user,
		Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
		ResourceAttributes: &attrs,
	}}
	got, err := s.Kube.AuthorizationV1().SubjectAccessReviews().Create(t.Context(), sar, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("SubjectAccessReview: %v", err)
	}
	return got.Status.Allowed
}

// --- values.schema.json -------------------------------------------------------------------

// TestChartRefusesWrongValues: each wrong value is refused before anything is rendered, with
// a message that names the value and says what is wrong; `helm lint` refuses it too.
func TestChartRefusesWrongValues(t *testing.T) {
	tests := []struct {
		name   string
		values string
		want   []string // all in the message
	}{
		{"negative replica count", "replicaCount: -1", []string{"/replicaCount", "minimum: got -1, want 0"}},
		{"two replicas", "replicaCount: 2", []string{"/replicaCount", "maximum: got 2, want 1"}},
		{"replica count as text", "replicaCount: one", []string{"/replicaCount", "got string, want integer"}},
		{"unknown log format", "logFormat: yaml", []string{"/logFormat", "'json'", "'text'"}},
		{"unknown log level", "logLevel: trace", []string{"/logLevel", "'debug'", "'info'", "'warn'", "'error'"}},
		{"resync interval in words", "resyncInterval: 10 minutes", []string{"/resyncInterval", "'10 minutes' does not match pattern"}},
		{"negative resync interval", "resyncInterval: -5m", []string{"/resyncInterval", "does not match pattern"}},
		{"resync interval without unit", "resyncInterval: 10", []string{"/resyncInterval", "got number, want string"}},
		{"resync interval without unit, quoted", `resyncInterval: "10"`, []string{"/resyncInterval", "does not match pattern"}},
		{"zero discovery interval", "discoveryInterval: 0s", []string{"/discoveryInterval", "'0s' does not match pattern"}},
		{"misspelt value", "replicas: 1", []string{"additional properties 'replicas' not allowed"}},
		{"misspelt nested value", "webhook: {certmanager: {enabled: true}}", []string{"/webhook", "additional properties 'certmanager' not allowed"}},
		{"NetworkPolicy without CIDRs", "webhook: {networkPolicy: {enabled: true}}", []string{"/webhook/networkPolicy/apiserverCIDRs", "minItems: got 0, want 1"}},
		{"NetworkPolicy with an address, not a CIDR", "webhook: {networkPolicy: {enabled: true, apiserverCIDRs: [10.0.0.1]}}", []string{"/webhook/networkPolicy/apiserverCIDRs/0", "does not match pattern"}},
		{"client CA from both a Secret and a ConfigMap", "webhook: {clientCA: {secretName: a, configMapName: b}}", []string{"/webhook/clientCA/configMapName", "value must be ''"}},
		{"issuerRef without a name", "webhook: {certManager: {enabled: true, issuerRef: {kind: ClusterIssuer}}}", []string{"/webhook/certManager/issuerRef", "missing property 'name'"}},
		{"PDB minAvailable in words", "podDisruptionBudget: {enabled: true, minAvailable: half}", []string{"/podDisruptionBudget/minAvailable", "'half' does not match pattern"}},
		{"image digest that is a tag", "image: {digest: v1.2.3}", []string{"/image/digest", "does not match pattern"}},
		{"memory request that is no quantity", "resources: {requests: {memory: lots}}", []string{"/resources/requests/memory", "does not match pattern"}},
		{"ServiceMonitor interval in Go syntax", "metrics: {serviceMonitor: {enabled: true, interval: 1m30.5s}}", []string{"/metrics/serviceMonitor/interval", "does not match pattern"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := release{values: tc.values}.tryRender(t)
			if err == nil {
				t.Fatalf("%q rendered", tc.values)
			}
			msg := err.Error()
			if !strings.Contains(msg, "values don't meet the specifications of the schema") {
				t.Errorf("not refused by the schema: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
			res := lintChart(t, release{values: tc.values})
			if len(res.Errors) == 0 || !strings.Contains(fmt.Sprint(res.Errors), tc.want[0]) {
				t.Errorf("helm lint: %v, want an error about %s", res.Errors, tc.want[0])
			}
		})
	}
	t.Run("GOMEMLIMIT given twice", func(t *testing.T) {
		_, _, err := release{values: "extraEnv: [{name: GOMEMLIMIT, value: 1GiB}]"}.tryRender(t)
		if err == nil || !strings.Contains(err.Error(), "set goMemLimitFromMemoryLimit=false") {
			t.Errorf("got %v, want the hint to turn goMemLimitFromMemoryLimit off", err)
		}
	})
}

// TestChartDurationsAreGoDurations: resyncInterval takes exactly the unsigned durations Go's
// time.ParseDuration reads (what --resync-interval parses), and discoveryInterval those above 0.
func TestChartDurationsAreGoDurations(t *testing.T) {
	for _, v := range []string{"0", "0s", "10m", "1h30m", "1.5h", ".5s", "1.s", "300ms", "10us", "10µs", "2h45m30.5s",
		"", "10", "10 m", "10min", "1d", "-1s", "+1s", "1e3s", "h", "s10", "1h 30m", "0x10s"} {
		d, perr := time.ParseDuration(v)
		goOK := perr == nil && d >= 0 && !strings.HasPrefix(v, "+")
		_, _, err := release{values: fmt.Sprintf("resyncInterval: %q\ndiscoveryInterval: %q", v, v)}.tryRender(t)
		resyncOK := err == nil || !strings.Contains(err.Error(), "/resyncInterval")
		discoveryOK := err == nil || !strings.Contains(err.Error(), "/discoveryInterval")
		if resyncOK != goOK {
			t.Errorf("resyncInterval %q: schema accepts %v, Go %v (%v)", v, resyncOK, goOK, err)
		}
		if want := goOK && d > 0; discoveryOK != want {
			t.Errorf("discoveryInterval %q: schema accepts %v, want %v (%v)", v, discoveryOK, want, err)
		}
	}
}

// TestChartNotes: the install notes name the rollout to wait for.
func TestChartNotes(t *testing.T) {
	_, notes, err := release{}.tryRender(t)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(notes, "kubectl -n gitops-reverser rollout status deployment/gitops-reverser") {
		t.Errorf("notes:\n%s", notes)
	}
}

// TestReadmeHelmInstall: the README's install section gives `helm install gitops-reverser
// charts/gitops-reverser` beside `kubectl apply -k deploy/`, and the --set values it shows
// render together, lint clean and are admitted.
func TestReadmeHelmInstall(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(kubetest.Root(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start, end := strings.Index(readme, "\n## Install in a cluster\n"), strings.Index(readme, "\n## Your first commit")
	if start < 0 || end < start {
		t.Fatal("README has no install section")
	}
	section := readme[start:end]
	for _, want := range []string{"\nkubectl apply -k deploy/\n", "\nhelm install gitops-reverser charts/gitops-reverser\n"} {
		if !strings.Contains(section, want) {
			t.Errorf("the install section lacks %q", strings.TrimSpace(want))
		}
	}
	vals := map[string]any{}
	sets := regexp.MustCompile("--set (?:'([^']+)'|([^\\s`']+))").FindAllStringSubmatch(section, -1)
	if len(sets) < 5 {
		t.Fatalf("%d --set examples in the install section, want at least 5", len(sets))
	}
	for _, m := range sets {
		if err := strvals.ParseInto(m[1]+m[2], vals); err != nil {
			t.Fatalf("--set %s%s: %v", m[1], m[2], err)
		}
	}
	values, err := yaml.Marshal(vals)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("values of the README's --set examples:\n%s", values)
	r := release{values: string(values)}
	objs := r.render(t)
	assertLintClean(t, r)
	s := chartServer(t)
	s.createNamespaces(t, objs)
	assertAdmitted(t, s, objs)
}
