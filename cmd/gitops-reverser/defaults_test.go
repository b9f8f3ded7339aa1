package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gitops-reverser/gitops-reverser/api/v1alpha1"

	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

// gadgetsCRD is a custom resource whose schema defaults spec.size to size, and a nested field.
func gadgetsCRD(size string) string {
	return `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.defaults.example.com}
spec:
  group: defaults.example.com
  names: {kind: Gadget, plural: gadgets, singular: gadget, listKind: GadgetList}
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
              colour: {type: string}
              size: {type: string, default: "` + size + `"}
              limits:
                type: object
                default: {}
                properties:
                  cpu: {type: string, default: "1"}
`
}

// TestRunCRDDefaults: a custom resource made by an Update (which owns the defaults its CRD's
// schema filled in) is written without them; a write that only spells out a default makes no
// commit; and when the CRD's default changes, the file follows: the value the object holds is
// no longer the default, so it is written.
func TestRunCRDDefaults(t *testing.T) {
	const ns = "crd-defaults"
	c := kubetest.NewClient(t, env.Config)
	c.Namespace(t, ns)
	apply(t, c, gadgetsCRD("M"))
	gadget := func(extra string) string {
		return "apiVersion: defaults.example.com/v1\nkind: Gadget\nmetadata: {name: g, namespace: " + ns + "}\nspec:\n  colour: red\n" + extra
	}
	eventually(t, 30*time.Second, "the Gadget created", func() (bool, string) {
		obj := kubetest.Decode(t, gadget(""))[0]
		gadgets := c.Dynamic.Resource(kubetest.GVR("defaults.example.com", "v1", "gadgets")).Namespace(ns)
		_, err := gadgets.Create(context.Background(), obj, metav1.CreateOptions{FieldManager: "kubectl-create"})
		return err == nil, fmt.Sprint(err)
	})
	remote := gitserver.NewBare(t, "main")
	apply(t, c, destinationYAML(ns, "git", remote.URL, "  commitWindow: 0s\n")+`---
apiVersion: reverser.gitops.dev/v1alpha1
kind: WatchRule
metadata: {name: gadgets, namespace: `+ns+`}
spec:
  destinationRef: {name: git}
  rules:
  - apiGroups: [defaults.example.com]
    resources: [gadgets]
`)
	startController(t)
	path := ns + "/gadgets.defaults.example.com/g.yaml"
	want := "apiVersion: defaults.example.com/v1\nkind: Gadget\nmetadata:\n  name: g\n  namespace: " + ns + "\nspec:\n  colour: red\n"
	waitFile(t, remote, path, want)
	before := remote.Count(t, "main")

	// An Update that writes the defaults out changes nothing in Git; the next change shows
	// the writer has seen it.
	c.Update(t, gadget("  size: M\n  limits: {cpu: \"1\"}\n"))
	c.Update(t, strings.Replace(gadget(""), "colour: red", "colour: blue", 1))
	waitFile(t, remote, path, strings.Replace(want, "red", "blue", 1))
	if n := remote.Count(t, "main"); n != before+1 {
		t.Errorf("spelling out the defaults, then a change: %d commits, want 1", n-before)
	}

	// The CRD's default moves to L: the Gadget still holds M, which is now the author's.
	c.Update(t, gadgetsCRD("L"))
	waitFile(t, remote, path, strings.Replace(want, "red", "blue", 1)+"  size: M\n")
}

// TestRunFollowsServerVersion: the controller reads the API server's version at every
// refresh. The real API server is reached through a proxy that reports another version on
// /version: while it reports one the compiled defaulting is not exact for (1.33), a Clean
// file keeps the server's defaults and the destination's status says why; once it reports one
// that is covered (an upgrade), every object is rendered again and the defaults go, and the
// status drops the note.
func TestRunFollowsServerVersion(t *testing.T) {
	const ns = "server-version"
	c := kubetest.NewClient(t, env.Config)
	c.Namespace(t, ns)
	proxy := newVersionProxy(t, "33")
	c.Create(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: `+ns+`}
data: {mode: fast}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: `+ns+`}
spec:
  selector: {app: web}
  ports: [{port: 80}]
`)
	remote := gitserver.NewBare(t, "main")
	apply(t, c, destinationYAML(ns, "git", remote.URL, "  commitWindow: 0s\n")+`---
apiVersion: reverser.gitops.dev/v1alpha1
kind: WatchRule
metadata: {name: services, namespace: `+ns+`}
spec:
  destinationRef: {name: git}
  rules:
  - apiGroups: [""]
    resources: [services, configmaps]
`)
	startController(t, "--kubeconfig", proxy.kubeconfig)
	path := ns + "/services/web.yaml"
	eventually(t, 30*time.Second, "the Service written with its defaults", func() (bool, string) {
		got := remote.Files(t, "main")[path]
		return strings.Contains(got, "sessionAffinity: None") && strings.Contains(got, "targetPort: 80"), got
	})
	name := types.NamespacedName{Namespace: ns, Name: "git"}
	eventually(t, 30*time.Second, "the status says Clean keeps the defaults", func() (bool, string) {
		cond, _ := ready(t, c, v1alpha1.GitDestinations, name)
		return cond.Status == metav1.ConditionTrue && strings.Contains(cond.Message, "Clean keeps server defaults: API server version 1.33"), cond.Message
	})

	proxy.minor.Store("37")
	waitFile(t, remote, path, "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: "+ns+"\nspec:\n  ports:\n  - port: 80\n    protocol: TCP\n  selector:\n    app: web\n")
	eventually(t, 30*time.Second, "the status without the note", func() (bool, string) {
		cond, _ := ready(t, c, v1alpha1.GitDestinations, name)
		return cond.Status == metav1.ConditionTrue && !strings.Contains(cond.Message, "defaults"), cond.Message
	})
	if got := remote.Files(t, "main")[ns+"/configmaps/settings.yaml"]; !strings.Contains(got, "mode: fast") {
		t.Errorf("the ConfigMap's file after the upgrade:\n%s", got)
	}

	// kubectl apply (client-side) of the Service's manifest with its defaults spelled out: a
	// real write (the last-applied-configuration annotation, which no file holds, and a new
	// managedFields entry), and no commit. The ConfigMap's change after it shows the writer
	// has seen it.
	before := remote.Count(t, "main")
	services := c.Dynamic.Resource(kubetest.GVR("", "v1", "services")).Namespace(ns)
	svc, err := services.Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(svc.Object, "None", "spec", "sessionAffinity"); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(svc.Object, "ClusterIP", "spec", "type"); err != nil {
		t.Fatal(err)
	}
	svc.SetAnnotations(map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"` + ns + `"},"spec":{"ports":[{"port":80,"protocol":"TCP","targetPort":80}],"selector":{"app":"web"},"sessionAffinity":"None","type":"ClusterIP"}}`})
	updated, err := services.Update(context.Background(), svc, metav1.UpdateOptions{FieldManager: "kubectl-client-side-apply"})
	if err != nil || updated.GetResourceVersion() == svc.GetResourceVersion() {
		t.Fatalf("the Update spelling out defaults was no write: %v", err)
	}
	c.Update(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: "+ns+"}\ndata: {mode: slow}\n")
	eventually(t, 30*time.Second, "the ConfigMap's change", func() (bool, string) {
		got := remote.Files(t, "main")[ns+"/configmaps/settings.yaml"]
		return strings.Contains(got, "mode: slow"), got
	})
	if n := remote.Count(t, "main"); n != before+1 {
		t.Errorf("an Update spelling out the Service's defaults, then a ConfigMap change: %d commits, want 1", n-before)
	}
}

// TestSnapshotUncoveredServer: against an API server whose version the compiled defaulting
// is not exact for (1.33, through the version proxy), snapshot writes Clean files with the
// server's defaults and says why once on stderr, for two destinations; against a covered one
// (1.37) it says nothing and leaves them out.
func TestSnapshotUncoveredServer(t *testing.T) {
	const ns = "uncovered"
	c := kubetest.NewClient(t, env.Config)
	c.Namespace(t, ns)
	c.Create(t, `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: `+ns+`}
spec:
  selector: {app: web}
  ports: [{port: 80}]
`)
	first, second := gitserver.NewBare(t, "main"), gitserver.NewBare(t, "main")
	rules := `  rules:
  - apiGroups: [""]
    resources: [services]
`
	apply(t, c, destinationYAML(ns, "first", first.URL, "")+`---
apiVersion: reverser.gitops.dev/v1alpha1
kind: WatchRule
metadata: {name: first, namespace: `+ns+`}
spec:
  destinationRef: {name: first}
`+rules+"---\n"+destinationYAML(ns, "second", second.URL, "")+`---
apiVersion: reverser.gitops.dev/v1alpha1
kind: WatchRule
metadata: {name: second, namespace: `+ns+`}
spec:
  destinationRef: {name: second}
`+rules)
	proxy := newVersionProxy(t, "33")
	path := ns + "/services/web.yaml"
	_, stderr, err := cli(t, "snapshot", "--kubeconfig", proxy.kubeconfig)
	if err != nil {
		t.Fatalf("snapshot: %v\n%s", err, stderr)
	}
	const note = "Clean keeps server defaults: API server version 1.33, defaulting compiled for 1.34 to 1.37"
	if n := strings.Count(stderr, note); n != 1 {
		t.Errorf("stderr says %d times why Clean keeps the defaults, want once:\n%s", n, stderr)
	}
	for _, r := range []*gitserver.Remote{first, second} {
		if got := r.Files(t, "main")[path]; !strings.Contains(got, "sessionAffinity: None") {
			t.Errorf("against 1.33, the Service's file without its defaults:\n%s", got)
		}
	}

	proxy.minor.Store("37")
	_, stderr, err = cli(t, "snapshot", "--kubeconfig", proxy.kubeconfig)
	if err != nil {
		t.Fatalf("snapshot: %v\n%s", err, stderr)
	}
	if strings.Contains(stderr, "keeps server defaults") {
		t.Errorf("against 1.37, stderr says Clean keeps the defaults:\n%s", stderr)
	}
	for _, r := range []*gitserver.Remote{first, second} {
		if got := r.Files(t, "main")[path]; strings.Contains(got, "sessionAffinity") {
			t.Errorf("against 1.37, the Service's file keeps its defaults:\n%s", got)
		}
	}
}

// versionProxy is the test API server behind a proxy that reports Kubernetes 1.<minor> on
// /version and passes everything else through (watches included) with the server's own
// credentials; kubeconfig reaches it.
type versionProxy struct {
	minor      atomic.Value // string
	kubeconfig string
}

func newVersionProxy(t *testing.T, minor string) *versionProxy {
	t.Helper()
	p := &versionProxy{}
	p.minor.Store(minor)
	target, err := url.Parse(env.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := rest.TransportFor(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	pass := httputil.NewSingleHostReverseProxy(target)
	pass.Transport = rt
	pass.FlushInterval = -1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/version" {
			pass.ServeHTTP(w, r)
			return
		}
		m := p.minor.Load().(string)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(version.Info{Major: "1", Minor: m, GitVersion: "v1." + m + ".0"})
	}))
	t.Cleanup(srv.Close)
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["proxy"] = &clientcmdapi.Cluster{Server: srv.URL}
	cfg.AuthInfos["proxy"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts["proxy"] = &clientcmdapi.Context{Cluster: "proxy", AuthInfo: "proxy", Namespace: "default"}
	cfg.CurrentContext = "proxy"
	p.kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, p.kubeconfig); err != nil {
		t.Fatal(err)
	}
	return p
}
