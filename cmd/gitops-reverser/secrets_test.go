package main

import (
	"encoding/base64"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/getsops/sops/v3/cmd/sops/formats"
	"github.com/getsops/sops/v3/decrypt"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

// sopsDecrypt decrypts a SOPS file the way `sops -d` and Flux do, with the given identity.
func sopsDecrypt(t *testing.T, id *age.X25519Identity, file string) map[string]any {
	t.Helper()
	home := t.TempDir() // no ~/.config/sops keys, no SSH keys: only id can decrypt
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", home)
	for _, v := range []string{"SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY_CMD", "SOPS_AGE_SSH_PRIVATE_KEY_FILE", "SOPS_AGE_SSH_PRIVATE_KEY_CMD"} {
		if old, ok := os.LookupEnv(v); ok { // sops treats a set-but-empty variable as a command
			os.Unsetenv(v)
			t.Cleanup(func() { os.Setenv(v, old) })
		}
	}
	t.Setenv("SOPS_AGE_KEY", id.String())
	plain, err := decrypt.DataWithFormat([]byte(file), formats.Yaml)
	if err != nil {
		t.Fatalf("sops decrypt: %v\n%s", err, file)
	}
	var m map[string]any
	if err := yaml.Unmarshal(plain, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRunEncryptedSecrets(t *testing.T) {
	c := kubetest.NewClient(t, env.Config)
	const ns = "sops"
	c.Namespace(t, ns)
	user, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	remote := gitserver.NewBare(t, "main")
	apply(t, c, destinationYAML(ns, "git", remote.URL, "  commitWindow: 0s\n  encryption:\n    ageRecipients: ["+user.Recipient().String()+"]\n"))
	apply(t, c, destinationYAML(ns, "plain", remote.URL, "  commitWindow: 0s\n  branch: plain\n"))
	apply(t, c, watchRule(ns, "secrets", "git", "secrets")+"---\n"+watchRule(ns, "plain", "plain", "secrets, configmaps"))
	c.Create(t, secretYAML(ns, "db", map[string][]byte{"password": []byte(secretValue)}))
	p := startController(t, "--namespace", ns, "--resync-interval", "1s", "--age-identity-secret", "reverser-age")

	path := ns + "/secrets/db.yaml"
	var file string
	eventually(t, 30*time.Second, "encrypted secret file", func() (bool, string) {
		file = remote.Files(t, "main")[path]
		return file != "", "missing"
	})
	for _, want := range []string{"apiVersion: v1\nkind: Secret\nmetadata:\n", "ENC[AES256_GCM,", "\nsops:\n"} {
		if !strings.Contains(file, want) {
			t.Errorf("file lacks %q:\n%s", want, file)
		}
	}
	if !strings.HasPrefix(file, "apiVersion: v1\nkind: Secret\n") {
		t.Errorf("file does not start with apiVersion and kind in clear:\n%s", file)
	}
	got := sopsDecrypt(t, user, file)
	data, _ := got["data"].(map[string]any)
	if data["password"] != base64.StdEncoding.EncodeToString([]byte(secretValue)) {
		t.Errorf("decrypted data = %v", got["data"])
	}
	assertNoSecret(t, remote)

	// Full resyncs every second: an unchanged Secret is never re-encrypted, so no commit.
	count := remote.Count(t, "main")
	eventually(t, 30*time.Second, "three resyncs", func() (bool, string) {
		_, body := httpGet("http://" + p.metrics + "/metrics")
		for _, l := range strings.Split(body, "\n") {
			if strings.HasPrefix(l, `gitops_reverser_resync_duration_seconds_count{destination="`+ns+`/git"}`) {
				f := strings.Fields(l)
				n, _ := strconv.Atoi(f[len(f)-1])
				return n >= 3, l
			}
		}
		return false, "no resync metric"
	})
	if n := remote.Count(t, "main"); n != count {
		t.Errorf("unchanged Secret re-encrypted: %d commits, want %d", n, count)
	}

	// A changed value is a new commit that decrypts to the new value.
	c.Update(t, secretYAML(ns, "db", map[string][]byte{"password": []byte("rotated-value-7")}))
	waitSubject(t, remote, "[UPDATE] "+path[:len(path)-len(".yaml")])
	got = sopsDecrypt(t, user, remote.Files(t, "main")[path])
	if d, _ := got["data"].(map[string]any); d["password"] != base64.StdEncoding.EncodeToString([]byte("rotated-value-7")) {
		t.Errorf("after rotation, decrypted data = %v", got["data"])
	}

	// The destination without recipients never writes the Secret.
	c.Create(t, configMap(ns, "marker", "v: \"1\""))
	eventually(t, 30*time.Second, "plain branch", func() (bool, string) {
		_, ok := remote.Files(t, "plain")[ns+"/configmaps/marker.yaml"]
		return ok, "not yet"
	})
	if _, ok := remote.Files(t, "plain")[path]; ok {
		t.Errorf("a destination without encryption wrote the Secret")
	}

	// Invalid recipients are a clear InvalidSpec, not a crash and not plaintext.
	apply(t, c, destinationYAML(ns, "bad-key", remote.URL, "  branch: bad\n  encryption:\n    ageRecipients: [not-an-age-key]\n"))
	waitReady(t, c, v1alpha1.GitDestinations, types.NamespacedName{Namespace: ns, Name: "bad-key"}, metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec)
}

func TestSnapshotEncryptedSecrets(t *testing.T) {
	c := kubetest.NewClient(t, env.Config)
	const ns = "sops-snapshot"
	c.Namespace(t, ns)
	user, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	remote := gitserver.NewBare(t, "main")
	apply(t, c, destinationYAML(ns, "git", remote.URL, "  encryption:\n    ageRecipients: ["+user.Recipient().String()+"]\n"))
	apply(t, c, watchRule(ns, "secrets", "git", "secrets"))
	c.Create(t, secretYAML(ns, "api", map[string][]byte{"token": []byte(secretValue)}))
	args := []string{"snapshot", "--kubeconfig", kubeconfig(t, "default"), "--age-identity-secret", ns + "/reverser-age"}
	for run := range 2 {
		if _, stderr, err := cli(t, args...); err != nil {
			t.Fatalf("snapshot %d: %v\n%s", run, err, stderr)
		}
	}
	if n := remote.Count(t, "main"); n != 1 {
		t.Errorf("second snapshot of an unchanged Secret made a commit: %d commits", n)
	}
	got := sopsDecrypt(t, user, remote.Files(t, "main")[ns+"/secrets/api.yaml"])
	if d, _ := got["data"].(map[string]any); d["token"] != base64.StdEncoding.EncodeToString([]byte(secretValue)) {
		t.Errorf("decrypted data = %v", got["data"])
	}
	assertNoSecret(t, remote)
}
