package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

const (
	jane = "jane@acme.com"
	bot  = "system:serviceaccount:team:bot"
)

// as is a client that acts as user, through impersonation.
func as(t *testing.T, user string) *kubetest.Client { return asOn(t, env, user) }

// webhookFlags turn the webhook on with an out-of-cluster URL and a configuration of the test's
// own, which the controller creates and the test deletes when it ends.
func webhookFlags(t *testing.T, c *kubetest.Client, name, url string) (addr string, flags []string) {
	t.Cleanup(func() {
		c.Delete(t, "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata: {name: "+name+"}\n")
	})
	addr = kubetest.FreeAddr(t)
	if url == "" {
		url = "https://" + addr + "/validate"
	}
	return addr, []string{"--webhook-addr", addr, "--webhook-url", url, "--webhook-config-name", name, "--namespace", "gitops-reverser-system"}
}

func grantUsers(t *testing.T, c *kubetest.Client, name string) {
	apply(t, c, `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: `+name+`}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "`+jane+`"}
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "`+bot+`"}
`)
}

func TestRunWebhookAuthors(t *testing.T) {
	const ns = "authors"
	c, remote := liveSetup(t, ns, "  commitWindow: 2s\n  committer: {name: Cluster Bot, email: bot@cluster.example}\n")
	grantUsers(t, c, "authors-test")
	c.Create(t, configMap(ns, "shared", "v: \"0\""))
	addr, flags := webhookFlags(t, c, "authors-test", "")
	p := startController(t, flags...)
	eventually(t, 30*time.Second, "backfill", func() (bool, string) { return remote.Head(t, "main") != "", "" })
	janeC, botC := as(t, jane), as(t, bot)

	// The configuration asks only for what is watched, and never for the controller's namespace.
	vwc, err := c.Kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(context.Background(), "authors-test", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hook := vwc.Webhooks[0]
	if len(hook.Rules) != 1 || strings.Join(hook.Rules[0].Resources, ",") != "configmaps" ||
		*hook.FailurePolicy != "Ignore" || *hook.SideEffects != "None" || *hook.TimeoutSeconds > 5 ||
		!strings.Contains(hook.NamespaceSelector.String(), "gitops-reverser-system") || len(hook.ClientConfig.CABundle) == 0 {
		t.Errorf("webhook configuration = %+v", hook)
	}

	// Two users inside one window: two commits, each with its own author.
	janeC.Create(t, configMap(ns, "janes", "v: \"1\""))
	botC.Update(t, configMap(ns, "shared", "v: \"2\""))
	eventually(t, 30*time.Second, "both commits", func() (bool, string) {
		return remote.Count(t, "main") >= 3, ""
	})
	log := remote.Log(t, "main")
	byAuthor := map[string]gitserver.Commit{}
	for _, cm := range log[:2] {
		byAuthor[cm.AuthorName] = cm
	}
	for user, want := range map[string]struct{ email, subject string }{
		jane: {jane, "[CREATE] " + ns + "/configmaps/janes"},
		bot:  {"system-serviceaccount-team-bot@cluster.local", "[UPDATE] " + ns + "/configmaps/shared"},
	} {
		cm, ok := byAuthor[user]
		if !ok {
			t.Fatalf("no commit authored by %s in %+v", user, log[:2])
		}
		if cm.AuthorEmail != want.email || cm.Subject != want.subject {
			t.Errorf("%s: author email %q subject %q, want %q %q", user, cm.AuthorEmail, cm.Subject, want.email, want.subject)
		}
		if !strings.Contains(cm.Body, "Kubernetes-User: "+user) {
			t.Errorf("%s: no trailer in %q", user, cm.Body)
		}
		if cm.CommitterName != "Cluster Bot" || cm.CommitterEmail != "bot@cluster.example" {
			t.Errorf("%s: committer %s <%s>, want the destination's", user, cm.CommitterName, cm.CommitterEmail)
		}
	}

	// One user, several changes in a window: one commit.
	janeC.Create(t, configMap(ns, "j1", "v: \"1\"")+"---\n"+configMap(ns, "j2", "v: \"1\""))
	janeC.Delete(t, configMap(ns, "janes", ""))
	c1 := waitSubject(t, remote, "[CHANGE] 3 objects")
	if c1.AuthorName != jane {
		t.Errorf("folded commit author = %q", c1.AuthorName)
	}

	// A dry run is neither attributed nor committed; the next real change is the bot's alone.
	count := remote.Count(t, "main")
	obj := kubetest.Decode(t, configMap(ns, "dry", "v: \"1\""))[0]
	if _, err := janeC.Resource(t, obj).Create(context.Background(), obj, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatal(err)
	}
	botC.Update(t, configMap(ns, "shared", "v: \"3\""))
	cm := waitSubject(t, remote, "[UPDATE] "+ns+"/configmaps/shared")
	if got := remote.Count(t, "main"); got != count+1 || cm.AuthorName != bot {
		t.Errorf("after dry run + bot update: %d commits (want %d), author %q", got, count+1, cm.AuthorName)
	}

	// Malformed requests get 4xx; the process stays healthy and keeps attributing.
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 5 * time.Second}
	for name, req := range map[string]struct{ ct, body string }{
		"bad JSON":     {"application/json", "{not json"},
		"no request":   {"application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`},
		"content type": {"text/plain", `{}`},
		"oversized":    {"application/json", `{"x":"` + strings.Repeat("a", 8<<20) + `"}`},
	} {
		resp, err := insecure.Post("https://"+addr+"/validate", req.ct, bytes.NewBufferString(req.body))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode > 499 {
			t.Errorf("%s: status %d, want 4xx", name, resp.StatusCode)
		}
	}
	if code, _ := httpGet("http://" + p.health + "/healthz"); code != http.StatusOK {
		t.Errorf("healthz after malformed requests: %d", code)
	}
	janeC.Update(t, configMap(ns, "j1", "v: \"2\""))
	if cm := waitSubject(t, remote, "[UPDATE] "+ns+"/configmaps/j1"); cm.AuthorName != jane {
		t.Errorf("after malformed requests, author = %q", cm.AuthorName)
	}
}

func TestRunWebhookUnreachable(t *testing.T) {
	const ns = "authors-down"
	c, remote := liveSetup(t, ns, "  commitWindow: 0s\n")
	grantUsers(t, c, "authors-down-test")
	// The configuration points at an address nobody serves.
	_, flags := webhookFlags(t, c, "authors-down-test", "https://"+kubetest.FreeAddr(t)+"/validate")
	startController(t, flags...)
	eventually(t, 30*time.Second, "webhook configured", func() (bool, string) {
		_, err := c.Kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(context.Background(), "authors-down-test", metav1.GetOptions{})
		return err == nil, "not yet"
	})
	start := time.Now()
	as(t, jane).Create(t, configMap(ns, "still-works", "v: \"1\""))
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("the write waited %v for the unreachable webhook", d)
	}
	cm := waitSubject(t, remote, "[CREATE] "+ns+"/configmaps/still-works")
	if cm.AuthorName != "gitops-reverser" || strings.Contains(cm.Body, "Kubernetes-User") {
		t.Errorf("unknown author must fall back to the committer: %+v", cm)
	}
}
