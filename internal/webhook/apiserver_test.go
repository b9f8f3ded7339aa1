package webhook

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gitops-reverser/gitops-reverser/internal/change"
	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

var env *kubetest.Env

func TestMain(m *testing.M) { kubetest.Main(m, &env) }

const (
	jane = "jane@acme.com"
	bot  = "system:serviceaccount:team:bot"
)

var configMapsResource = discovery.Resource{GVR: configMapsGVR, Kind: "ConfigMap", Namespaced: true}

// uniqueName: envtest runs no namespace controller, so deleted namespaces stay terminating and
// names must not repeat across runs against a reused control plane.
func uniqueName(prefix string) string {
	return prefix + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// liveWebhook is the webhook wired as the controller wires it, out of cluster: a Server on
// loopback with a self-signed CA, and a Configurator pointing the apiserver at its URL.
type liveWebhook struct {
	cache   *Cache
	results *results
	server  *Server
	stop    func()
}

func startLiveWebhook(t *testing.T, kube kubernetes.Interface, exclude string) *liveWebhook {
	t.Helper()
	w := &liveWebhook{cache: NewCache(1000, time.Minute), results: &results{}}
	w.server, w.stop = startServer(t, NewHandler(w.cache, HandlerOptions{Observe: w.results.observe}))
	name := uniqueName("gitops-reverser-test")
	conf := NewConfigurator(slog.New(slog.DiscardHandler), kube, ConfigOptions{Name: name, ExcludeNamespace: exclude, URL: validateURL(w.server), CABundle: w.server.CABundle()})
	if err := conf.SetResources(t.Context(), []discovery.Resource{configMapsResource}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return w
}

// waitCalled writes probe ConfigMaps until the apiserver, which picks up new webhook
// configurations asynchronously, calls the webhook.
func (w *liveWebhook) waitCalled(t *testing.T, kube kubernetes.Interface, ns string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; w.results.count(ResultRecorded) == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatal("the apiserver never called the webhook")
		}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "probe-" + strconv.Itoa(i), Namespace: ns}}
		if _, err := kube.CoreV1().ConfigMaps(ns).Create(t.Context(), cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// allowConfigMaps lets jane and the bot service account write ConfigMaps in ns.
func allowConfigMaps(t *testing.T, kube kubernetes.Interface, ns string) {
	t.Helper()
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "configmap-writer", Namespace: ns},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"*"}}},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "configmap-writers", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects: []rbacv1.Subject{
			{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: jane},
			{Kind: rbacv1.ServiceAccountKind, Name: "bot", Namespace: "team"},
		},
	}
	if _, err := kube.RbacV1().Roles(ns).Create(t.Context(), role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.RbacV1().RoleBindings(ns).Create(t.Context(), binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// as is a clientset that impersonates user.
func as(t *testing.T, user string) kubernetes.Interface {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return kube
}

// readBack is the ConfigMap as the API (and so the watch) has it.
func readBack(t *testing.T, c *kubetest.Client, ns, name string) *unstructured.Unstructured {
	t.Helper()
	obj, err := c.Dynamic.Resource(configMapsGVR).Namespace(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

func TestAPIServerRecordsAuthors(t *testing.T) {
	admin := kubetest.NewClient(t, env.Config)
	ns, excluded := uniqueName("webhook"), uniqueName("webhook-excluded")
	admin.Namespace(t, ns)
	admin.Namespace(t, excluded)
	allowConfigMaps(t, admin.Kube, ns)
	w := startLiveWebhook(t, admin.Kube, excluded)
	w.waitCalled(t, admin.Kube, ns)
	key := func(op change.Op, obj *unstructured.Unstructured) Key {
		return Key{Resource: "configmaps", Namespace: ns, Name: obj.GetName(), Op: op, Hash: mustHash(t, obj)}
	}
	lookup := func(k Key) string {
		u, ok := w.cache.Lookup(k)
		if !ok {
			return "<none>"
		}
		return u
	}

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns, Labels: map[string]string{"team": "shop"}}, Data: map[string]string{"k": "one"}}
	if _, err := as(t, jane).CoreV1().ConfigMaps(ns).Create(t.Context(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	created := readBack(t, admin, ns, "app")

	botCM, err := as(t, bot).CoreV1().ConfigMaps(ns).Get(t.Context(), "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	botCM.Data["k"] = "two"
	if _, err := as(t, bot).CoreV1().ConfigMaps(ns).Update(t.Context(), botCM, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	updated := readBack(t, admin, ns, "app")

	if err := as(t, jane).CoreV1().ConfigMaps(ns).Delete(t.Context(), "app", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	got := map[string]string{
		"create":                   lookup(key(change.Create, created)),
		"create asked again":       lookup(key(change.Create, created)),
		"update":                   lookup(key(change.Update, updated)),
		"delete":                   lookup(Key{Resource: "configmaps", Namespace: ns, Name: "app", Op: change.Delete}),
		"delete with a hash":       lookup(key(change.Delete, updated)),
		"update with the old hash": lookup(key(change.Update, created)),
	}
	want := map[string]string{
		"create":                   jane,
		"create asked again":       jane,
		"update":                   bot,
		"delete":                   jane,
		"delete with a hash":       "<none>",
		"update with the old hash": "<none>",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("usernames by change (-want +got):\n%s", diff)
	}

	t.Run("dry run is not recorded", func(t *testing.T) {
		before := w.cache.Len()
		dry := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dry", Namespace: ns}, Data: map[string]string{"k": "v"}}
		if _, err := as(t, jane).CoreV1().ConfigMaps(ns).Create(t.Context(), dry, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Fatal(err)
		}
		if n := w.results.count(ResultDryRun); n != 1 {
			t.Errorf("webhook saw %d dry-run requests, want 1", n)
		}
		if after := w.cache.Len(); after != before {
			t.Errorf("cache grew from %d to %d entries on a dry run", before, after)
		}
	})

	t.Run("excluded namespace is not sent", func(t *testing.T) {
		before := w.results.count(ResultRecorded)
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "own", Namespace: excluded}}
		if _, err := admin.Kube.CoreV1().ConfigMaps(excluded).Create(t.Context(), cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if after := w.results.count(ResultRecorded); after != before {
			t.Errorf("webhook recorded %d writes in the excluded namespace", after-before)
		}
	})
}

func TestAPIServerWritesSucceedWithWebhookDown(t *testing.T) {
	admin := kubetest.NewClient(t, env.Config)
	ns := uniqueName("webhook-down")
	admin.Namespace(t, ns)
	w := startLiveWebhook(t, admin.Kube, "")
	w.waitCalled(t, admin.Kube, ns)
	w.stop()

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	api := admin.Kube.CoreV1().ConfigMaps(ns)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns}, Data: map[string]string{"k": "one"}}
	out, err := api.Create(ctx, cm, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create with the webhook down: %v", err)
	}
	out.Data["k"] = "two"
	if _, err := api.Update(ctx, out, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update with the webhook down: %v", err)
	}
	if err := api.Delete(ctx, "app", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete with the webhook down: %v", err)
	}
}
