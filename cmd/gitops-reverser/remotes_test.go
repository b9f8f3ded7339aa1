package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

// secretYAML is a credentials Secret with the given keys (values base64-encoded here).
func secretYAML(ns, name string, data map[string][]byte) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Secret\nmetadata: {name: " + name + ", namespace: " + ns + "}\ndata:\n")
	for k, v := range data {
		b.WriteString("  " + k + ": " + base64.StdEncoding.EncodeToString(v) + "\n")
	}
	return b.String()
}

// assertNoLeak fails when any secret value shows in the controller's logs or in a status.
func assertNoLeak(t *testing.T, c *kubetest.Client, logs string, ns string, values ...string) {
	t.Helper()
	l, err := c.Dynamic.Resource(v1alpha1.GitDestinations).Namespace(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var statuses strings.Builder
	for _, u := range l.Items {
		fmt.Fprintf(&statuses, "%v\n", u.Object["status"])
	}
	events, err := c.Kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		statuses.WriteString(e.Message + "\n")
	}
	for _, v := range values {
		if v == "" {
			continue
		}
		for where, text := range map[string]string{"logs": logs, "status or events": statuses.String()} {
			if strings.Contains(text, v) {
				t.Errorf("a credential (%.6s…) appears in the %s", v, where)
			}
		}
	}
}

func TestRunSSHRemotes(t *testing.T) {
	c := kubetest.NewClient(t, env.Config)
	const ns = "remote-ssh"
	c.Namespace(t, ns)
	remote := gitserver.NewBare(t, "main")
	srv := remote.ServeSSH(t)
	const passphrase = "correct horse battery staple"
	key, pub := gitserver.GenerateSSHKey(t, passphrase)
	srv.Authorize(t, pub)
	_, otherHost := gitserver.GenerateSSHKey(t, "")

	apply(t, c, secretYAML(ns, "ssh-flux", map[string][]byte{"identity": key, "password": []byte(passphrase), "known_hosts": srv.KnownHosts})+
		"---\n"+secretYAML(ns, "ssh-kubernetes", map[string][]byte{"ssh-privatekey": srv.ClientKey, "known_hosts": srv.KnownHosts})+
		"---\n"+secretYAML(ns, "ssh-wrong-host", map[string][]byte{"identity": srv.ClientKey, "known_hosts": srv.KnownHostsFor(otherHost)})+
		"---\n"+secretYAML(ns, "ssh-no-known-hosts", map[string][]byte{"sshPrivateKey": srv.ClientKey}))
	apply(t, c, destinationYAML(ns, "flux", srv.URL, "  commitWindow: 0s\n  baseFolder: flux\n  secretRef: {name: ssh-flux}\n")+"---\n"+
		destinationYAML(ns, "kubernetes", srv.URL, "  commitWindow: 0s\n  baseFolder: kubernetes\n  secretRef: {name: ssh-kubernetes}\n")+"---\n"+
		destinationYAML(ns, "wrong-host", srv.URL, "  secretRef: {name: ssh-wrong-host}\n")+"---\n"+
		destinationYAML(ns, "no-known-hosts", srv.URL, "  secretRef: {name: ssh-no-known-hosts}\n"))
	for _, d := range []string{"flux", "kubernetes", "wrong-host", "no-known-hosts"} {
		apply(t, c, watchRule(ns, d, d, "configmaps"))
	}
	p := startController(t)
	c.Create(t, configMap(ns, "app", "v: \"1\""))
	for _, base := range []string{"flux", "kubernetes"} {
		waitFile(t, remote, base+"/"+ns+"/configmaps/app.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: "+ns+"\ndata:\n  v: \"1\"\n")
	}
	waitReady(t, c, v1alpha1.GitDestinations, types.NamespacedName{Namespace: ns, Name: "wrong-host"}, metav1.ConditionFalse, v1alpha1.ReasonAuthenticationFailed)
	st := waitReady(t, c, v1alpha1.GitDestinations, types.NamespacedName{Namespace: ns, Name: "no-known-hosts"}, metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec)
	if msg := fmt.Sprint(st["conditions"]); !strings.Contains(msg, "known_hosts") {
		t.Errorf("missing known_hosts is not named in the status: %s", msg)
	}
	assertNoLeak(t, c, p.logs.String(), ns, passphrase, string(key[40:80]), string(srv.ClientKey[40:80]))
}

func TestRunHTTPSRemoteAndRotatedSecret(t *testing.T) {
	c := kubetest.NewClient(t, env.Config)
	const ns = "remote-https"
	c.Namespace(t, ns)
	remote := gitserver.NewBare(t, "main")
	url, ca := remote.ServeHTTPS(t, "robot", "token-new-42")
	const oldToken = "token-old-17"
	creds := func(token string) string {
		return secretYAML(ns, "https-creds", map[string][]byte{"username": []byte("robot"), "password": []byte(token), "ca.crt": ca})
	}
	c.Create(t, creds(oldToken))
	apply(t, c, secretYAML(ns, "no-ca", map[string][]byte{"username": []byte("robot"), "password": []byte("token-new-42")}))
	apply(t, c, destinationYAML(ns, "git", url, "  commitWindow: 0s\n  secretRef: {name: https-creds}\n")+"---\n"+
		destinationYAML(ns, "untrusted", url, "  secretRef: {name: no-ca}\n"))
	apply(t, c, watchRule(ns, "git", "git", "configmaps")+"---\n"+watchRule(ns, "untrusted", "untrusted", "configmaps"))
	c.Create(t, configMap(ns, "app", "v: \"1\""))
	p := startController(t, "--discovery-interval", "1s")

	waitReady(t, c, v1alpha1.GitDestinations, types.NamespacedName{Namespace: ns, Name: "git"}, metav1.ConditionFalse, v1alpha1.ReasonAuthenticationFailed)
	waitReady(t, c, v1alpha1.GitDestinations, types.NamespacedName{Namespace: ns, Name: "untrusted"}, metav1.ConditionFalse, v1alpha1.ReasonCertificateInvalid)
	if remote.Head(t, "main") != "" {
		t.Fatalf("a push went through with the wrong password")
	}

	// The token is rotated in the Secret: picked up without a restart.
	c.Update(t, creds("token-new-42"))
	waitFile(t, remote, ns+"/configmaps/app.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: "+ns+"\ndata:\n  v: \"1\"\n")
	waitReady(t, c, v1alpha1.GitDestinations, types.NamespacedName{Namespace: ns, Name: "git"}, metav1.ConditionTrue, v1alpha1.ReasonSynced)
	waitEvent(t, c, ns, "git", "Warning", v1alpha1.ReasonAuthenticationFailed)
	waitEvent(t, c, ns, "git", "Normal", v1alpha1.ReasonSynced)
	assertNoLeak(t, c, p.logs.String(), ns, oldToken, "token-new-42")
}

// waitEvent waits for a Kubernetes Event about a GitDestination.
func waitEvent(t *testing.T, c *kubetest.Client, ns, name, kind, reason string) {
	t.Helper()
	eventually(t, 30*time.Second, kind+" event "+reason, func() (bool, string) {
		events, err := c.Kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, e := range events.Items {
			if e.InvolvedObject.Kind == "GitDestination" && e.InvolvedObject.Name == name && e.Type == kind && e.Reason == reason {
				return true, ""
			}
			seen = append(seen, e.Type+"/"+e.Reason)
		}
		return false, strings.Join(seen, ",")
	})
}

// proxy is a TCP forwarder that can be stopped and started on the same address, to take a
// remote away and bring it back.
type proxy struct {
	addr, target string
	mu           sync.Mutex
	l            net.Listener
	conns        []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{addr: kubetest.FreeAddr(t), target: target}
	p.start(t)
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) start(t *testing.T) {
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.l = l
	p.mu.Unlock()
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", p.target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
}

func (p *proxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != nil {
		p.l.Close()
		p.l = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestRunRemoteDownAndBack(t *testing.T) {
	c := kubetest.NewClient(t, env.Config)
	const ns = "remote-down"
	c.Namespace(t, ns)
	remote := gitserver.NewBare(t, "main")
	url := remote.ServeHTTP(t, "u", "p")
	backend := strings.TrimPrefix(url, "http://")
	backend = backend[:strings.Index(backend, "/")]
	px := newProxy(t, backend)
	apply(t, c, secretYAML(ns, "creds", map[string][]byte{"username": []byte("u"), "password": []byte("p")}))
	apply(t, c, destinationYAML(ns, "git", strings.Replace(url, backend, px.addr, 1), "  commitWindow: 0s\n  secretRef: {name: creds}\n"))
	apply(t, c, watchRule(ns, "cms", "git", "configmaps"))
	c.Create(t, configMap(ns, "steady", "v: \"1\"")+"---\n"+configMap(ns, "doomed", "v: \"1\""))
	startController(t)
	waitFile(t, remote, ns+"/configmaps/doomed.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: doomed\n  namespace: "+ns+"\ndata:\n  v: \"1\"\n")

	px.stop()
	for i := range 30 { // many changes while it is down; only the last state matters
		c.Update(t, configMap(ns, "steady", fmt.Sprintf("v: \"%d\"", i+2)))
	}
	c.Create(t, configMap(ns, "born", "v: \"1\""))
	c.Delete(t, configMap(ns, "doomed", ""))
	waitReady(t, c, v1alpha1.GitDestinations, types.NamespacedName{Namespace: ns, Name: "git"}, metav1.ConditionFalse, v1alpha1.ReasonRemoteUnreachable)
	before := remote.Count(t, "main")

	px.start(t)
	waitFile(t, remote, ns+"/configmaps/steady.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: steady\n  namespace: "+ns+"\ndata:\n  v: \"31\"\n")
	waitFile(t, remote, ns+"/configmaps/doomed.yaml", "")
	waitFile(t, remote, ns+"/configmaps/born.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: born\n  namespace: "+ns+"\ndata:\n  v: \"1\"\n")
	waitReady(t, c, v1alpha1.GitDestinations, types.NamespacedName{Namespace: ns, Name: "git"}, metav1.ConditionTrue, v1alpha1.ReasonSynced)
	if after := remote.Count(t, "main"); after-before > 3 {
		t.Errorf("%d commits after the outage, want at most one per changed object (3): state, not a queue", after-before)
	}
}

func TestRunForeignWriterAndHandEdits(t *testing.T) {
	const ns = "remote-race"
	c, remote := liveSetup(t, ns, "  commitWindow: 0s\n")
	c.Create(t, configMap(ns, "edited", "v: \"1\""))
	startController(t, "--resync-interval", "3s")
	want := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: edited\n  namespace: " + ns + "\ndata:\n  v: \"1\"\n"
	waitFile(t, remote, ns+"/configmaps/edited.yaml", want)

	// Someone edits our file by hand: the resync puts the cluster's content back.
	remote.PushFile(t, "main", ns+"/configmaps/edited.yaml", "hand edit\n", "manual tweak")
	waitFile(t, remote, ns+"/configmaps/edited.yaml", want)

	// Another writer pushes while we do: all of their commits and all of ours land.
	var foreign []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 15 {
			foreign = append(foreign, remote.PushFile(t, "main", fmt.Sprintf("notes/%02d.md", i), "note\n", "notes"))
		}
	}()
	for i := range 15 {
		c.Create(t, configMap(ns, fmt.Sprintf("cm-%02d", i), "v: \"1\""))
	}
	<-done
	eventually(t, 60*time.Second, "all objects in Git", func() (bool, string) {
		files := remote.Files(t, "main")
		for i := range 15 {
			if _, ok := files[fmt.Sprintf("%s/configmaps/cm-%02d.yaml", ns, i)]; !ok {
				return false, fmt.Sprintf("cm-%02d missing", i)
			}
		}
		return true, ""
	})
	head := remote.Head(t, "main")
	for _, f := range foreign {
		if !remote.IsAncestor(t, f, head) {
			t.Errorf("foreign commit %s lost", f)
		}
	}
	if n := len(remote.Files(t, "main")); n != 15+15+1 {
		t.Errorf("files = %d, want 31", n)
	}
}

// TestRunSurvivesSIGKILL kills the controller process repeatedly while changes are being pushed,
// corrupts its clone once, and checks that Git converges with no lost or duplicate change.
func TestRunSurvivesSIGKILL(t *testing.T) {
	const ns = "remote-kill"
	c, remote := liveSetup(t, ns, "  commitWindow: 0s\n")
	cache := t.TempDir() + "/cache"
	kc := kubeconfig(t, "default")
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "run", "--kubeconfig", kc, "--cache-dir", cache,
			"--metrics-addr", "0", "--health-addr", "0", "--webhook-addr", "0", "--discovery-interval", "2s")
		cmd.Env = append(os.Environ(), mainEnv+"=1")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	n := 0
	for round := range 4 {
		cmd := start()
		for range 8 {
			c.Create(t, configMap(ns, fmt.Sprintf("cm-%02d", n), "v: \"1\""))
			n++
			time.Sleep(time.Duration(50+round*40) * time.Millisecond)
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if round == 1 { // a clone left broken by the kill is detected and cloned again
			if err := os.WriteFile(cache+"/"+ns+"/git/HEAD", []byte("garbage"), 0o600); err != nil {
				t.Logf("corrupting the clone: %v", err)
			}
		}
	}
	if fi, err := os.Stat(cache); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("cache dir mode = %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	cmd := start()
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	eventually(t, 60*time.Second, "Git equal to the cluster", func() (bool, string) {
		files := remote.Files(t, "main")
		if len(files) != n {
			return false, fmt.Sprintf("%d files, want %d", len(files), n)
		}
		return true, ""
	})
	// No duplicates: every commit but the root changes something.
	log := gitOut(t, remote.Dir, "log", "--format=%H %T %P", "main")
	trees := map[string]string{}
	lines := strings.Split(strings.TrimSpace(log), "\n")
	for _, l := range lines {
		f := strings.Fields(l)
		trees[f[0]] = f[1]
	}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) == 3 && trees[f[2]] == f[1] {
			t.Errorf("commit %s changes nothing (a duplicate)", f[0])
		}
	}
}

// TestSnapshotSCPLikeURL pushes over an scp-like URL (git@host:path), which always means port
// 22, to the real sshd listening there. It needs port 22 on loopback free (CI, as root).
func TestSnapshotSCPLikeURL(t *testing.T) {
	if l, err := net.Listen("tcp", "127.0.0.1:22"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("port 22 is not available for the scp-like URL test: %v", err)
		}
		t.Skipf("port 22 is not available: %v", err)
	} else {
		l.Close()
	}
	c := kubetest.NewClient(t, env.Config)
	const ns = "remote-scp"
	c.Namespace(t, ns)
	c.Create(t, configMap(ns, "app", "v: \"1\""))
	remote := gitserver.NewBare(t, "main")
	srv := remote.ServeSSHOnPort(t, 22)
	user := strings.TrimPrefix(srv.URL[:strings.Index(srv.URL, "@")], "ssh://")
	dir := t.TempDir()
	for p, b := range map[string][]byte{"key": srv.ClientKey, "known_hosts": []byte(strings.Replace(string(srv.KnownHosts), "[127.0.0.1]:22", "127.0.0.1", 1))} {
		if err := os.WriteFile(dir+"/"+p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	url := user + "@127.0.0.1:" + remote.Dir
	cmd := exec.Command(os.Args[0], "snapshot", "--kubeconfig", kubeconfig(t, ns), "--repo", url, "--resources", "configmaps")
	cmd.Env = append(os.Environ(), mainEnv+"=1", "GIT_SSH_KEY_FILE="+dir+"/key", "GIT_KNOWN_HOSTS_FILE="+dir+"/known_hosts")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("snapshot over %s: %v\n%s", url, err, out)
	}
	if _, ok := remote.Files(t, "main")[ns+"/configmaps/app.yaml"]; !ok {
		t.Errorf("file not pushed over the scp-like URL: %v", keys(remote.Files(t, "main")))
	}
}
