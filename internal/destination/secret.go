package destination

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitops-reverser/gitops-reverser/internal/commit"
	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
)

// errSecret marks a credentials Secret that is missing or unusable.
var errSecret = errors.New("credentials secret")

// readAuth reads the credentials Secret of a destination. It accepts Flux's keys (identity,
// known_hosts, username, password, bearerToken, ca.crt) and Kubernetes' ssh-privatekey.
func readAuth(ctx context.Context, kube kubernetes.Interface, namespace, name string) (gitrepo.Auth, error) {
	s, err := kube.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return gitrepo.Auth{}, fmt.Errorf("%w %s/%s not found", errSecret, namespace, name)
	}
	if err != nil {
		return gitrepo.Auth{}, fmt.Errorf("%w %s/%s: %w", errSecret, namespace, name, err)
	}
	return AuthFromData(s.Data), nil
}

// readSigner reads the signing Secret of a destination: a key that cannot be used is an
// error (ErrSigningKey), so the destination is not written to rather than written unsigned.
func readSigner(ctx context.Context, kube kubernetes.Interface, namespace, name string) (gitrepo.Signer, error) {
	s, err := kube.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("%w: secret %s/%s: %w", commit.ErrSigningKey, namespace, name, err)
	}
	signer, err := commit.NewSigner(s.Data)
	if err != nil {
		return nil, fmt.Errorf("spec.signing: secret %s/%s: %w", namespace, name, err)
	}
	return signer, nil
}

// AuthFromData maps a credentials Secret's data to transport credentials.
func AuthFromData(d map[string][]byte) gitrepo.Auth {
	a := gitrepo.Auth{
		Username:      string(d["username"]),
		Password:      string(d["password"]),
		BearerToken:   string(d["bearerToken"]),
		CABundle:      d["ca.crt"],
		KnownHosts:    d["known_hosts"],
		SSHPassphrase: string(d["password"]),
	}
	for _, k := range []string{"identity", "ssh-privatekey", "sshPrivateKey"} {
		if len(d[k]) > 0 {
			a.SSHPrivateKey = d[k]
			break
		}
	}
	return a
}

// ValidateBaseFolder accepts "" or a relative, clean folder without "..".
func ValidateBaseFolder(f string) error {
	if f == "" {
		return nil
	}
	if strings.HasPrefix(f, "/") {
		return fmt.Errorf("baseFolder %q must be relative", f)
	}
	for _, p := range strings.Split(f, "/") {
		if p == ".." {
			return fmt.Errorf("baseFolder %q must not contain ..", f)
		}
	}
	if path.Clean(f) != strings.TrimSuffix(f, "/") {
		return fmt.Errorf("baseFolder %q is not a clean path", f)
	}
	return nil
}
