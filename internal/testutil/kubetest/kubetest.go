// Package kubetest starts a real control plane (kube-apiserver and etcd from bin/, built by
// `make testbin`) for tests, with the project's CRDs installed.
package kubetest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// Root is the repository root, found from this file's location.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// Env is a running control plane.
type Env struct {
	env    *envtest.Environment
	Config *rest.Config
}

// Start starts kube-apiserver and etcd and installs the CRDs in deploy/crds.
func Start() (*Env, error) { return StartWith(nil) }

// StartWith is Start with extra kube-apiserver flags (name without dashes -> value), such as
// an admission-control-config-file.
func StartWith(apiserverFlags map[string]string) (*Env, error) {
	ctrllog.SetLogger(logr.Discard()) // envtest logs through controller-runtime; nothing to say
	bin := filepath.Join(Root(), "bin")
	if _, err := os.Stat(filepath.Join(bin, "kube-apiserver")); err != nil {
		return nil, fmt.Errorf("kube-apiserver not built (run make testbin): %w", err)
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: bin,
		CRDDirectoryPaths:     []string{filepath.Join(Root(), "deploy", "crds")},
		ErrorIfCRDPathMissing: true,
	}
	for k, v := range apiserverFlags {
		env.ControlPlane.GetAPIServer().Configure().Set(k, v)
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("start control plane: %w", err)
	}
	return &Env{env: env, Config: cfg}, nil
}

// WriteKubeconfig writes an admin kubeconfig for the control plane, with namespace as its
// context's default, as a user would have one.
func (e *Env) WriteKubeconfig(path, namespace string) error {
	return writeKubeconfig(e.Config, path, namespace)
}

// Stop stops the control plane.
func (e *Env) Stop() error { return e.env.Stop() }

// Main runs a test binary's tests against one shared control plane (and the living cluster,
// when a test asked for it): call it from TestMain.
func Main(m *testing.M, env **Env) {
	e, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*env = e
	code := m.Run()
	if living != nil {
		if err := living.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop living cluster:", err)
		}
	}
	if err := e.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop control plane:", err)
	}
	os.Exit(code)
}
