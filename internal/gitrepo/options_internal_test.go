package gitrepo

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

func TestIsLocalPath(t *testing.T) {
	tests := []struct {
		url  string
		want bool
	}{
		{url: "https://github.com/org/repo.git", want: false},
		{url: "http://host:8080/repo", want: false},
		{url: "ssh://git@host:2222/org/repo.git", want: false},
		{url: "file:///srv/git/repo.git", want: false},
		{url: "git@github.com:org/repo.git", want: false},
		{url: "host:repo", want: false},
		{url: "/tmp/out", want: true},
		{url: "./out", want: true},
		{url: "out", want: true},
		{url: "./dir:with/colon", want: true},
		{url: "/abs/with:colon", want: true},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			if got := IsLocalPath(tc.url); got != tc.want {
				t.Errorf("IsLocalPath(%q) = %v, want %v", tc.url, got, tc.want)
			}
		})
	}
}

func TestSplitCredentials(t *testing.T) {
	tests := []struct {
		name                  string
		url                   string
		wantURL, wantU, wantP string
	}{
		{name: "user and password", url: "https://bob:s3cr3t@host/r.git", wantURL: "https://bob@host/r.git",
			wantU: "bob", wantP: "s3cr3t"},
		{name: "user only", url: "https://bob@host/r.git", wantURL: "https://bob@host/r.git"},
		{name: "none", url: "https://host/r.git", wantURL: "https://host/r.git"},
		{name: "scp-like", url: "git@host:r.git", wantURL: "git@host:r.git"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gotURL, gotU, gotP, err := splitCredentials(tc.url)
			if err != nil || gotURL != tc.wantURL || gotU != tc.wantU || gotP != tc.wantP {
				t.Errorf("splitCredentials(%q) = %q, %q, %q, %v; want %q, %q, %q, nil",
					tc.url, gotURL, gotU, gotP, err, tc.wantURL, tc.wantU, tc.wantP)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	base := errors.New(`Get "https://bob:hunter22@host/r.git/info/refs": token tok-123 refused`)
	got := redact(fmt.Errorf("fetch: %w", base), []string{"tok-123"})

	if msg := got.Error(); strings.Contains(msg, "hunter22") || strings.Contains(msg, "tok-123") {
		t.Errorf("redacted error still holds a secret: %q", msg)
	}
	if want := `fetch: Get "https://bob:***@host/r.git/info/refs": token *** refused`; got.Error() != want {
		t.Errorf("redact = %q, want %q", got, want)
	}
	if !errors.Is(got, base) {
		t.Errorf("redacted error does not wrap the original")
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want error
	}{
		{name: "http 401", err: fmt.Errorf("%w: x", transport.ErrAuthenticationRequired), want: ErrAuthentication},
		{name: "http 403", err: transport.ErrAuthorizationFailed, want: ErrAuthentication},
		{name: "ssh key refused", err: errors.New("ssh: handshake failed: ssh: unable to authenticate"),
			want: ErrAuthentication},
		{name: "not found", err: transport.ErrRepositoryNotFound, want: ErrRepositoryNotFound},
		{name: "refused, inside go-git's UnexpectedError",
			err:  plumbing.NewUnexpectedError(&net.OpError{Op: "dial", Err: errors.New("connection refused")}),
			want: ErrUnreachable},
		{name: "dns", err: &net.DNSError{Err: "no such host", Name: "x.invalid"}, want: ErrUnreachable},
		{name: "other", err: errors.New("something else"), want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := classify(tc.err)
			if !errors.Is(got, tc.err) {
				t.Errorf("classify lost the original error: %v", got)
			}
			for _, s := range []error{ErrAuthentication, ErrUnreachable, ErrRepositoryNotFound} {
				if errors.Is(got, s) != (s == tc.want) {
					t.Errorf("errors.Is(%v, %v) = %v", got, s, !(s == tc.want))
				}
			}
		})
	}
}
