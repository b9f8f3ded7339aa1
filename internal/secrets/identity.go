package secrets

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"filippo.io/age"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// IdentityKey is the Secret key that holds the controller's age identity. Flux reads keys
// with the same ".agekey" suffix, so the Secret could also serve a Flux decryption config.
const IdentityKey = "age.agekey"

// ErrInvalidIdentity means the identity Secret exists but does not hold exactly one X25519
// age identity under IdentityKey. The Secret is never overwritten: replacing the key would
// make every file in Git look stale and, if a person put it there, lose their key.
var ErrInvalidIdentity = errors.New("invalid controller age identity")

// LoadOrCreateIdentity returns the controller's age identity from the Secret namespace/name,
// creating the Secret with a new identity when it does not exist. When another process
// (a second replica, the snapshot CronJob) creates it first, that one wins and is returned.
// Needs get and create on Secrets in namespace.
func LoadOrCreateIdentity(ctx context.Context, kube kubernetes.Interface, namespace, name string) (*age.X25519Identity, error) {
	secrets := kube.CoreV1().Secrets(namespace)
	existing, err := secrets.Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		return identityFromSecret(existing)
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("get identity Secret %s/%s: %w", namespace, name, err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, fmt.Errorf("generate age identity: %w", err)
	}
	_, err = secrets.Create(ctx, identitySecret(namespace, name, id), metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		existing, err = secrets.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("get identity Secret %s/%s after a concurrent create: %w", namespace, name, err)
		}
		return identityFromSecret(existing)
	}
	if err != nil {
		return nil, fmt.Errorf("create identity Secret %s/%s: %w", namespace, name, err)
	}
	return id, nil
}

// LoadIdentity reads the controller's age identity from the Secret namespace/name and never
// creates it: for the commands that decrypt what the controller wrote (diff, restore).
func LoadIdentity(ctx context.Context, kube kubernetes.Interface, namespace, name string) (*age.X25519Identity, error) {
	s, err := kube.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("get identity Secret %s/%s: %w", namespace, name, err)
	}
	return identityFromSecret(s)
}

func identitySecret(namespace, name string, id *age.X25519Identity) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: namespace,
			Labels:    map[string]string{"app.kubernetes.io/managed-by": "gitops-reverser"},
			Annotations: map[string]string{
				// The public half, so people can tell which sops recipient is the controller's.
				"gitops-reverser.io/age-recipient": id.Recipient().String(),
			},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{IdentityKey: []byte(id.String() + "\n")},
	}
}

// identityFromSecret parses IdentityKey, which may hold age-keygen output (comment lines and
// one AGE-SECRET-KEY-1… line). Errors never quote the value.
func identityFromSecret(s *corev1.Secret) (*age.X25519Identity, error) {
	raw, ok := s.Data[IdentityKey]
	if !ok {
		return nil, fmt.Errorf("%w: Secret %s/%s has no key %q", ErrInvalidIdentity, s.Namespace, s.Name, IdentityKey)
	}
	ids, err := age.ParseIdentities(bytes.NewReader(raw))
	if err != nil || len(ids) != 1 {
		return nil, fmt.Errorf("%w: key %q of Secret %s/%s must hold exactly one age identity (AGE-SECRET-KEY-1…)",
			ErrInvalidIdentity, IdentityKey, s.Namespace, s.Name)
	}
	id, ok := ids[0].(*age.X25519Identity)
	if !ok {
		return nil, fmt.Errorf("%w: key %q of Secret %s/%s is not an X25519 age identity",
			ErrInvalidIdentity, IdentityKey, s.Namespace, s.Name)
	}
	return id, nil
}
