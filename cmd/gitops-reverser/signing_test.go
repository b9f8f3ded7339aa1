package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"golang.org/x/crypto/ssh"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
)

// sshSigningKey is a new ed25519 key: its OpenSSH private key (encrypted with pass when set)
// and an allowed-signers file that trusts it for every principal.
func sshSigningKey(t *testing.T, pass string) (private []byte, allowedSigners string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if pass == "" {
		block, err = ssh.MarshalPrivateKey(priv, "signing")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "signing", []byte(pass))
	}
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	allowedSigners = filepath.Join(t.TempDir(), "allowed_signers")
	line := `* namespaces="git" ` + string(ssh.MarshalAuthorizedKey(sshPub))
	if err := os.WriteFile(allowedSigners, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block), allowedSigners
}

// openPGPSigningKey is a new OpenPGP key: armored private key encrypted with pass, and a
// GnuPG home holding its public key.
func openPGPSigningKey(t *testing.T, pass string) (armored []byte, gnupgHome string) {
	t.Helper()
	e, err := openpgp.NewEntity("gitops-reverser", "", "gitops-reverser@cluster.local", nil)
	if err != nil {
		t.Fatal(err)
	}
	var pub bytes.Buffer
	w, err := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := e.EncryptPrivateKeys([]byte(pass), nil); err != nil {
		t.Fatal(err)
	}
	var priv bytes.Buffer
	w, err = armor.Encode(&priv, openpgp.PrivateKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SerializePrivateWithoutSigning(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	gnupgHome, err = os.MkdirTemp("", "gnupg") // short: gpg-agent's socket path is limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = exec.Command("gpgconf", "--homedir", gnupgHome, "--kill", "all").Run()
		os.RemoveAll(gnupgHome)
	})
	if err := os.Chmod(gnupgHome, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("gpg", "--batch", "--homedir", gnupgHome, "--import")
	cmd.Stdin = &pub
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gpg --import: %v\n%s", err, out)
	}
	return priv.Bytes(), gnupgHome
}

// verifyAll checks every commit of the branch with git verify-commit.
func verifyAll(t *testing.T, remote *gitserver.Remote, branch string, config, env []string) int {
	t.Helper()
	log := remote.Log(t, branch)
	for _, c := range log {
		if out, err := remote.VerifyCommit(c.Hash, config, env); err != nil {
			t.Errorf("git verify-commit %s (%s): %v\n%s", c.Hash[:12], c.Subject, err, out)
		}
	}
	return len(log)
}

// TestRunSignedCommits: every commit the controller and snapshot make is signed, with an SSH
// key (gpg.format=ssh and an allowed-signers file) or an OpenPGP key (a GnuPG keyring), each
// behind a passphrase; a key that cannot be read makes the destination Ready=False with its
// own reason and nothing is pushed.
func TestRunSignedCommits(t *testing.T) {
	const ns = "signing"
	c, remote := liveSetup(t, ns, "  commitWindow: 0s\n  signing: {secretRef: {name: ssh-key}}\n")
	sshKey, allowed := sshSigningKey(t, "ssh-pass")
	pgpKey, gnupg := openPGPSigningKey(t, "pgp-pass")
	apply(t, c, secretYAML(ns, "ssh-key", map[string][]byte{"identity": sshKey, "passphrase": []byte("ssh-pass")}))
	apply(t, c, secretYAML(ns, "pgp-key", map[string][]byte{"git.asc": pgpKey, "passphrase": []byte("pgp-pass\n")}))
	apply(t, c, secretYAML(ns, "bad-key", map[string][]byte{"identity": []byte("not a key")}))
	pgpRemote, badRemote := gitserver.NewBare(t, "main"), gitserver.NewBare(t, "main")
	apply(t, c, destinationYAML(ns, "pgp", pgpRemote.URL, "  commitWindow: 0s\n  signing: {secretRef: {name: pgp-key}}\n"))
	apply(t, c, destinationYAML(ns, "bad", badRemote.URL, "  signing: {secretRef: {name: bad-key}}\n"))
	apply(t, c, watchRule(ns, "pgp-cms", "pgp", "configmaps")+"---\n"+watchRule(ns, "bad-cms", "bad", "configmaps"))
	c.Create(t, configMap(ns, "before", "v: \"1\""))
	startController(t)
	c.Create(t, configMap(ns, "after", "v: \"1\""))
	c.Update(t, configMap(ns, "before", "v: \"2\""))
	for name, r := range map[string]*gitserver.Remote{"git": remote, "pgp": pgpRemote} {
		eventually(t, 30*time.Second, name+": the changes pushed", func() (bool, string) {
			_, st := ready(t, c, v1alpha1.GitDestinations, types.NamespacedName{Namespace: ns, Name: name})
			return r.Count(t, "main") >= 3, conditionMessage(st)
		})
	}
	sshConfig := []string{"gpg.format=ssh", "gpg.ssh.allowedSignersFile=" + allowed}
	if n := verifyAll(t, remote, "main", sshConfig, nil); n < 3 {
		t.Errorf("ssh: %d commits verified", n)
	}
	if n := verifyAll(t, pgpRemote, "main", nil, []string{"GNUPGHOME=" + gnupg}); n < 3 {
		t.Errorf("openpgp: %d commits verified", n)
	}
	// The check can fail: the OpenPGP commits do not verify as SSH ones.
	if out, err := remote.VerifyCommit(pgpRemote.Log(t, "main")[0].Hash, sshConfig, nil); err == nil {
		t.Errorf("an OpenPGP commit verified with the SSH allowed signers: %s", out)
	}

	st := waitReady(t, c, v1alpha1.GitDestinations, types.NamespacedName{Namespace: ns, Name: "bad"}, metav1.ConditionFalse, v1alpha1.ReasonSigningKeyInvalid)
	if msg := conditionMessage(st); strings.Contains(msg, "not a key") {
		t.Errorf("the message quotes the Secret: %s", msg)
	}
	if badRemote.Head(t, "main") != "" {
		t.Errorf("a destination whose key cannot be read pushed: %+v", badRemote.Log(t, "main"))
	}

	// snapshot --repo signs with the key in GIT_SIGNING_KEY_FILE.
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, sshKey, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GIT_SIGNING_KEY_FILE", keyFile)
	t.Setenv("GIT_SIGNING_PASSPHRASE", "ssh-pass")
	standalone := gitserver.NewBare(t, "main")
	if _, stderr, err := cli(t, "snapshot", "--kubeconfig", kubeconfig(t, ns), "--repo", standalone.URL, "--resources", "configmaps"); err != nil {
		t.Fatalf("snapshot: %v\n%s", err, stderr)
	}
	if n := verifyAll(t, standalone, "main", sshConfig, nil); n != 1 {
		t.Errorf("snapshot: %d commits verified, want 1", n)
	}
}

func conditionMessage(st map[string]any) string {
	conds, _ := st["conditions"].([]any)
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Ready" {
			s, _ := m["message"].(string)
			return s
		}
	}
	return ""
}
