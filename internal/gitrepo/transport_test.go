package gitrepo_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
)

const (
	user     = "alice"
	password = "correct-horse-battery-staple"
	token    = "tok-3f9a8c1d2e"
)

// openAndWrite opens and, when that works, commits the file path (content:
// the path); it returns the first error.
func openAndWrite(t *testing.T, opts gitrepo.Options, path string) error {
	t.Helper()
	r, err := gitrepo.Open(context.Background(), opts)
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = r.Apply(context.Background(), static(commit("write "+path, add(path, path))))
	return err
}

// fileName turns a test name into a file name.
// checkWrite checks the outcome of openAndWrite: the file on the remote, or the wanted error
// naming none of the secrets.
func checkWrite(t *testing.T, remote *gitserver.Remote, path string, err, wantErr error, secrets ...string) {
	t.Helper()
	if wantErr == nil {
		if err != nil {
			t.Fatalf("err = %v, want success", err)
		}
		if got := remote.Files(t, "main")[path]; got != path {
			t.Errorf("%s on the remote = %q, want %q", path, got, path)
		}
		return
	}
	t.Logf("error: %v", err)
	if !errors.Is(err, wantErr) {
		t.Fatalf("err = %v, want %v", err, wantErr)
	}
	for _, secret := range secrets {
		if secret != "" && strings.Contains(err.Error(), secret) {
			t.Errorf("error %q contains a secret", err)
		}
	}
}

func fileName(t *testing.T) string {
	return strings.NewReplacer("/", "_", " ", "_", ",", "").Replace(t.Name()) + ".yaml"
}

func TestHTTPAuth(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	basicURL := remote.ServeHTTP(t, user, password)
	tokenURL := remote.ServeHTTPToken(t, token)

	tests := []struct {
		name    string
		url     string
		auth    gitrepo.Auth
		wantErr error
		secret  string // must not appear in the error
	}{
		{name: "basic, right password", url: basicURL, auth: gitrepo.Auth{Username: user, Password: password}},
		{name: "basic, wrong password", url: basicURL, auth: gitrepo.Auth{Username: user, Password: "wrong-pass-123"},
			wantErr: gitrepo.ErrAuthentication, secret: "wrong-pass-123"},
		{name: "basic, no credentials", url: basicURL, wantErr: gitrepo.ErrAuthentication},
		{name: "basic, wrong password in the URL",
			url:     strings.Replace(basicURL, "http://", "http://alice:url-pass-456@", 1),
			wantErr: gitrepo.ErrAuthentication, secret: "url-pass-456"},
		{name: "basic, right password in the URL",
			url: strings.Replace(basicURL, "http://", "http://"+user+":"+password+"@", 1)},
		{name: "bearer, right token", url: tokenURL, auth: gitrepo.Auth{BearerToken: token}},
		{name: "bearer, wrong token", url: tokenURL, auth: gitrepo.Auth{BearerToken: "tok-wrong-789"},
			wantErr: gitrepo.ErrAuthentication, secret: "tok-wrong-789"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := fileName(t)
			err := openAndWrite(t, gitrepo.Options{URL: tc.url, Auth: tc.auth}, path)

			checkWrite(t, remote, path, err, tc.wantErr, tc.secret, password)
		})
	}
}

func TestUnreachableRemote(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there any more

	tests := []struct {
		name string
		url  string
		auth gitrepo.Auth
	}{
		{name: "http, closed port", url: "http://" + addr + "/repo.git",
			auth: gitrepo.Auth{Username: user, Password: password}},
		{name: "https, closed port", url: "https://" + addr + "/repo.git"},
		{name: "unknown host", url: "https://no-such-host.invalid/repo.git"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gitrepo.Open(context.Background(), gitrepo.Options{URL: tc.url, Auth: tc.auth, Timeout: 10 * time.Second})

			if !errors.Is(err, gitrepo.ErrUnreachable) {
				t.Fatalf("err = %v, want ErrUnreachable", err)
			}
			t.Logf("error: %v", err)
			if strings.Contains(err.Error(), password) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

func TestHTTPSWithCABundle(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	url, caPEM := remote.ServeHTTPS(t, user, password)

	t.Run("with the CA", func(t *testing.T) {
		r := open(t, gitrepo.Options{URL: url, Auth: gitrepo.Auth{Username: user, Password: password, CABundle: caPEM}})
		apply(t, r, static(commit("over https", add("a.yaml", "a\n"))))
		if diff := cmp.Diff(map[string]string{"a.yaml": "a\n"}, remote.Files(t, "main")); diff != "" {
			t.Errorf("remote files (-want +got):\n%s", diff)
		}
	})
	t.Run("without the CA", func(t *testing.T) {
		_, err := gitrepo.Open(context.Background(), gitrepo.Options{URL: url,
			Auth: gitrepo.Auth{Username: user, Password: password}})
		if !errors.Is(err, gitrepo.ErrCertificate) || !errors.Is(err, gitrepo.ErrUnreachable) {
			t.Fatalf("err = %v, want ErrCertificate and ErrUnreachable", err)
		}
		t.Logf("error: %v", err)
		if !strings.Contains(err.Error(), "certificate") {
			t.Errorf("error %q does not say what is wrong", err)
		}
	})
}

func TestSSH(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	srv := remote.ServeSSH(t)
	strangerKey, _ := gitserver.GenerateSSHKey(t, "")
	_, otherHostKey := gitserver.GenerateSSHKey(t, "")
	lockedKey, lockedPub := gitserver.GenerateSSHKey(t, "key-passphrase-42")
	srv.Authorize(t, lockedPub)

	tests := []struct {
		name    string
		auth    gitrepo.Auth
		wantErr error
	}{
		{name: "authorized key", auth: gitrepo.Auth{SSHPrivateKey: srv.ClientKey, KnownHosts: srv.KnownHosts}},
		{name: "encrypted key with its passphrase",
			auth: gitrepo.Auth{SSHPrivateKey: lockedKey, SSHPassphrase: "key-passphrase-42", KnownHosts: srv.KnownHosts}},
		{name: "encrypted key, wrong passphrase",
			auth:    gitrepo.Auth{SSHPrivateKey: lockedKey, SSHPassphrase: "nope-nope", KnownHosts: srv.KnownHosts},
			wantErr: gitrepo.ErrInvalidOptions},
		{name: "unknown key", auth: gitrepo.Auth{SSHPrivateKey: strangerKey, KnownHosts: srv.KnownHosts},
			wantErr: gitrepo.ErrAuthentication},
		{name: "host key mismatch",
			auth:    gitrepo.Auth{SSHPrivateKey: srv.ClientKey, KnownHosts: srv.KnownHostsFor(otherHostKey)},
			wantErr: gitrepo.ErrAuthentication},
		{name: "host not in known_hosts",
			auth: gitrepo.Auth{SSHPrivateKey: srv.ClientKey,
				KnownHosts: []byte("[example.com]:22 " + string(srv.KnownHosts[strings.Index(string(srv.KnownHosts), " ")+1:]))},
			wantErr: gitrepo.ErrAuthentication},
		{name: "no known_hosts", auth: gitrepo.Auth{SSHPrivateKey: srv.ClientKey}, wantErr: gitrepo.ErrInvalidOptions},
		{name: "no key", auth: gitrepo.Auth{KnownHosts: srv.KnownHosts}, wantErr: gitrepo.ErrInvalidOptions},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := fileName(t)
			err := openAndWrite(t, gitrepo.Options{URL: srv.URL, Auth: tc.auth, Timeout: 20 * time.Second}, path)

			checkWrite(t, remote, path, err, tc.wantErr, "key-passphrase-42", "nope-nope")
		})
	}
}
