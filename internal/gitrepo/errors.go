package gitrepo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Sentinel errors callers branch on with errors.Is. Each wraps the underlying
// message, so the error string still says what happened.
var (
	// ErrNothingToCommit: the build returned no commits, or every change was
	// already in place. Nothing was pushed.
	ErrNothingToCommit = errors.New("nothing to commit")
	// ErrAuthentication: the remote refused the credentials (HTTP 401/403, SSH
	// auth) or the SSH host key did not match known_hosts.
	ErrAuthentication = errors.New("authentication failed")
	// ErrUnreachable: the remote could not be reached (connection refused,
	// DNS, timeout, TLS failure).
	ErrUnreachable = errors.New("remote unreachable")
	// ErrCertificate: the remote's TLS certificate is not trusted (add its CA
	// to Auth.CABundle). Such errors also match ErrUnreachable.
	ErrCertificate = errors.New("TLS certificate not trusted")
	// ErrRepositoryNotFound: the remote answered but has no such repository.
	ErrRepositoryNotFound = errors.New("repository not found")
	// ErrRejected: the remote refused the push for a reason other than the
	// branch having moved (a hook, a protected branch).
	ErrRejected = errors.New("push rejected")
	// ErrConflict: the branch kept moving under every attempt of one Apply.
	ErrConflict = errors.New("branch kept moving, giving up")
	// ErrInvalidOptions: the Options (URL, branch, credentials, Dir) cannot
	// work.
	ErrInvalidOptions = errors.New("invalid options")
	// ErrInvalidCommit: a Commit from the build cannot be made (bad path,
	// missing committer or message).
	ErrInvalidCommit = errors.New("invalid commit")
	// ErrSigning: a commit could not be signed; nothing was pushed.
	ErrSigning = errors.New("cannot sign commit")
)

// errMoved marks a push that lost the race: the remote branch is no longer
// where the commits were built. Apply answers it with another round.
var errMoved = errors.New("remote branch moved")

// classify wraps a transport error with the sentinel that names its kind.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case anyIs(err, isCertificate):
		return fmt.Errorf("%w: %w: %w", ErrUnreachable, ErrCertificate, err)
	case anyIs(err, isAuth):
		return fmt.Errorf("%w: %w", ErrAuthentication, err)
	case anyIs(err, isNotFound):
		return fmt.Errorf("%w: %w", ErrRepositoryNotFound, err)
	case anyIs(err, isUnreachable):
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	return err
}

// anyIs applies test to err and everything it wraps, including the causes in
// go-git's UnexpectedError and PermanentError, which do not unwrap.
func anyIs(err error, test func(error) bool) bool {
	for err != nil {
		if test(err) {
			return true
		}
		var unexpected *plumbing.UnexpectedError
		var permanent *plumbing.PermanentError
		switch {
		case errors.As(err, &unexpected) && unexpected.Err != err:
			err = unexpected.Err
		case errors.As(err, &permanent) && permanent.Err != err:
			err = permanent.Err
		default:
			return false
		}
	}
	return false
}

func isCertificate(err error) bool {
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	return errors.As(err, &unknown) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &verify)
}

func isAuth(err error) bool {
	var keyErr *knownhosts.KeyError
	var revoked *knownhosts.RevokedError
	if errors.Is(err, transport.ErrAuthenticationRequired) ||
		errors.Is(err, transport.ErrAuthorizationFailed) ||
		errors.Is(err, transport.ErrInvalidAuthMethod) ||
		errors.As(err, &keyErr) || errors.As(err, &revoked) {
		return true
	}
	// golang.org/x/crypto/ssh reports a refused key only as text.
	msg := err.Error()
	return strings.Contains(msg, "ssh: unable to authenticate") ||
		strings.Contains(msg, "ssh: handshake failed: knownhosts:")
}

func isNotFound(err error) bool {
	return errors.Is(err, transport.ErrRepositoryNotFound)
}

func isUnreachable(err error) bool {
	var netErr net.Error
	var dnsErr *net.DNSError
	var opErr *net.OpError
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.As(err, &dnsErr) || errors.As(err, &opErr) {
		return true
	}
	if errors.As(err, &netErr) && netErr.Timeout() {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"connection refused", "no such host", "i/o timeout", "network is unreachable"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// redactedError hides credentials in the message of the error it wraps while
// keeping errors.Is and errors.As working.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// userinfoRe matches the password part of a URL's userinfo.
var userinfoRe = regexp.MustCompile(`(://[^/@\s:]*):[^/@\s]*@`)

// redact returns err with every secret and URL password replaced by "***".
func redact(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := userinfoRe.ReplaceAllString(err.Error(), "$1:***@")
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, "***")
	}
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}
