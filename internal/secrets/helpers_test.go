package secrets

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/getsops/sops/v3/cmd/sops/formats"
	"github.com/getsops/sops/v3/decrypt"
	yamlv3 "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

func newIdentity(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// fixture holds two destination identities, the controller's, and an Encrypter for them.
type fixture struct {
	user1, user2, own *age.X25519Identity
	enc               *Encrypter
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	f := fixture{user1: newIdentity(t), user2: newIdentity(t), own: newIdentity(t)}
	f.enc = mustEncrypter(t, f.own, f.user1, f.user2)
	return f
}

func mustEncrypter(t *testing.T, own *age.X25519Identity, users ...*age.X25519Identity) *Encrypter {
	t.Helper()
	var recipients []string
	for _, u := range users {
		recipients = append(recipients, u.Recipient().String())
	}
	e, err := NewEncrypter(recipients, own)
	if err != nil {
		t.Fatalf("NewEncrypter: %v", err)
	}
	return e
}

func mustEncrypt(t *testing.T, e *Encrypter, plain []byte) []byte {
	t.Helper()
	out, err := e.Encrypt(plain)
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	return out
}

// renderSecret renders a live Secret from testdata exactly as the controller does before
// calling Encrypt. edit, when not nil, changes the live object first.
func renderSecret(t *testing.T, edit func(obj map[string]any)) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/secret.live.yaml")
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(b, &obj.Object); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(obj.Object)
	}
	plain, err := snapshot.Marshal(snapshot.Sanitize(obj).Object)
	if err != nil {
		t.Fatal(err)
	}
	return plain
}

func parseMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("parse yaml: %v\n%s", err, b)
	}
	return m
}

// topLevelKeys returns the keys of the document's root mapping in file order.
func topLevelKeys(t *testing.T, b []byte) []string {
	t.Helper()
	var doc yamlv3.Node
	if err := yamlv3.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	var keys []string
	for i := 0; i < len(root.Content); i += 2 {
		keys = append(keys, root.Content[i].Value)
	}
	return keys
}

// sopsDecrypt decrypts with the public sops API and the environment sops and Flux read, with
// only id available: no key file, no ~/.config/sops, no SSH keys.
func sopsDecrypt(t *testing.T, file []byte, id *age.X25519Identity) ([]byte, error) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", home)
	for _, v := range []string{"SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY_CMD", "SOPS_AGE_SSH_PRIVATE_KEY_FILE", "SOPS_AGE_SSH_PRIVATE_KEY_CMD"} {
		unsetEnv(t, v)
	}
	t.Setenv("SOPS_AGE_KEY", id.String())
	return decrypt.DataWithFormat(file, formats.Yaml)
}

func unsetEnv(t *testing.T, name string) {
	t.Helper()
	old, ok := os.LookupEnv(name)
	if !ok {
		return
	}
	t.Setenv(name, old) // registers the restore
	if err := os.Unsetenv(name); err != nil {
		t.Fatal(err)
	}
}

var (
	encValue   = regexp.MustCompile(`ENC\[AES256_GCM,data:[A-Za-z0-9+/=]*,iv:[A-Za-z0-9+/=]+,tag:[A-Za-z0-9+/=]+,type:(\w+)\]`)
	ageBlock   = regexp.MustCompile(`(?s)-----BEGIN AGE ENCRYPTED FILE-----.*?-----END AGE ENCRYPTED FILE-----`)
	lastModRow = regexp.MustCompile(`lastmodified: "[^"]+"`)
)

// mask replaces what changes on every run (ciphertexts, generated keys, the time) with
// placeholders so the layout can be compared with a golden file.
func mask(out []byte, f fixture) string {
	s := string(out)
	s = encValue.ReplaceAllString(s, "ENC[AES256_GCM,data:<data>,iv:<iv>,tag:<tag>,type:$1]")
	s = ageBlock.ReplaceAllString(s, "<age-encrypted-data-key>")
	s = lastModRow.ReplaceAllString(s, `lastmodified: "<time>"`)
	return strings.NewReplacer(
		f.user1.Recipient().String(), "<user1-recipient>",
		f.user2.Recipient().String(), "<user2-recipient>",
		f.own.Recipient().String(), "<controller-recipient>",
	).Replace(s)
}
