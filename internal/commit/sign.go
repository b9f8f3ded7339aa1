package commit

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"

	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
)

// Keys of a signing Secret: an SSH private key as for SSH remotes, or an armored OpenPGP
// private key as Flux's image automation reads it, and an optional passphrase.
const (
	SigningSSHKey     = "identity"
	SigningOpenPGPKey = "git.asc"
	SigningPassphrase = "passphrase"
)

// ErrSigningKey marks a signing key that cannot be used. Its messages never quote the key.
var ErrSigningKey = errors.New("signing key")

// NewSigner reads the signing key of a Secret's data: `git.asc` (OpenPGP) or `identity` (SSH),
// decrypted with `passphrase` when it is encrypted.
func NewSigner(data map[string][]byte) (gitrepo.Signer, error) {
	// A passphrase written to a file ends in a newline that is not part of it.
	pass := bytes.TrimRight(data[SigningPassphrase], "\r\n")
	switch {
	case len(data[SigningOpenPGPKey]) > 0:
		return openPGPSigner(data[SigningOpenPGPKey], pass)
	case len(data[SigningSSHKey]) > 0:
		return sshSigner(data[SigningSSHKey], pass)
	default:
		return nil, fmt.Errorf("%w: the Secret has neither %s nor %s", ErrSigningKey, SigningSSHKey, SigningOpenPGPKey)
	}
}

type pgpSigner struct{ entity *openpgp.Entity }

func openPGPSigner(armored, pass []byte) (gitrepo.Signer, error) {
	ring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(armored))
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not an armored OpenPGP key", ErrSigningKey, SigningOpenPGPKey)
	}
	for _, e := range ring {
		if e.PrivateKey == nil {
			continue
		}
		if e.PrivateKey.Encrypted {
			if len(pass) == 0 {
				return nil, fmt.Errorf("%w: the OpenPGP key is encrypted and the Secret has no %s", ErrSigningKey, SigningPassphrase)
			}
			if err := e.DecryptPrivateKeys(pass); err != nil {
				return nil, fmt.Errorf("%w: the %s does not decrypt the OpenPGP key", ErrSigningKey, SigningPassphrase)
			}
		}
		return pgpSigner{entity: e}, nil
	}
	return nil, fmt.Errorf("%w: %s holds no private key", ErrSigningKey, SigningOpenPGPKey)
}

func (s pgpSigner) Sign(payload []byte) (string, error) {
	var b bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&b, s.entity, bytes.NewReader(payload), nil); err != nil {
		return "", fmt.Errorf("openpgp: %w", err)
	}
	return b.String(), nil
}

type sshSignerKey struct{ signer ssh.Signer }

func sshSigner(pem, pass []byte) (gitrepo.Signer, error) {
	var (
		signer ssh.Signer
		err    error
	)
	if len(pass) > 0 {
		signer, err = ssh.ParsePrivateKeyWithPassphrase(pem, pass)
	} else {
		signer, err = ssh.ParsePrivateKey(pem)
	}
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		return nil, fmt.Errorf("%w: the SSH key is encrypted and the Secret has no %s", ErrSigningKey, SigningPassphrase)
	case err != nil && len(pass) > 0:
		return nil, fmt.Errorf("%w: the %s does not decrypt the SSH key, or %s is not an SSH private key", ErrSigningKey, SigningPassphrase, SigningSSHKey)
	case err != nil:
		return nil, fmt.Errorf("%w: %s is not an SSH private key", ErrSigningKey, SigningSSHKey)
	}
	return sshSignerKey{signer: signer}, nil
}

func (s sshSignerKey) Sign(payload []byte) (string, error) {
	// Git signs and verifies commits in the "git" namespace with SHA-512.
	sig, err := sshsig.Sign(bytes.NewReader(payload), s.signer, sshsig.HashSHA512, "git")
	if err != nil {
		return "", fmt.Errorf("ssh: %w", err)
	}
	return string(sshsig.Armor(sig)), nil
}
