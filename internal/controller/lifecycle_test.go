package controller

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"filippo.io/age"
	"go.uber.org/goleak"

	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/logs"
)

var env *kubetest.Env

func TestMain(m *testing.M) { kubetest.Main(m, &env) }

// TestStartStopLeavesNoGoroutine starts and stops the whole controller 20 times, with leader
// election, the webhook, the metrics and health endpoints, a destination that encrypts
// Secrets (the router's queue) and changes in flight, and then finds no goroutine of it left.
func TestStartStopLeavesNoGoroutine(t *testing.T) {
	c := kubetest.NewClient(t, env.Config)
	const ns = "lifecycle"
	c.Namespace(t, ns)
	user, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	remote := gitserver.NewBare(t, "main")
	c.Create(t, fmt.Sprintf(`apiVersion: reverser.gitops.dev/v1alpha1
kind: GitDestination
metadata: {name: git, namespace: %[1]s}
spec:
  url: %[2]s
  commitWindow: 0s
  encryption:
    ageRecipients: [%[3]s]
---
apiVersion: reverser.gitops.dev/v1alpha1
kind: WatchRule
metadata: {name: all, namespace: %[1]s}
spec:
  destinationRef: {name: git}
  rules: [{apiGroups: [""], resources: [configmaps, secrets]}]
`, ns, remote.URL, user.Recipient().String()))
	run := func(i int, until func() bool) {
		health, webhookAddr := kubetest.FreeAddr(t), kubetest.FreeAddr(t)
		o := Options{
			Config: env.Config, DiscoveryInterval: time.Second, ResyncInterval: time.Second,
			MetricsAddr: kubetest.FreeAddr(t), HealthAddr: health,
			LeaderElect: true, LeaderElectionID: "lifecycle", Namespace: ns, Identity: fmt.Sprint("test-", i),
			AgeIdentitySecret: "age", CacheDir: t.TempDir(), AuthorEmailDomain: "cluster.local",
			Webhook: WebhookOptions{Addr: webhookAddr, URL: "https://" + webhookAddr + "/validate", ConfigName: "lifecycle", Service: "lifecycle"},
		}
		var out logs.Buffer
		o.Log = slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
		defer func() {
			if t.Failed() {
				t.Logf("start %d: controller logs:\n%s", i, out.String())
			}
		}()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- Run(ctx, o) }()
		deadline := time.Now().Add(time.Minute)
		for !ready(health) {
			select {
			case err := <-done:
				cancel()
				t.Fatalf("start %d: ended before it was ready: %v", i, err)
			default:
			}
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("start %d: not ready", i)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if until == nil {
			// Changes in flight when the stop comes: a ConfigMap and an encrypted Secret.
			c.Create(t, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%[1]d, namespace: %[2]s}\ndata: {k: v}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s-%[1]d, namespace: %[2]s}\nstringData: {k: v}\n", i, ns))
		}
		for until != nil && !until() && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if until != nil && !until() {
			t.Errorf("start %d: Git did not converge within a minute", i)
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("start %d: %v", i, err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("start %d: did not stop", i)
		}
	}
	run(0, nil) // the first start builds what the process keeps: client-go's shared transports
	keep := goleak.IgnoreCurrent()
	for i := 1; i <= 20; i++ {
		run(i, nil)
	}
	goleak.VerifyNone(t, keep,
		// Idle keep-alive connections of client-go's shared transports, reused by every start.
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
	)
	// Nothing was lost: one more start brings every object into Git.
	missing := func() []string {
		var files map[string]string
		if remote.Head(t, "main") != "" {
			files = remote.Files(t, "main")
		}
		var out []string
		for i := 0; i <= 20; i++ {
			for _, p := range []string{fmt.Sprintf("%s/configmaps/cm-%d.yaml", ns, i), fmt.Sprintf("%s/secrets/s-%d.yaml", ns, i)} {
				if _, ok := files[p]; !ok {
					out = append(out, p)
				}
			}
		}
		return out
	}
	run(21, func() bool { return len(missing()) == 0 })
	if m := missing(); len(m) > 0 {
		t.Errorf("not in Git: %v", m)
	}
}

func ready(addr string) bool {
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
