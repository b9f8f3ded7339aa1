package secrets

import (
	"encoding/base64"
	"errors"
	"flag"
	"os"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestEncryptGolden pins the layout `sops` writes: clear metadata in input order, ENC values
// under data and stringData only, the sops block last with one age entry per recipient.
func TestEncryptGolden(t *testing.T) {
	f := newFixture(t)
	got := mask(mustEncrypt(t, f.enc, renderSecret(t, nil)), f)

	const golden = "testdata/secret.sops.yaml"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("encrypted layout (-want +got):\n%s", diff)
	}
}

func TestEncryptLayout(t *testing.T) {
	f := newFixture(t)
	plain := renderSecret(t, nil)
	out := mustEncrypt(t, f.enc, plain)

	wantKeys := []string{"apiVersion", "kind", "metadata", "data", "stringData", "type", "sops"}
	if diff := cmp.Diff(wantKeys, topLevelKeys(t, out)); diff != "" {
		t.Errorf("top-level keys (-want +got):\n%s", diff)
	}

	in, got := parseMap(t, plain), parseMap(t, out)
	for _, k := range []string{"apiVersion", "kind", "metadata", "type"} {
		if diff := cmp.Diff(in[k], got[k]); diff != "" {
			t.Errorf("%s is not in clear (-plain +file):\n%s", k, diff)
		}
	}
	for _, section := range []string{"data", "stringData"} {
		values, _ := got[section].(map[string]any)
		if len(values) == 0 {
			t.Errorf("%s: no values in the file", section)
		}
		for k, v := range values {
			s, _ := v.(string)
			if !encValue.MatchString(s) || encValue.FindString(s) != s {
				t.Errorf("%s.%s = %q, want one ENC[AES256_GCM,…] value", section, k, s)
			}
		}
	}

	meta, _ := got["sops"].(map[string]any)
	if meta["encrypted_regex"] != EncryptedRegex {
		t.Errorf("sops.encrypted_regex = %v, want %q", meta["encrypted_regex"], EncryptedRegex)
	}
	want := []string{f.user1.Recipient().String(), f.user2.Recipient().String(), f.own.Recipient().String()}
	if diff := cmp.Diff(want, ageRecipients(t, meta)); diff != "" {
		t.Errorf("sops.age recipients (-want +got):\n%s", diff)
	}
}

func ageRecipients(t *testing.T, meta map[string]any) []string {
	t.Helper()
	entries, _ := meta["age"].([]any)
	var out []string
	for _, e := range entries {
		m, _ := e.(map[string]any)
		r, _ := m["recipient"].(string)
		enc, _ := m["enc"].(string)
		if !strings.Contains(enc, "BEGIN AGE ENCRYPTED FILE") {
			t.Errorf("age entry for %s has no encrypted data key", r)
		}
		out = append(out, r)
	}
	return out
}

// TestEncryptHidesValues: no secret value appears in the file, neither as the Secret holds it
// (base64 under data) nor decoded nor base64-encoded.
func TestEncryptHidesValues(t *testing.T) {
	f := newFixture(t)
	plain := renderSecret(t, nil)
	out := string(mustEncrypt(t, f.enc, plain))

	in := parseMap(t, plain)
	var leaks []string
	for _, section := range []string{"data", "stringData"} {
		for _, v := range in[section].(map[string]any) {
			s := v.(string)
			if len(s) < 12 {
				continue // a short value may occur in random ciphertext by chance
			}
			leaks = append(leaks, s, base64.StdEncoding.EncodeToString([]byte(s)))
			if dec, err := base64.StdEncoding.DecodeString(s); err == nil {
				leaks = append(leaks, string(dec))
			}
		}
	}
	// Every value in the fixture contains this marker; its base64 prefix catches encodings.
	leaks = append(leaks, "PLAINTEXT", base64.StdEncoding.EncodeToString([]byte("PLAINTEXT"))[:12])
	for _, l := range leaks {
		if strings.Contains(out, l) {
			t.Errorf("the encrypted file contains %q:\n%s", l, out)
		}
	}
}

// TestEncryptDecryptsWithEachRecipient decrypts with the public sops API the way `sops -d`
// and Flux do, holding one identity at a time.
func TestEncryptDecryptsWithEachRecipient(t *testing.T) {
	f := newFixture(t)
	plain := renderSecret(t, nil)
	out := mustEncrypt(t, f.enc, plain)

	tests := []struct {
		name    string
		id      string
		wantErr bool
	}{
		{name: "first destination recipient", id: "user1"},
		{name: "second destination recipient", id: "user2"},
		{name: "controller", id: "own"},
		{name: "outsider", id: "outsider", wantErr: true},
	}
	ids := map[string]*age.X25519Identity{"user1": f.user1, "user2": f.user2, "own": f.own, "outsider": newIdentity(t)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sopsDecrypt(t, out, ids[tt.id])
			if tt.wantErr {
				if err == nil {
					t.Fatalf("decrypted without a recipient's key:\n%s", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("decrypt: %v", err)
			}
			if diff := cmp.Diff(parseMap(t, plain), parseMap(t, got)); diff != "" {
				t.Errorf("decrypted (-plain +got):\n%s", diff)
			}
		})
	}
}

func TestEncryptIsFreshEachTime(t *testing.T) {
	f := newFixture(t)
	plain := renderSecret(t, nil)
	if string(mustEncrypt(t, f.enc, plain)) == string(mustEncrypt(t, f.enc, plain)) {
		t.Fatal("two encryptions are byte-equal; Current is what keeps unchanged Secrets out of commits")
	}
}

func TestEncryptRejectsInvalidPlaintext(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		plain string
	}{
		{name: "not yaml", plain: "PLAINTEXT: [unclosed\n"},
		{name: "two documents", plain: "kind: Secret\ndata: {a: UExBSU5URVhU}\n---\nkind: Secret\n"},
		{name: "already encrypted", plain: string(mustEncrypt(t, f.enc, renderSecret(t, nil)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.enc.Encrypt([]byte(tt.plain))
			if !errors.Is(err, ErrInvalidPlaintext) {
				t.Fatalf("err = %v, want ErrInvalidPlaintext", err)
			}
			if strings.Contains(err.Error(), "PLAINTEXT") || strings.Contains(err.Error(), "UExBSU5URVhU") {
				t.Errorf("error quotes the input: %v", err)
			}
		})
	}
}

func TestNewEncrypter(t *testing.T) {
	own, user := newIdentity(t), newIdentity(t)
	userKey, ownKey := user.Recipient().String(), own.Recipient().String()
	tests := []struct {
		name           string
		recipients     []string
		wantErr        error
		wantInMessage  []string
		forbidden      string
		wantRecipients []string
	}{
		{
			name:          "not a key",
			recipients:    []string{userKey, "not-a-key"},
			wantErr:       ErrInvalidRecipient,
			wantInMessage: []string{"ageRecipients[1]", `"not-a-key"`},
		},
		{
			name:          "ssh key",
			recipients:    []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample"},
			wantErr:       ErrInvalidRecipient,
			wantInMessage: []string{"ageRecipients[0]", "X25519"},
		},
		{
			name:          "secret key pasted",
			recipients:    []string{user.String()},
			wantErr:       ErrInvalidRecipient,
			wantInMessage: []string{"ageRecipients[0]", "public key"},
			forbidden:     user.String(),
		},
		{name: "none", recipients: nil, wantErr: ErrNoRecipients},
		{
			name:           "duplicates and the controller's own key collapse",
			recipients:     []string{" " + userKey + "\n", userKey, ownKey},
			wantRecipients: []string{userKey, ownKey},
		},
		{
			name:           "controller last",
			recipients:     []string{userKey},
			wantRecipients: []string{userKey, ownKey},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := NewEncrypter(tt.recipients, own)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("NewEncrypter: %v", err)
				}
				if diff := cmp.Diff(tt.wantRecipients, e.recipients); diff != "" {
					t.Errorf("recipients (-want +got):\n%s", diff)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			for _, s := range tt.wantInMessage {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not name %q", err, s)
				}
			}
			if tt.forbidden != "" && strings.Contains(err.Error(), tt.forbidden) {
				t.Errorf("error repeats secret material: %v", err)
			}
		})
	}
}

func TestNewEncrypterNeedsIdentity(t *testing.T) {
	if _, err := NewEncrypter([]string{newIdentity(t).Recipient().String()}, nil); err == nil {
		t.Fatal("NewEncrypter accepted a nil controller identity")
	}
}

// Guard against the fixture drifting: the tests above rely on both sections being present.
func TestFixtureHasBothSections(t *testing.T) {
	keys := topLevelKeys(t, renderSecret(t, nil))
	for _, k := range []string{"data", "stringData"} {
		if !slices.Contains(keys, k) {
			t.Fatalf("rendered fixture has no %s: %v", k, keys)
		}
	}
}
