package main

import (
	"net/http"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

// TestRunFlushesOnStop: a change still inside its commit window is committed when the controller
// is told to stop (SIGTERM), not lost.
func TestRunFlushesOnStop(t *testing.T) {
	const ns = "live-flush"
	c, remote := liveSetup(t, ns, "  commitWindow: 10m\n")
	p := startController(t)
	eventually(t, 30*time.Second, "backfill", func() (bool, string) { return remote.Head(t, "main") != "", "no branch yet" })
	c.Create(t, configMap(ns, "late", "v: \"1\""))
	time.Sleep(time.Second) // let the watch event arrive; the 10m window keeps it pending
	if n := remote.Count(t, "main"); n != 1 {
		t.Fatalf("the change was committed before its window closed: %d commits", n)
	}
	p.stop(t)
	if got := remote.Log(t, "main")[0].Subject; got != "[CREATE] "+ns+"/configmaps/late" {
		t.Errorf("after stop, newest commit = %q, want the pending change", got)
	}
	// The final flush's outcome is on the status.
	if _, st := ready(t, c, v1alpha1.GitDestinations, types.NamespacedName{Namespace: ns, Name: "git"}); st["lastCommit"] != remote.Head(t, "main") {
		t.Errorf("status.lastCommit after the final flush = %v, want %s", st["lastCommit"], remote.Head(t, "main"))
	}
}

// TestRunDestinationsAreIndependent: a failing remote neither blocks nor breaks another destination;
// two rules wanting the same objects keep their files when one rule goes.
func TestRunDestinationsAreIndependent(t *testing.T) {
	c := kubetest.NewClient(t, env.Config)
	const ns = "live-multi"
	c.Namespace(t, ns)
	good := gitserver.NewBare(t, "main")
	apply(t, c, destinationYAML(ns, "good", good.URL, "  commitWindow: 0s\n  baseFolder: a\n"))
	apply(t, c, destinationYAML(ns, "same-repo", good.URL, "  commitWindow: 0s\n  branch: other\n"))
	apply(t, c, destinationYAML(ns, "broken", "http://127.0.0.1:1/nothing.git", "  commitWindow: 0s\n"))
	apply(t, c, watchRule(ns, "to-good", "good", "configmaps"))
	apply(t, c, watchRule(ns, "to-same-repo", "same-repo", "configmaps"))
	apply(t, c, watchRule(ns, "to-broken", "broken", "configmaps"))
	second := watchRule(ns, "to-good-too", "good", "configmaps, services")
	c.Create(t, second)
	startController(t)
	waitReady(t, c, v1alpha1.GitDestinations, types.NamespacedName{Namespace: ns, Name: "broken"}, metav1.ConditionFalse, v1alpha1.ReasonRemoteUnreachable)

	c.Create(t, configMap(ns, "app", "v: \"1\""))
	waitFile(t, good, "a/"+ns+"/configmaps/app.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: "+ns+"\ndata:\n  v: \"1\"\n")
	eventually(t, 30*time.Second, "branch other", func() (bool, string) {
		_, ok := good.Files(t, "other")[ns+"/configmaps/app.yaml"]
		return ok, "not yet"
	})
	waitReady(t, c, v1alpha1.GitDestinations, types.NamespacedName{Namespace: ns, Name: "good"}, metav1.ConditionTrue, v1alpha1.ReasonSynced)

	// One of two rules wanting configmaps goes: the files stay.
	c.Delete(t, second)
	time.Sleep(3 * time.Second) // a discovery interval and a resync
	if _, ok := good.Files(t, "main")["a/"+ns+"/configmaps/app.yaml"]; !ok {
		t.Errorf("file removed although another rule still wants it")
	}
}

// TestRunLeaderElection: a second replica waits; when the leader stops, it releases the Lease
// after its final flush and the standby takes over.
func TestRunLeaderElection(t *testing.T) {
	const ns = "live-leader"
	c, remote := liveSetup(t, ns, "  commitWindow: 0s\n")
	flags := []string{"--leader-elect", "--namespace", ns, "--leader-election-id", "test-lease"}
	a := startController(t, flags...)
	b := startStandby(t, flags...)
	c.Create(t, configMap(ns, "one", "v: \"1\""))
	waitSubject(t, remote, "[CREATE] "+ns+"/configmaps/one")
	if code, _ := httpGet("http://" + b.health + "/readyz"); code == http.StatusOK {
		t.Errorf("standby reports ready while the other replica leads")
	}
	a.stop(t)
	eventually(t, 30*time.Second, "standby takes over", func() (bool, string) {
		code, body := httpGet("http://" + b.health + "/readyz")
		return code == http.StatusOK, body
	})
	c.Create(t, configMap(ns, "two", "v: \"1\""))
	waitSubject(t, remote, "[CREATE] "+ns+"/configmaps/two")
}

// TestRunReplacedDestinationBlocksNoOne: a destination whose spec changes is replaced, and its
// old writer's final flush takes as long as its slow remote needs. Meanwhile the controller goes
// on: a new destination is picked up and backfilled before that flush is done.
func TestRunReplacedDestinationBlocksNoOne(t *testing.T) {
	const ns = "live-noblock"
	c := kubetest.NewClient(t, env.Config)
	c.Namespace(t, ns)
	slow, fast := gitserver.NewBare(t, "main"), gitserver.NewBare(t, "main")
	apply(t, c, destinationYAML(ns, "slow", slow.URL, "  commitWindow: 10m\n"))
	apply(t, c, watchRule(ns, "slow", "slow", "configmaps"))
	startController(t)
	eventually(t, 30*time.Second, "backfill", func() (bool, string) { return slow.Head(t, "main") != "", "" })
	slow.SlowPushes(t, 10*time.Second)
	c.Create(t, configMap(ns, "pending", "v: \"1\""))
	time.Sleep(time.Second) // the event arrives; the 10m window keeps it pending

	c.Update(t, destinationYAML(ns, "slow", slow.URL, "  commitWindow: 9m\n")) // replaced: final flush
	apply(t, c, destinationYAML(ns, "fast", fast.URL, "  commitWindow: 0s\n"))
	apply(t, c, watchRule(ns, "fast", "fast", "configmaps"))
	waitFile(t, fast, ns+"/configmaps/pending.yaml", configMapFile(ns, "pending", "v: \"1\""))
	if _, ok := slow.Files(t, "main")[ns+"/configmaps/pending.yaml"]; ok {
		t.Fatalf("the slow destination's final flush finished first: the test proves nothing")
	}
	eventually(t, 60*time.Second, "the replaced writer's final flush", func() (bool, string) {
		_, ok := slow.Files(t, "main")[ns+"/configmaps/pending.yaml"]
		return ok, "not yet"
	})
}
