package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"github.com/gitops-reverser/gitops-reverser/internal/defaulting"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

// The tests here run on the living cluster: kube-controller-manager, kube-scheduler and kwok's
// fake Nodes beside the apiserver, so controllers write right after users do, Pods run and
// go, and namespaces are emptied and removed.

// livingSetup starts (once) the living cluster and, on it, a namespace, a destination "git"
// on a new remote with extra spec lines, the test users, and the controller with its webhook.
func livingSetup(t *testing.T, ns, extra string, docs ...string) (*kubetest.Living, *kubetest.Client, *gitserver.Remote) {
	t.Helper()
	l, err := kubetest.SharedLiving()
	if err != nil {
		t.Fatal(err)
	}
	c := kubetest.NewClient(t, l.Config)
	c.Namespace(t, ns)
	remote := gitserver.NewBare(t, "main")
	grantUsers(t, c, ns)
	apply(t, c, destinationYAML(ns, "git", remote.URL, extra))
	for _, d := range docs {
		apply(t, c, d)
	}
	_, flags := webhookFlags(t, c, ns, "")
	startControllerOn(t, l.Env, flags...)
	eventually(t, 60*time.Second, "backfill", func() (bool, string) { return remote.Head(t, "main") != "", "" })
	return l, c, remote
}

// asOn is a client of the living cluster acting as user.
func asOn(t *testing.T, e *kubetest.Env, user string) *kubetest.Client {
	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	return kubetest.NewClient(t, cfg)
}

func allRule(ns string) string {
	return `
apiVersion: reverser.gitops.dev/v1alpha1
kind: WatchRule
metadata: {name: all, namespace: ` + ns + `}
spec:
  destinationRef: {name: git}
  rules:
  - apiGroups: ["*"]
    resources: ["*"]
`
}

// filesUnder lists the remote's files under dir.
func filesUnder(t *testing.T, r *gitserver.Remote, dir string) []string {
	var out []string
	for p := range r.Files(t, "main") {
		if strings.HasPrefix(p, dir) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// commitsSince are the commits newer than head, newest first.
func commitsSince(t *testing.T, r *gitserver.Remote, head string) []gitserver.Commit {
	var out []gitserver.Commit
	for _, c := range r.Log(t, "main") {
		if c.Hash == head {
			break
		}
		out = append(out, c)
	}
	return out
}

// settled waits until the remote's head has not moved for quiet, and returns it.
func settled(t *testing.T, r *gitserver.Remote, quiet time.Duration) string {
	t.Helper()
	head, since := r.Head(t, "main"), time.Now()
	for time.Since(since) < quiet {
		time.Sleep(250 * time.Millisecond)
		if h := r.Head(t, "main"); h != head {
			head, since = h, time.Now()
		}
	}
	return head
}

// TestLivingWorkloads: what a user creates under a "*" rule on a living cluster is in Git,
// each file by that user, and nothing the controllers make from it; Pods coming and going make
// no commit; a rollout restart and kubectl scale are one commit each, by their user.
func TestLivingWorkloads(t *testing.T) {
	const ns = "living-apps"
	l, c, remote := livingSetup(t, ns, "  commitWindow: 1s\n", allRule(ns))
	janeC := asOn(t, l.Env, jane)
	ctx := context.Background()

	janeC.Create(t, deploymentYAML(ns, "web", 2)+`---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: `+ns+`}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
`+configMap(ns, "web-config", "color: blue")+`---
apiVersion: batch/v1
kind: CronJob
metadata: {name: tick, namespace: `+ns+`}
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: tick, image: "registry.example/tick:1"}]
`)
	// jane's four objects, and the destination and rule the test made (backfilled).
	want := []string{
		ns + "/configmaps/web-config.yaml", ns + "/cronjobs.batch/tick.yaml",
		ns + "/deployments.apps/web.yaml", ns + "/gitdestinations.reverser.gitops.dev/git.yaml",
		ns + "/services/web.yaml", ns + "/watchrules.reverser.gitops.dev/all.yaml",
	}
	eventually(t, 60*time.Second, "the user's objects in Git", func() (bool, string) {
		got := filesUnder(t, remote, ns+"/")
		return slices.Equal(got, want), strings.Join(got, ", ")
	})
	eventually(t, 60*time.Second, "two Pods running", func() (bool, string) {
		d, err := c.Kube.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && d.Status.ReadyReplicas == 2, fmt.Sprint(d.Status)
	})
	replicaSetGolden(t, c, ns)
	// Every change of jane's objects is hers (the test's own destination and rule are not).
	for _, cm := range remote.Log(t, "main") {
		if !strings.HasPrefix(cm.Subject, "reconcile:") && !strings.Contains(cm.Subject, ".reverser.gitops.dev/") {
			assertAuthor(t, cm, jane)
		}
	}

	// A minute of Pod churn, and the CronJob's Jobs: no commit.
	head := settled(t, remote, 3*time.Second)
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Second) {
		pods, err := c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) > 0 {
			if err := c.Kube.CoreV1().Pods(ns).Delete(ctx, pods.Items[0].Name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	jobs, err := c.Kube.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(jobs.Items) == 0 {
		t.Errorf("the CronJob made no Job in a minute (%v): the test saw no controller writes", err)
	}
	settled(t, remote, 2*time.Second)
	if cs := commitsSince(t, remote, head); len(cs) != 0 {
		t.Errorf("commits during Pod churn and Jobs: %v", subjects(cs))
	}
	if got := filesUnder(t, remote, ns+"/"); !slices.Equal(got, want) {
		t.Errorf("files after churn = %v", got)
	}

	// kubectl rollout restart: one commit by jane, whatever the controllers do after it.
	head = remote.Head(t, "main")
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":%q}}}}}`, time.Now().Format(time.RFC3339))
	if _, err := janeC.Kube.AppsV1().Deployments(ns).Patch(ctx, "web", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "rollout done", func() (bool, string) {
		d, err := c.Kube.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && d.Status.ObservedGeneration == d.Generation && d.Status.UpdatedReplicas == 2 &&
			d.Status.Replicas == 2 && d.Status.ReadyReplicas == 2, fmt.Sprint(d.Status)
	})
	assertOneCommitBy(t, remote, head, "[UPDATE] "+ns+"/deployments.apps/web", jane)

	// kubectl scale: through the scale subresource.
	head = remote.Head(t, "main")
	if _, err := janeC.Kube.AppsV1().Deployments(ns).UpdateScale(ctx, "web", &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: autoscalingv1.ScaleSpec{Replicas: 3},
	}, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "three Pods running", func() (bool, string) {
		d, err := c.Kube.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && d.Status.ReadyReplicas == 3, fmt.Sprint(d.Status)
	})
	assertOneCommitBy(t, remote, head, "[UPDATE] "+ns+"/deployments.apps/web", jane)
}

// replicaSetGolden compares the Clean file of the ReplicaSet the Deployment controller made
// for web (an object made by a controller's Update, which owns every default) with its golden
// file, testdata/living/replicaset.yaml (-update rewrites it).
func replicaSetGolden(t *testing.T, c *kubetest.Client, ns string) {
	t.Helper()
	ctx := context.Background()
	rss, err := c.Dynamic.Resource(kubetest.GVR("apps", "v1", "replicasets")).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(rss.Items) != 1 {
		t.Fatalf("the Deployment's ReplicaSets: %v, %v", rss, err)
	}
	v, err := c.Kube.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	d, err := defaulting.ForServer(v.Major, v.Minor, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := snapshot.PlainWith(&rss.Items[0], snapshot.Clean, d)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join(kubetest.Root(), "testdata", "living", "replicaset.yaml")
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("the Clean file of the controller-made ReplicaSet (-golden +got):\n%s", diff)
	}
}

// assertOneCommitBy waits for the remote to settle and checks that exactly one commit, with
// subject and by user, came after head.
func assertOneCommitBy(t *testing.T, r *gitserver.Remote, head, subject, user string) {
	t.Helper()
	eventually(t, 30*time.Second, subject, func() (bool, string) {
		cs := commitsSince(t, r, head)
		return len(cs) > 0, ""
	})
	settled(t, r, 3*time.Second)
	cs := commitsSince(t, r, head)
	if len(cs) != 1 || cs[0].Subject != subject {
		t.Fatalf("commits = %v, want one %q", subjects(cs), subject)
	}
	assertAuthor(t, cs[0], user)
}

func subjects(cs []gitserver.Commit) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Subject + " (" + c.AuthorName + ")"
	}
	return out
}

// TestLivingNamespaceDeleted: deleting a namespace removes every file under it and the
// namespace's own file, and the namespace's create and delete are its user's.
func TestLivingNamespaceDeleted(t *testing.T) {
	const home, ns = "living-ns-home", "living-doomed"
	l, c, remote := livingSetup(t, home, "  commitWindow: 0s\n", `
apiVersion: reverser.gitops.dev/v1alpha1
kind: ClusterWatchRule
metadata: {name: living-doomed}
spec:
  destinationRef: {name: git, namespace: `+home+`}
  rules:
  - {apiGroups: [""], resources: [namespaces], scope: Cluster}
  - {apiGroups: ["*"], resources: ["*"], scope: Namespaced}
  namespaceSelector: {matchLabels: {doomed: "yes"}}
`)
	t.Cleanup(func() {
		c.Delete(t, "apiVersion: reverser.gitops.dev/v1alpha1\nkind: ClusterWatchRule\nmetadata: {name: living-doomed}\n")
	})
	janeC := asOn(t, l.Env, jane)
	janeC.Create(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: "+ns+", labels: {doomed: \"yes\"}}\n")
	assertAuthor(t, waitSubject(t, remote, "[CREATE] _cluster/namespaces/"+ns), jane)
	janeC.Create(t, configMap(ns, "a", "v: \"1\"")+"---\n"+deploymentYAML(ns, "web", 1))
	eventually(t, 60*time.Second, "the namespace's objects", func() (bool, string) {
		got := filesUnder(t, remote, ns+"/")
		return len(got) == 2, strings.Join(got, ", ")
	})

	janeC.Delete(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: "+ns+"}\n")
	eventually(t, 90*time.Second, "namespace and its files gone", func() (bool, string) {
		got := filesUnder(t, remote, ns+"/")
		_, nsFile := remote.Files(t, "main")["_cluster/namespaces/"+ns+".yaml"]
		return len(got) == 0 && !nsFile, strings.Join(got, ", ")
	})
	for _, cm := range remote.Log(t, "main") {
		if cm.Subject == "[DELETE] _cluster/namespaces/"+ns {
			assertAuthor(t, cm, jane)
			return
		}
	}
	t.Errorf("no commit [DELETE] _cluster/namespaces/%s in %v", ns, subjects(remote.Log(t, "main")))
}

// TestLivingVolumeBinding: a claim bound by the volume controller stays its creator's: the
// bind write changes only what the sanitizer removes.
func TestLivingVolumeBinding(t *testing.T) {
	const ns = "living-pvc"
	l, c, remote := livingSetup(t, ns, "  commitWindow: 2s\n", watchRule(ns, "claims", "git", "persistentvolumeclaims"))
	pv := `
apiVersion: v1
kind: PersistentVolume
metadata: {name: living-pv}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  hostPath: {path: /tmp/living-pv}
`
	c.Create(t, pv)
	t.Cleanup(func() { c.Delete(t, pv) })
	head := remote.Head(t, "main")
	asOn(t, l.Env, jane).Create(t, `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: `+ns+`}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  resources: {requests: {storage: 1Gi}}
`)
	eventually(t, 60*time.Second, "claim bound", func() (bool, string) {
		pvc, err := c.Kube.CoreV1().PersistentVolumeClaims(ns).Get(context.Background(), "data", metav1.GetOptions{})
		return err == nil && pvc.Status.Phase == "Bound", fmt.Sprint(pvc.Status)
	})
	assertOneCommitBy(t, remote, head, "[CREATE] "+ns+"/persistentvolumeclaims/data", jane)
	if f := remote.Files(t, "main")[ns+"/persistentvolumeclaims/data.yaml"]; strings.Contains(f, "volumeName") || strings.Contains(f, "pv.kubernetes.io") {
		t.Errorf("the controller's bind leaked into the file:\n%s", f)
	}
}
