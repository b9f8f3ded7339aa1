package secrets

import (
	"errors"
	"fmt"

	"filippo.io/age"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/cmd/sops/common"
)

// ErrCannotDecrypt means a SOPS file is not one, or none of the identities can open it, or
// it was tampered with. Its messages never carry plaintext.
var ErrCannotDecrypt = errors.New("cannot decrypt")

// Decrypt returns the plaintext YAML of a SOPS file that one of ids can open, never reading
// keys from the environment (SOPS_AGE_KEY and friends are process-wide).
func Decrypt(file []byte, ids []*age.X25519Identity) ([]byte, error) {
	store := newStore()
	tree, err := store.LoadEncryptedFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCannotDecrypt, errNotSOPS)
	}
	var dataKey []byte
	for _, id := range ids {
		for _, group := range tree.Metadata.KeyGroups {
			for _, k := range group {
				ak, ok := k.(*sopsage.MasterKey)
				if !ok || ak.Recipient != id.Recipient().String() {
					continue
				}
				sopsage.ParsedIdentities{id}.ApplyToMasterKey(ak)
				if key, err := ak.Decrypt(); err == nil {
					dataKey = key
				}
			}
		}
	}
	if dataKey == nil {
		return nil, fmt.Errorf("%w: %w", ErrCannotDecrypt, errUnreadable)
	}
	tree.Metadata.DataKey = dataKey
	if _, err := common.DecryptTree(common.DecryptTreeOpts{Tree: &tree, KeyServices: localKeyServices(), Cipher: aes.NewCipher()}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCannotDecrypt, errTampered)
	}
	plain, err := store.EmitPlainFile(tree.Branches)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCannotDecrypt, errTampered)
	}
	return plain, nil
}
