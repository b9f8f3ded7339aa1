package gitrepo

import (
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// Defaults for Options.
const (
	DefaultBranch      = "main"
	DefaultTimeout     = time.Minute
	DefaultMaxAttempts = 5
)

// Auth holds the credentials for a remote. HTTP(S) uses Username/Password or
// BearerToken (and CABundle); SSH uses SSHPrivateKey, SSHPassphrase and
// KnownHosts. Credentials never end up in URLs, on disk or in errors.
type Auth struct {
	// Username and Password are HTTP basic auth; Password may be a token. A
	// Password without a Username is sent with the username "git".
	Username, Password string
	// BearerToken is sent as "Authorization: Bearer <token>".
	BearerToken string
	// CABundle is PEM: extra roots for HTTPS, on top of the system pool.
	CABundle []byte

	// SSHPrivateKey is a PEM or OpenSSH private key.
	SSHPrivateKey []byte
	// SSHPassphrase decrypts SSHPrivateKey when it is encrypted.
	SSHPassphrase string
	// KnownHosts is known_hosts content; required for SSH, host keys are
	// always verified.
	KnownHosts []byte
}

// secrets lists the credential strings that must never appear in an error.
func (a Auth) secrets() []string {
	var s []string
	for _, v := range []string{a.Password, a.BearerToken, a.SSHPassphrase} {
		if v != "" {
			s = append(s, v)
		}
	}
	return s
}

// Options says which repository and branch a Repo writes to.
type Options struct {
	// URL is https://, http://, ssh://, git@host:path, file:///path, or a
	// local path.
	URL string
	// Branch is the branch the commits go to; default "main".
	Branch string
	// Auth holds the credentials for a remote URL.
	Auth Auth
	// Dir is where the bare clone of a remote is kept; "" keeps it in a temporary directory
	// removed by Close. A clone is kept on disk, never in memory: go-git's memory storage holds
	// every object decoded, which a repository of 100,000 files does not fit in a small limit.
	// Ignored for a local path. A Dir that holds no usable clone of URL is
	// emptied and cloned again.
	Dir string
	// Timeout bounds every network operation (one fetch, one push); default
	// one minute.
	Timeout time.Duration
	// MaxAttempts bounds the build-and-push rounds of one Apply when the
	// branch keeps moving; default 5.
	MaxAttempts int
	// Log receives what goes wrong without failing an operation; nil discards.
	Log *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Branch == "" {
		o.Branch = DefaultBranch
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

func (o Options) validate() error {
	if strings.TrimSpace(o.URL) == "" {
		return fmt.Errorf("%w: URL is empty", ErrInvalidOptions)
	}
	if err := plumbing.NewBranchReferenceName(o.Branch).Validate(); err != nil {
		return fmt.Errorf("%w: branch %q: %w", ErrInvalidOptions, o.Branch, err)
	}
	return nil
}

var (
	schemeRe  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)
	scpLikeRe = regexp.MustCompile(`^(?:[^@]+@)?[^:\s]+:`)
)

// IsLocalPath tells a local path from a remote URL the way git does: no
// scheme, and not scp-like (a colon with no slash before it).
func IsLocalPath(raw string) bool {
	if schemeRe.MatchString(raw) {
		return false
	}
	if !scpLikeRe.MatchString(raw) {
		return true
	}
	before, _, _ := strings.Cut(raw, ":")
	return strings.Contains(before, "/")
}

// splitCredentials removes a password from the userinfo of a URL, so that it
// is never stored in the clone's config or echoed by transport errors, and
// returns it for use as basic auth.
func splitCredentials(raw string) (clean, user, pass string, err error) {
	if !schemeRe.MatchString(raw) {
		return raw, "", "", nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes its input in errors: keep the URL out of it.
		return "", "", "", fmt.Errorf("%w: URL does not parse", ErrInvalidOptions)
	}
	if u.User == nil {
		return raw, "", "", nil
	}
	pass, hasPass := u.User.Password()
	if !hasPass {
		return raw, "", "", nil
	}
	user = u.User.Username()
	u.User = url.User(user)
	return u.String(), user, pass, nil
}
