package commit

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// TestNewSignerRefusesUnusableKeys: every key that cannot sign is ErrSigningKey, and no
// message quotes the Secret.
func TestNewSignerRefusesUnusableKeys(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("right"))
	if err != nil {
		t.Fatal(err)
	}
	encrypted := pem.EncodeToMemory(block)
	tests := map[string]map[string][]byte{
		"no key":                      {"password": []byte("x")},
		"not an ssh key":              {SigningSSHKey: []byte("s3cr3t-garbage")},
		"not an openpgp key":          {SigningOpenPGPKey: []byte("s3cr3t-garbage")},
		"encrypted, no passphrase":    {SigningSSHKey: encrypted},
		"encrypted, wrong passphrase": {SigningSSHKey: encrypted, SigningPassphrase: []byte("s3cr3t-wrong")},
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := NewSigner(data)
			if !errors.Is(err, ErrSigningKey) {
				t.Fatalf("NewSigner = %v, want ErrSigningKey", err)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("the error quotes the Secret: %v", err)
			}
		})
	}
	if _, err := NewSigner(map[string][]byte{SigningSSHKey: encrypted, SigningPassphrase: []byte("right\n")}); err != nil {
		t.Errorf("the right passphrase, as a file holds it: %v", err)
	}
}
