package secrets

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"filippo.io/age"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/cmd/sops/common"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keyservice"
	"github.com/getsops/sops/v3/stores/yaml"
	"github.com/getsops/sops/v3/version"
)

// EncryptedRegex selects the top-level keys whose values SOPS encrypts; everything else
// (apiVersion, kind, metadata, type, immutable) stays readable in Git.
const EncryptedRegex = "^(data|stringData)$"

var (
	// ErrInvalidRecipient means a destination's age recipient is not an X25519 public key.
	ErrInvalidRecipient = errors.New("invalid age recipient")
	// ErrNoRecipients means an Encrypter was asked for with no destination recipients.
	ErrNoRecipients = errors.New("no age recipients")
	// ErrInvalidPlaintext means the input to Encrypt is not one YAML document without a
	// `sops` key. The message never carries the input.
	ErrInvalidPlaintext = errors.New("secret plaintext is not a single plain YAML document")
	// ErrEncrypt means SOPS failed to encrypt the values. The message never carries them.
	ErrEncrypt = errors.New("sops could not encrypt the secret values")
)

// Encrypter writes Secrets as SOPS YAML for one destination's recipients plus the
// controller's own. It holds no mutable state and is safe for concurrent use.
type Encrypter struct {
	// recipients are canonical age public keys: the destination's in the given order
	// (duplicates dropped), then the controller's own unless already listed.
	recipients []string
	own        *age.X25519Identity
	ownKey     string
}

// NewEncrypter validates recipients (the destination's age public keys, "age1…") and returns
// an Encrypter that also encrypts to own, the controller's identity. Errors wrap
// ErrInvalidRecipient or ErrNoRecipients and name the offending entry by position.
func NewEncrypter(recipients []string, own *age.X25519Identity) (*Encrypter, error) {
	if own == nil {
		return nil, errors.New("secrets: controller identity is nil")
	}
	if len(recipients) == 0 {
		return nil, ErrNoRecipients
	}
	e := &Encrypter{own: own, ownKey: own.Recipient().String()}
	for i, r := range recipients {
		canonical, err := parseRecipient(r)
		if err != nil {
			return nil, fmt.Errorf("ageRecipients[%d]: %w", i, err)
		}
		if !slices.Contains(e.recipients, canonical) {
			e.recipients = append(e.recipients, canonical)
		}
	}
	if !slices.Contains(e.recipients, e.ownKey) {
		e.recipients = append(e.recipients, e.ownKey)
	}
	return e, nil
}

// parseRecipient returns the canonical form of an X25519 age public key. The error repeats
// the input only when it cannot be secret material.
func parseRecipient(s string) (string, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(strings.ToUpper(s), "AGE-SECRET-KEY-") {
		// Someone pasted a private key: never echo it into a status condition or a log.
		return "", fmt.Errorf("%w: this is an age secret key (AGE-SECRET-KEY-…), give its public key (age1…)", ErrInvalidRecipient)
	}
	r, err := age.ParseX25519Recipient(s)
	if err != nil {
		return "", fmt.Errorf("%w %q: want an X25519 age public key (age1…)", ErrInvalidRecipient, truncate(s, 80))
	}
	return r.String(), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Encrypt returns the SOPS YAML of plain, a sanitized Secret rendered as one YAML document.
// The key order of plain is kept and the `sops:` block comes last. Each call uses a fresh
// data key, so two calls never return the same bytes: use Current to skip unchanged Secrets.
func (e *Encrypter) Encrypt(plain []byte) ([]byte, error) {
	store := newStore()
	branches, err := loadPlain(store, plain)
	if err != nil {
		return nil, err
	}
	tree := sops.Tree{
		Branches: branches,
		Metadata: sops.Metadata{
			KeyGroups:      []sops.KeyGroup{e.keyGroup()},
			EncryptedRegex: EncryptedRegex,
			Version:        version.Version,
		},
	}
	dataKey, errs := tree.GenerateDataKeyWithKeyServices(localKeyServices())
	if len(errs) > 0 {
		return nil, fmt.Errorf("encrypt the sops data key: %w", errors.Join(errs...))
	}
	err = common.EncryptTree(common.EncryptTreeOpts{DataKey: dataKey, Tree: &tree, Cipher: aes.NewCipher()})
	if err != nil {
		// SOPS messages may quote the value it failed on; keep only the outcome.
		return nil, ErrEncrypt
	}
	out, err := store.EmitEncryptedFile(tree)
	if err != nil {
		return nil, fmt.Errorf("emit sops yaml: %w", err)
	}
	return out, nil
}

// loadPlain parses plain into SOPS branches. Errors never quote the input.
func loadPlain(store *yaml.Store, plain []byte) (sops.TreeBranches, error) {
	branches, err := store.LoadPlainFile(plain)
	if err != nil {
		return nil, ErrInvalidPlaintext
	}
	if len(branches) != 1 {
		return nil, fmt.Errorf("%w: found %d documents", ErrInvalidPlaintext, len(branches))
	}
	if store.HasSopsTopLevelKey(branches[0]) {
		return nil, fmt.Errorf("%w: it already has a sops key", ErrInvalidPlaintext)
	}
	return branches, nil
}

// keyGroup returns fresh master keys: SOPS stores each encrypted data key on its MasterKey,
// so sharing them between calls would race.
func (e *Encrypter) keyGroup() sops.KeyGroup {
	group := make(sops.KeyGroup, 0, len(e.recipients))
	for _, r := range e.recipients {
		group = append(group, &sopsage.MasterKey{Recipient: r})
	}
	return group
}

// newStore returns the YAML store with the settings of a `sops` CLI without a config file
// (4-space indent), so the files look like the ones users write by hand.
func newStore() *yaml.Store {
	return yaml.NewStore(&config.YAMLStoreConfig{})
}

func localKeyServices() []keyservice.KeyServiceClient {
	return []keyservice.KeyServiceClient{keyservice.NewLocalClient()}
}
