package snapshot

import (
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitops-reverser/gitops-reverser/internal/defaulting"
)

// live reads a captured live object of testdata/defaults (name.way.in.yaml).
func live(t testing.TB, name, way string) *unstructured.Unstructured {
	t.Helper()
	return readObject(t, filepath.Join(defaultsDir, name+"."+way+".in.yaml"))
}

// ownField adds path (field names) to the field set of the managedFields entry of manager.
func ownField(t *testing.T, obj *unstructured.Unstructured, manager string, path ...string) {
	t.Helper()
	entries, _, _ := unstructured.NestedSlice(obj.Object, "metadata", "managedFields")
	for _, e := range entries {
		m := e.(map[string]any)
		if m["manager"] != manager {
			continue
		}
		node := m["fieldsV1"].(map[string]any)
		for _, p := range path {
			next, ok := node["f:"+p].(map[string]any)
			if !ok {
				next = map[string]any{}
				node["f:"+p] = next
			}
			node = next
		}
		if err := unstructured.SetNestedSlice(obj.Object, entries, "metadata", "managedFields"); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("no managedFields entry of %s", manager)
}

func cleanFile(t *testing.T, obj *unstructured.Unstructured, d *defaulting.Defaulter) string {
	t.Helper()
	b, err := PlainWith(obj, Clean, d)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCleanDefaultsRules pins the rules of withoutDefaults, one a case, on live objects of a
// real API server changed as another client would have made them.
func TestCleanDefaultsRules(t *testing.T) {
	d := testDefaulter(t)
	tests := []struct {
		name       string
		obj        func(t *testing.T) *unstructured.Unstructured
		d          func(t *testing.T) *defaulting.Defaulter // nil: the compiled release's, with the test CRD
		has, lacks []string                                 // lines the file has, and lacks
	}{
		{
			name: "a default an Apply manager names stays",
			obj: func(t *testing.T) *unstructured.Unstructured {
				o := live(t, "deployment", "apply")
				ownField(t, o, "kubectl", "spec", "revisionHistoryLimit")
				return o
			},
			has:   []string{"\n  revisionHistoryLimit: 10\n"},
			lacks: []string{"progressDeadlineSeconds"},
		},
		{
			name: "inside an atomic struct an Apply manager names, defaulting decides",
			obj: func(t *testing.T) *unstructured.Unstructured {
				return live(t, "deployment", "apply") // f:fieldRef: {} holds the defaulted apiVersion
			},
			has:   []string{"fieldRef:\n              fieldPath: status.podIP\n"},
			lacks: []string{"apiVersion: v1"},
		},
		{
			name: "a default an Update manager owns goes: a write that spells it out changes nothing",
			obj: func(t *testing.T) *unstructured.Unstructured {
				return live(t, "deployment", "create")
			},
			lacks: []string{"revisionHistoryLimit", "imagePullPolicy", "terminationMessagePath", "dnsPolicy", "strategy", "securityContext", "resources: {}", "defaultMode", "scheme: HTTP", "apiVersion: v1"},
		},
		{
			name: "a field the typed kind does not know stays",
			obj: func(t *testing.T) *unstructured.Unstructured {
				o := live(t, "deployment", "create")
				if err := unstructured.SetNestedField(o.Object, "x", "spec", "template", "spec", "madeUp"); err != nil {
					t.Fatal(err)
				}
				ownField(t, o, "kubectl-create", "spec", "template", "spec", "madeUp")
				return o
			},
			has: []string{"\n      madeUp: x\n"},
		},
		{
			name:  "a key field of a list item stays",
			obj:   func(t *testing.T) *unstructured.Unstructured { return live(t, "service-clusterip", "create") },
			has:   []string{"protocol: TCP"},
			lacks: []string{"sessionAffinity", "type: ClusterIP", "internalTrafficPolicy", "ipFamilyPolicy"},
		},
		{
			name: "a value that is not the default stays",
			obj: func(t *testing.T) *unstructured.Unstructured {
				o := live(t, "deployment", "create")
				if err := unstructured.SetNestedField(o.Object, int64(3), "spec", "revisionHistoryLimit"); err != nil {
					t.Fatal(err)
				}
				return o
			},
			has: []string{"\n  revisionHistoryLimit: 3\n"},
		},
		{
			name:  "a default a 1.36 server does not apply stays",
			obj:   func(t *testing.T) *unstructured.Unstructured { return live(t, "statefulset", "create") },
			d:     server("1", "36"),
			has:   []string{"updateStrategy:\n    rollingUpdate:\n      maxUnavailable: 1\n"},
			lacks: []string{"partition", "podManagementPolicy", "type: RollingUpdate"},
		},
		{
			name:  "a 1.37 server applies it",
			obj:   func(t *testing.T) *unstructured.Unstructured { return live(t, "statefulset", "create") },
			d:     server("1", "37"),
			lacks: []string{"updateStrategy", "maxUnavailable"},
		},
		{
			name: "against a server version the compiled defaulting does not serve, only unowned fields go",
			obj:  func(t *testing.T) *unstructured.Unstructured { return live(t, "deployment", "create") },
			d:    server("1", "33"),
			has:  []string{"revisionHistoryLimit: 10", "imagePullPolicy: IfNotPresent"},
		},
		{
			name: "a custom resource's nested object default goes, a value beside it stays",
			obj: func(t *testing.T) *unstructured.Unstructured {
				o := live(t, "widget", "create")
				if err := unstructured.SetNestedField(o.Object, "2", "spec", "limits", "cpu"); err != nil {
					t.Fatal(err)
				}
				return o
			},
			has:   []string{"limits:\n    cpu: \"2\"\n"},
			lacks: []string{"memory", "replicas", "paused", "protocol"},
		},
		{
			name: "an empty list an Apply manager names stays",
			obj: func(t *testing.T) *unstructured.Unstructured {
				o := live(t, "widget", "apply")
				if err := unstructured.SetNestedSlice(o.Object, []any{}, "spec", "tags"); err != nil {
					t.Fatal(err)
				}
				return o
			},
			has: []string{"\n  tags: []\n"},
		},
		{
			name: "a custom resource's defaults stay when its CRD is unknown",
			obj:  func(t *testing.T) *unstructured.Unstructured { return live(t, "widget", "create") },
			d:    func(*testing.T) *defaulting.Defaulter { return defaulting.Compiled(nil) },
			has:  []string{"memory: 256Mi", "replicas: 1", "protocol: TCP"},
		},
		{
			// Nothing says who set what: every field counts as an Update's, so what defaulting
			// puts back goes, and what the author wrote stays.
			name: "without managedFields, the Full file less the defaults",
			obj: func(t *testing.T) *unstructured.Unstructured {
				o := live(t, "deployment", "create")
				unstructured.RemoveNestedField(o.Object, "metadata", "managedFields")
				return o
			},
			has:   []string{"replicas: 2", "fieldPath: status.podIP"},
			lacks: []string{"revisionHistoryLimit", "terminationMessagePath"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dd := d
			if tc.d != nil {
				dd = tc.d(t)
			}
			got := cleanFile(t, tc.obj(t), dd)
			for _, s := range tc.has {
				if !strings.Contains(got, s) {
					t.Errorf("file lacks %q:\n%s", s, got)
				}
			}
			for _, s := range tc.lacks {
				if strings.Contains(got, s) {
					t.Errorf("file has %q:\n%s", s, got)
				}
			}
		})
	}
}

// server is the defaulting for a server of major.minor, nil when it is not covered.
func server(major, minor string) func(*testing.T) *defaulting.Defaulter {
	return func(*testing.T) *defaulting.Defaulter {
		d, _ := defaulting.ForServer(major, minor, nil)
		return d
	}
}

// A Namespace's kubernetes.io/metadata.name label is a default (SetDefaults_Namespace): an
// Update owns it, and it goes; the labels an author wrote stay.
func TestCleanNamespaceLabelDefault(t *testing.T) {
	obj := decodeObject(t, []byte(`
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels:
    kubernetes.io/metadata.name: shop
    team: shop
  managedFields:
  - apiVersion: v1
    fieldsType: FieldsV1
    fieldsV1:
      f:metadata:
        f:labels:
          .: {}
          f:kubernetes.io/metadata.name: {}
          f:team: {}
    manager: kubectl-create
    operation: Update
spec:
  finalizers: [kubernetes]
status:
  phase: Active
`))
	got := cleanFile(t, obj, testDefaulter(t))
	want := "apiVersion: v1\nkind: Namespace\nmetadata:\n  labels:\n    team: shop\n  name: shop\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
