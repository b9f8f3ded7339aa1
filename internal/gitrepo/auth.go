package gitrepo

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
)

// authMethod turns Auth into the go-git transport auth for the endpoint's
// protocol; nil means anonymous.
func authMethod(ep *transport.Endpoint, a Auth, timeout time.Duration) (transport.AuthMethod, error) {
	switch ep.Protocol {
	case "http", "https":
		return httpAuth(a)
	case "ssh":
		return sshAuthMethod(ep, a, timeout)
	default:
		return nil, nil
	}
}

func httpAuth(a Auth) (transport.AuthMethod, error) {
	switch {
	case a.BearerToken != "" && (a.Username != "" || a.Password != ""):
		return nil, fmt.Errorf("%w: both a bearer token and a username/password are set", ErrInvalidOptions)
	case a.BearerToken != "":
		return &githttp.TokenAuth{Token: a.BearerToken}, nil
	case a.Password != "":
		user := a.Username
		if user == "" {
			user = "git"
		}
		return &githttp.BasicAuth{Username: user, Password: a.Password}, nil
	case a.Username != "":
		return &githttp.BasicAuth{Username: a.Username}, nil
	}
	return nil, nil
}

// sshAuth is public key auth whose connections time out; go-git's ssh dial
// ignores the context.
type sshAuth struct {
	*gitssh.PublicKeys
	timeout time.Duration
}

func (a *sshAuth) ClientConfig() (*ssh.ClientConfig, error) {
	cfg, err := a.PublicKeys.ClientConfig()
	if err != nil {
		return nil, err
	}
	cfg.Timeout = a.timeout
	return cfg, nil
}

func sshAuthMethod(ep *transport.Endpoint, a Auth, timeout time.Duration) (transport.AuthMethod, error) {
	if len(a.SSHPrivateKey) == 0 {
		return nil, fmt.Errorf("%w: an SSH URL needs a private key", ErrInvalidOptions)
	}
	if len(a.KnownHosts) == 0 {
		return nil, fmt.Errorf("%w: an SSH URL needs known_hosts (host keys are always verified)", ErrInvalidOptions)
	}
	user := ep.User
	if user == "" {
		user = "git"
	}
	keys, err := gitssh.NewPublicKeys(user, a.SSHPrivateKey, a.SSHPassphrase)
	if err != nil {
		return nil, fmt.Errorf("%w: SSH private key: %w", ErrInvalidOptions, err)
	}
	db, err := knownHostsDB(a.KnownHosts)
	if err != nil {
		return nil, err
	}
	port := ep.Port
	if port <= 0 {
		port = gitssh.DefaultPort
	}
	keys.HostKeyCallback = db.HostKeyCallback()
	keys.HostKeyAlgorithms = db.HostKeyAlgorithms(net.JoinHostPort(ep.Host, strconv.Itoa(port)))
	return &sshAuth{PublicKeys: keys, timeout: timeout}, nil
}

// knownHostsDB parses known_hosts content. The parser reads files only, so
// the content goes through a temporary file that is removed right away.
func knownHostsDB(content []byte) (*knownhosts.HostKeyDB, error) {
	f, err := os.CreateTemp("", "gitrepo-known-hosts-*")
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	defer os.Remove(f.Name())
	_, werr := f.Write(content)
	cerr := f.Close()
	if werr != nil || cerr != nil {
		return nil, fmt.Errorf("known_hosts: write temporary file: %w", firstErr(werr, cerr))
	}
	db, err := knownhosts.NewDB(f.Name())
	if err != nil {
		return nil, fmt.Errorf("%w: known_hosts: %w", ErrInvalidOptions, err)
	}
	return db, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
