package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestRunChangesDuringPush: changes of a path whose previous change is being pushed are never
// dropped. Every push takes a second, the window is 0s and the periodic resync is off, so only
// the watch events can bring Git to the cluster: objects created and deleted again, and values
// changed and changed back, all while earlier changes of the same files are in flight.
func TestRunChangesDuringPush(t *testing.T) {
	const ns = "live-inflight"
	c := kubetest.NewClient(t, env.Config)
	c.Namespace(t, ns)
	remote := gitserver.NewBare(t, "main")
	remote.SlowPushes(t, time.Second)
	c.Create(t, configMap(ns, "val", "v: A"))
	apply(t, c, destinationYAML(ns, "git", remote.URL, "  commitWindow: 0s\n"))
	apply(t, c, watchRule(ns, "cms", "git", "configmaps"))
	startController(t, "--resync-interval=0")
	waitFile(t, remote, ns+"/configmaps/val.yaml", configMapFile(ns, "val", "v: A"))

	for i := range 8 {
		x := fmt.Sprintf("x%d", i)
		c.Create(t, configMap(ns, x, "v: \"1\""))
		c.Update(t, configMap(ns, "val", "v: B"))
		time.Sleep(200 * time.Millisecond)
		c.Delete(t, configMap(ns, x, ""))
		c.Update(t, configMap(ns, "val", "v: A"))
		time.Sleep(150 * time.Millisecond)
	}
	want := map[string]string{ns + "/configmaps/val.yaml": configMapFile(ns, "val", "v: A")}
	eventually(t, 60*time.Second, "Git equal to the cluster", func() (bool, string) {
		got := remote.Files(t, "main")
		return fmt.Sprint(got) == fmt.Sprint(want), strings.Join(keys(got), ", ")
	})
	// And it stays so: nothing pending brings an old state back.
	time.Sleep(3 * time.Second)
	if got := remote.Files(t, "main"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("files after the pushes settled: %v", keys(got))
	}
}

func configMapFile(ns, name, data string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  namespace: " + ns + "\ndata:\n  " + data + "\n"
}

func deploymentYAML(ns, name string, replicas int) string {
	return fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: %s, namespace: %s}
spec:
  replicas: %d
  selector: {matchLabels: {app: %s}}
  template:
    metadata: {labels: {app: %s}}
    spec:
      containers: [{name: app, image: "registry.example/app:1"}]
`, name, ns, replicas, name, name)
}

// TestRunAuthorsSurviveControllerWrites: writes that leave the file as it is (a status write
// right after the user's create) never take the change from its user; writes through the scale
// subresource and a Namespace's own create are credited to their users too.
func TestRunAuthorsSurviveControllerWrites(t *testing.T) {
	const ns = "authors-status"
	c := kubetest.NewClient(t, env.Config)
	c.Namespace(t, ns)
	remote := gitserver.NewBare(t, "main")
	grantUsers(t, c, "authors-status")
	apply(t, c, destinationYAML(ns, "git", remote.URL, "  commitWindow: 2s\n"))
	apply(t, c, `
apiVersion: reverser.gitops.dev/v1alpha1
kind: ClusterWatchRule
metadata: {name: authors-status}
spec:
  destinationRef: {name: git, namespace: `+ns+`}
  rules:
  - {apiGroups: [apps], resources: [deployments], scope: Namespaced}
  - {apiGroups: [""], resources: [namespaces], scope: Cluster}
  namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: `+ns+`}}
`)
	t.Cleanup(func() {
		c.Delete(t, "apiVersion: reverser.gitops.dev/v1alpha1\nkind: ClusterWatchRule\nmetadata: {name: authors-status}\n")
	})
	_, flags := webhookFlags(t, c, "authors-status", "")
	startController(t, flags...)
	eventually(t, 30*time.Second, "backfill", func() (bool, string) { return remote.Head(t, "main") != "", "" })
	janeC := as(t, jane)

	// jane creates; at once someone else writes its status, inside the commit window.
	janeC.Create(t, deploymentYAML(ns, "web", 1))
	ctx := context.Background()
	dep, err := c.Kube.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dep.Status = appsv1.DeploymentStatus{ObservedGeneration: dep.Generation, Replicas: 1}
	if _, err := c.Kube.AppsV1().Deployments(ns).UpdateStatus(ctx, dep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	assertAuthor(t, waitSubject(t, remote, "[CREATE] "+ns+"/deployments.apps/web"), jane)

	// kubectl scale goes through the scale subresource.
	if _, err := janeC.Kube.AppsV1().Deployments(ns).UpdateScale(ctx, "web", &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: autoscalingv1.ScaleSpec{Replicas: 3},
	}, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	assertAuthor(t, waitSubject(t, remote, "[UPDATE] "+ns+"/deployments.apps/web"), jane)

	// A Namespace's own create: the request names the namespace, the object has none.
	const other = "authors-status-ns"
	janeC.Create(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: "+other+", labels: {kubernetes.io/metadata.name: "+other+"}}\n")
	t.Cleanup(func() { c.Delete(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: "+other+"}\n") })
	assertAuthor(t, waitSubject(t, remote, "[CREATE] _cluster/namespaces/"+other), jane)
}

// assertAuthor checks that a commit is authored by user with the trailer.
func assertAuthor(t *testing.T, cm gitserver.Commit, user string) {
	t.Helper()
	if cm.AuthorName != user || !strings.Contains(cm.Body, "Kubernetes-User: "+user) {
		t.Errorf("commit %q authored by %q (body %q), want %s", cm.Subject, cm.AuthorName, cm.Body, user)
	}
}

// TestRunCreateDuringResyncPush: an object created while the resync's push deletes its file
// as an orphan is written again. Its create event brings exactly the file the branch held
// before that push, so compared with the old head it would look like no change; the periodic
// resync is off, so only that event can put the file back.
func TestRunCreateDuringResyncPush(t *testing.T) {
	const ns = "live-resync-race"
	c := kubetest.NewClient(t, env.Config)
	c.Namespace(t, ns)
	remote := gitserver.NewBare(t, "main")
	orphan := ns + "/configmaps/x.yaml"
	remote.PushFiles(t, "main", map[string]string{orphan: configMapFile(ns, "x", "v: \"1\"")}, "a file whose object is not there yet")
	pushing := remote.SignalPushes(t, 2*time.Second)
	apply(t, c, destinationYAML(ns, "git", remote.URL, "  commitWindow: 0s\n"))
	apply(t, c, watchRule(ns, "cms", "git", "configmaps"))
	startStandby(t, "--resync-interval=0")
	eventually(t, 30*time.Second, "the first resync's push", func() (bool, string) { return pushing(), "no push yet" })
	c.Create(t, configMap(ns, "x", "v: \"1\""))

	eventually(t, 30*time.Second, "the orphan pruned", func() (bool, string) {
		return remote.Count(t, "main") >= 2, "no resync commit yet"
	})
	waitFile(t, remote, orphan, configMapFile(ns, "x", "v: \"1\""))
	if log := remote.Log(t, "main"); !strings.HasPrefix(log[0].Subject, "[CREATE]") {
		t.Errorf("newest commit %q, want the create after the resync's delete", log[0].Subject)
	}
}
