package main

import (
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

func TestOwnNamespace(t *testing.T) {
	dir := t.TempDir()
	saFile := filepath.Join(dir, "namespace")
	withNS := func(ns string) clientcmd.ClientConfig {
		c := clientcmdapi.NewConfig()
		c.Clusters["c"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1"}
		c.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", Namespace: ns}
		c.CurrentContext = "c"
		return clientcmd.NewDefaultClientConfig(*c, &clientcmd.ConfigOverrides{})
	}
	tests := []struct {
		name, file, pod, kubeconfig, want string
	}{
		{"service-account file first", "from-file\n", "from-env", "from-kubeconfig", "from-file"},
		{"then POD_NAMESPACE", "", "from-env", "from-kubeconfig", "from-env"},
		{"then the kubeconfig's namespace", "", "", "from-kubeconfig", "from-kubeconfig"},
		{"else default", "", "", "", "default"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(saFile)
			if tc.file != "" {
				if err := os.WriteFile(saFile, []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("POD_NAMESPACE", tc.pod)
			if got := ownNamespace(saFile, withNS(tc.kubeconfig)); got != tc.want {
				t.Errorf("ownNamespace = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRunIdentityNamespaceMissing: a destination that encrypts Secrets needs the controller's
// age identity in the controller's namespace. While that namespace is missing the destination
// says so with its own reason, and it recovers by itself once the namespace exists.
func TestRunIdentityNamespaceMissing(t *testing.T) {
	const ns, own = "live-identity", "live-identity-controller"
	c := kubetest.NewClient(t, env.Config)
	c.Namespace(t, ns)
	user, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	remote := gitserver.NewBare(t, "main")
	apply(t, c, destinationYAML(ns, "git", remote.URL, "  encryption:\n    ageRecipients: ["+user.Recipient().String()+"]\n"))
	apply(t, c, watchRule(ns, "cms", "git", "configmaps"))
	startController(t, "--namespace", own)
	name := types.NamespacedName{Namespace: ns, Name: "git"}
	waitReady(t, c, v1alpha1.GitDestinations, name, metav1.ConditionFalse, v1alpha1.ReasonIdentityUnavailable)
	c.Namespace(t, own)
	waitReady(t, c, v1alpha1.GitDestinations, name, metav1.ConditionTrue, v1alpha1.ReasonSynced)
}
