package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/logs"
)

// controllerProc is `gitops-reverser run` running in-process.
type controllerProc struct {
	health, metrics string
	cancel          context.CancelFunc
	done            chan error
	logs            *logs.Buffer
	once            sync.Once
}

// startController runs the controller as a user would, with its flags, until stop or test end,
// and waits until it is ready.
func startController(t *testing.T, extra ...string) *controllerProc {
	t.Helper()
	return startControllerOn(t, env, extra...)
}

// startStandby runs the controller without waiting for it to be ready.
func startStandby(t *testing.T, extra ...string) *controllerProc {
	t.Helper()
	return standbyOn(t, env, extra...)
}

// startControllerOn is startController against another control plane (the living cluster).
func startControllerOn(t *testing.T, e *kubetest.Env, extra ...string) *controllerProc {
	t.Helper()
	p := standbyOn(t, e, extra...)
	eventually(t, 30*time.Second, "controller ready", func() (bool, string) {
		code, body := httpGet("http://" + p.health + "/readyz")
		return code == http.StatusOK, body
	})
	return p
}

func standbyOn(t *testing.T, e *kubetest.Env, extra ...string) *controllerProc {
	t.Helper()
	p := &controllerProc{health: kubetest.FreeAddr(t), metrics: kubetest.FreeAddr(t), done: make(chan error, 1), logs: &logs.Buffer{}}
	cfg := kubeconfigOf(t, e, "default")
	args := append([]string{"run", "--kubeconfig", cfg,
		"--health-addr", p.health, "--metrics-addr", p.metrics,
		"--discovery-interval", "2s", "--cache-dir", t.TempDir(), "--log-level", "debug",
		"--webhook-addr", "0"}, extra...) // tests that need the webhook turn it on
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go func() { p.done <- run(ctx, args, io.Discard, p.logs) }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop ends the controller the way SIGTERM does and waits for its final flush.
func (p *controllerProc) stop(t *testing.T) {
	p.once.Do(func() {
		p.cancel()
		select {
		case err := <-p.done:
			if err != nil {
				t.Errorf("controller: %v", err)
			}
		case <-time.After(60 * time.Second):
			var stacks strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
			t.Errorf("controller did not stop; goroutines:\n%s", stacks.String())
		}
		if t.Failed() {
			t.Logf("controller logs:\n%s", p.logs.String())
		}
	})
}

func httpGet(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		ok, detail := cond()
		if ok {
			return
		}
		last = detail
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; last: %s", what, last)
}

// waitFile waits until path at the remote's main branch has content (absent when content is "").
func waitFile(t *testing.T, r *gitserver.Remote, path, content string) {
	t.Helper()
	eventually(t, 30*time.Second, "file "+path, func() (bool, string) {
		got, ok := r.Files(t, "main")[path]
		if content == "" {
			return !ok, "still there"
		}
		return ok && got == content, got
	})
}

// waitSubject waits until the newest commit has subject.
func waitSubject(t *testing.T, r *gitserver.Remote, subject string) gitserver.Commit {
	t.Helper()
	var c gitserver.Commit
	eventually(t, 30*time.Second, "commit "+subject, func() (bool, string) {
		log := r.Log(t, "main")
		if len(log) == 0 {
			return false, "no commits"
		}
		c = log[0]
		return c.Subject == subject, c.Subject
	})
	return c
}

// ready reads the Ready condition and the status of one of our objects.
func ready(t *testing.T, c *kubetest.Client, gvr schema.GroupVersionResource, name types.NamespacedName) (metav1.Condition, map[string]any) {
	t.Helper()
	var cond metav1.Condition
	obj, err := c.Dynamic.Resource(gvr).Namespace(name.Namespace).Get(context.Background(), name.Name, metav1.GetOptions{})
	if err != nil {
		return cond, nil
	}
	status, _ := obj.Object["status"].(map[string]any)
	conds, _ := status["conditions"].([]any)
	for _, raw := range conds {
		m, _ := raw.(map[string]any)
		if m["type"] == v1alpha1.ConditionReady {
			cond.Status = metav1.ConditionStatus(fmt.Sprint(m["status"]))
			cond.Reason = fmt.Sprint(m["reason"])
			cond.Message = fmt.Sprint(m["message"])
		}
	}
	return cond, status
}

// waitReady waits until the object's Ready condition has status and reason.
func waitReady(t *testing.T, c *kubetest.Client, gvr schema.GroupVersionResource, name types.NamespacedName, status metav1.ConditionStatus, reason string) map[string]any {
	t.Helper()
	var st map[string]any
	eventually(t, 30*time.Second, fmt.Sprintf("%s %s Ready=%s/%s", gvr.Resource, name, status, reason), func() (bool, string) {
		var cond metav1.Condition
		cond, st = ready(t, c, gvr, name)
		return cond.Status == status && cond.Reason == reason, fmt.Sprintf("%+v", cond)
	})
	return st
}
