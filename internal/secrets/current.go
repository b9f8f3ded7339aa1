package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"filippo.io/age"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/cmd/sops/common"
)

// Reasons a file in Git is not current. Current reports only a bool; these let tests (and a
// caller that wants to log why a Secret is re-encrypted) tell the cases apart.
var (
	errNotSOPS           = errors.New("not a sops yaml file")
	errRecipientsChanged = errors.New("encrypted to a different set of recipients")
	errUnreadable        = errors.New("the controller identity cannot decrypt it")
	errTampered          = errors.New("decryption or MAC check failed")
	errPlaintextChanged  = errors.New("the plaintext differs")
)

// Current reports whether existing, a SOPS file read from Git, is what Encrypt would write for
// plain: encrypted to exactly this Encrypter's recipients with the same rules, decryptable
// with the controller's identity, with an intact MAC, and with a plaintext equal to plain.
// Anything else (not SOPS, foreign keys, tampered, changed values or metadata) is false, so
// the caller re-encrypts.
func (e *Encrypter) Current(existing, plain []byte) bool {
	return e.check(existing, plain) == nil
}

// check is Current with the reason it is false. Errors never carry plaintext.
func (e *Encrypter) check(existing, plain []byte) error {
	store := newStore()
	tree, err := store.LoadEncryptedFile(existing)
	if err != nil {
		return fmt.Errorf("%w: %w", errNotSOPS, err)
	}
	if err := e.checkMetadata(tree.Metadata); err != nil {
		return err
	}
	dataKey, err := decryptDataKey(tree.Metadata, e.ownKey, e.own)
	if err != nil {
		return fmt.Errorf("%w: %w", errUnreadable, err)
	}
	tree.Metadata.DataKey = dataKey // DecryptTree uses it instead of asking key services
	_, err = common.DecryptTree(common.DecryptTreeOpts{
		Tree:        &tree,
		KeyServices: localKeyServices(),
		Cipher:      aes.NewCipher(),
	})
	if err != nil {
		// The message of a MAC mismatch carries only hashes, but keep the outcome alone.
		return errTampered
	}
	got, err := store.EmitPlainFile(tree.Branches)
	if err != nil {
		return fmt.Errorf("%w: emit decrypted tree", errTampered)
	}
	// Compare through the same store so that YAML style (indent, quoting) does not matter.
	want, err := loadPlain(store, plain)
	if err != nil {
		return err
	}
	wantYAML, err := store.EmitPlainFile(want)
	if err != nil {
		return fmt.Errorf("%w: emit plaintext", ErrInvalidPlaintext)
	}
	if !bytes.Equal(got, wantYAML) {
		return errPlaintextChanged
	}
	return nil
}

// checkMetadata demands the layout Encrypt writes: one key group of age keys for exactly the
// expected recipients, values selected by EncryptedRegex, a MAC over all values. A new or
// removed recipient therefore makes the file stale even when the plaintext is the same.
func (e *Encrypter) checkMetadata(m sops.Metadata) error {
	if m.EncryptedRegex != EncryptedRegex || m.MACOnlyEncrypted || len(m.KeyGroups) != 1 {
		return fmt.Errorf("%w: other encryption rules or key groups", errRecipientsChanged)
	}
	var got []string
	for _, k := range m.KeyGroups[0] {
		ak, ok := k.(*sopsage.MasterKey)
		if !ok {
			return fmt.Errorf("%w: has a %s key", errRecipientsChanged, k.TypeToIdentifier())
		}
		got = append(got, ak.Recipient)
	}
	want := slices.Clone(e.recipients)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		return errRecipientsChanged
	}
	return nil
}

// decryptDataKey unwraps the data key with the controller's identity alone, never with keys
// from the environment (SOPS_AGE_KEY and friends are process-wide).
func decryptDataKey(m sops.Metadata, ownKey string, own *age.X25519Identity) ([]byte, error) {
	for _, k := range m.KeyGroups[0] {
		ak, ok := k.(*sopsage.MasterKey)
		if !ok || ak.Recipient != ownKey {
			continue
		}
		sopsage.ParsedIdentities{own}.ApplyToMasterKey(ak)
		key, err := ak.Decrypt()
		if err != nil {
			return nil, fmt.Errorf("unwrap data key: %w", err)
		}
		return key, nil
	}
	return nil, errors.New("no age entry for the controller identity")
}
