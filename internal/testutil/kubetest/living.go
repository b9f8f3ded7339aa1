package kubetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// ControllerManagerUser is the user kube-controller-manager acts as in a living cluster (one
// identity for all its controllers, as --use-service-account-credentials=false gives).
const ControllerManagerUser = "system:kube-controller-manager"

// FakeNodeAnnotation marks the Nodes kwok plays the kubelet for.
const FakeNodeAnnotation = "kwok.x-k8s.io/node"

// Living is a control plane with what makes a cluster live: kube-controller-manager (every
// default controller), kube-scheduler, and kwok running fake Nodes, so Pods are scheduled, run,
// complete and go away, and controllers write right after users do.
type Living struct {
	*Env
	dir   string
	procs []*exec.Cmd
	logs  []*os.File
}

// StartLiving starts a control plane like Start, then the controllers beside it and nodes
// fake Nodes, and waits until the Nodes are Ready and the namespace default has its
// ServiceAccount (the controller-manager's first visible work).
func StartLiving(nodes int) (l *Living, err error) {
	e, err := Start()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "living-")
	if err != nil {
		return nil, errors.Join(err, e.Stop())
	}
	l = &Living{Env: e, dir: dir}
	defer func() {
		if err != nil {
			err = errors.Join(err, l.Stop())
			l = nil
		}
	}()
	if err := l.startComponents(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := l.addNodes(ctx, nodes); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Living) startComponents() error {
	bin := filepath.Join(Root(), "bin")
	certDir := l.env.ControlPlane.APIServer.CertDir
	ca := filepath.Join(l.dir, "ca.crt")
	if err := os.WriteFile(ca, l.Config.CAData, 0o600); err != nil {
		return fmt.Errorf("write CA: %w", err)
	}
	kubeconfig := func(user string) (string, error) {
		u, err := l.env.AddUser(envtest.User{Name: user, Groups: []string{"system:masters"}}, nil)
		if err != nil {
			return "", fmt.Errorf("add user %s: %w", user, err)
		}
		p := filepath.Join(l.dir, strings.NewReplacer(":", "-").Replace(user)+".kubeconfig")
		return p, writeKubeconfig(u.Config(), p, "default")
	}
	kcm, err := kubeconfig(ControllerManagerUser)
	if err != nil {
		return err
	}
	sched, err := kubeconfig("system:kube-scheduler")
	if err != nil {
		return err
	}
	kwok, err := kubeconfig("system:kwok")
	if err != nil {
		return err
	}
	components := []struct {
		name string
		args []string
	}{
		{"kube-controller-manager", []string{
			"--kubeconfig=" + kcm, "--controllers=*", "--leader-elect=false", "--secure-port=0",
			"--service-account-private-key-file=" + filepath.Join(certDir, "sa-signer.key"),
			"--root-ca-file=" + ca, "--use-service-account-credentials=false",
			"--kube-api-qps=200", "--kube-api-burst=400", "--cluster-name=living",
		}},
		{"kube-scheduler", []string{"--kubeconfig=" + sched, "--leader-elect=false", "--secure-port=0"}},
		{"kwok", []string{
			"--kubeconfig=" + kwok, "--config=" + filepath.Join(Root(), "hack", "kwok", "stages.yaml"),
			"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=" + FakeNodeAnnotation + "=fake",
			"--node-ip=10.0.1.1", "--cidr=10.0.2.0/24",
		}},
	}
	for _, c := range components {
		if err := l.start(filepath.Join(bin, c.name), c.args...); err != nil {
			return err
		}
	}
	return nil
}

// start runs one component with its output in a log file beside the kubeconfigs.
func (l *Living) start(path string, args ...string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%s not built (run make testbin): %w", filepath.Base(path), err)
	}
	log, err := os.Create(filepath.Join(l.dir, filepath.Base(path)+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the tests
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start %s: %w", filepath.Base(path), err)
	}
	l.procs = append(l.procs, cmd)
	l.logs = append(l.logs, log)
	return nil
}

// addNodes creates fake Nodes and waits until kwok has made them Ready and the
// controller-manager has made the default ServiceAccount.
func (l *Living) addNodes(ctx context.Context, n int) error {
	kc, err := kubernetes.NewForConfig(l.Config)
	if err != nil {
		return err
	}
	for i := range n {
		name := fmt.Sprintf("kwok-node-%d", i)
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{FakeNodeAnnotation: "fake"},
			Labels:      map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "type": "kwok"},
		}}
		if _, err := kc.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create node %s: %w", name, err)
		}
	}
	for {
		ready, err := l.readyNodes(ctx, kc)
		if err != nil {
			return err
		}
		_, saErr := kc.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		if ready >= n && saErr == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("living cluster not ready (%d of %d nodes ready, default ServiceAccount: %v); logs in %s: %w", ready, n, saErr, l.dir, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
		if err := l.exited(); err != nil {
			return err
		}
	}
}

func (l *Living) readyNodes(ctx context.Context, kc kubernetes.Interface) (int, error) {
	nodes, err := kc.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, fmt.Errorf("list nodes: %w", err)
	}
	ready := 0
	for _, n := range nodes.Items {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	return ready, nil
}

// exited reports a component that has stopped, with the end of its log.
func (l *Living) exited() error {
	for i, p := range l.procs {
		if p.ProcessState != nil || syscall.Kill(p.Process.Pid, 0) != nil {
			b, _ := os.ReadFile(l.logs[i].Name())
			if len(b) > 2000 {
				b = b[len(b)-2000:]
			}
			return fmt.Errorf("%s exited:\n%s", filepath.Base(p.Path), b)
		}
	}
	return nil
}

// Stop stops the components, then the control plane.
func (l *Living) Stop() error {
	var errs []error
	for _, p := range l.procs {
		_ = p.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range l.procs {
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.Process.Kill()
			<-done
		}
	}
	for _, f := range l.logs {
		f.Close()
	}
	if err := os.RemoveAll(l.dir); err != nil {
		errs = append(errs, err)
	}
	if l.Env != nil {
		errs = append(errs, l.Env.Stop())
	}
	return errors.Join(errs...)
}

var (
	livingOnce sync.Once
	living     *Living
	livingErr  error
)

// SharedLiving is one living cluster for a test binary, started on first use (it takes some
// seconds and most tests need none); Main stops it.
func SharedLiving() (*Living, error) {
	livingOnce.Do(func() { living, livingErr = StartLiving(2) })
	return living, livingErr
}

// writeKubeconfig writes a kubeconfig for cfg with namespace as its context's default.
func writeKubeconfig(cfg *rest.Config, path, namespace string) error {
	c := clientcmdapi.NewConfig()
	c.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	c.AuthInfos["user"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	c.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "user", Namespace: namespace}
	c.CurrentContext = "envtest"
	return clientcmd.WriteToFile(*c, path)
}
