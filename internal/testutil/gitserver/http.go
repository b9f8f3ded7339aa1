package gitserver

import (
	"crypto/subtle"
	"encoding/pem"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ServeHTTP serves the repository over smart HTTP (`git http-backend`) behind
// basic auth and returns the repository URL. Wrong or missing credentials get
// 401 with a WWW-Authenticate challenge. The server stops when the test ends.
func (r *Remote) ServeHTTP(t testing.TB, user, pass string) string {
	t.Helper()
	srv := httptest.NewServer(r.handler(t, basicAuth(user, pass)))
	t.Cleanup(srv.Close)
	return srv.URL + "/" + filepath.Base(r.Dir)
}

// ServeHTTPS is ServeHTTP over TLS; it also returns the PEM of the server's
// self-signed certificate, the CA a client must trust.
func (r *Remote) ServeHTTPS(t testing.TB, user, pass string) (url string, caPEM []byte) {
	t.Helper()
	srv := httptest.NewTLSServer(r.handler(t, basicAuth(user, pass)))
	t.Cleanup(srv.Close)
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return srv.URL + "/" + filepath.Base(r.Dir), caPEM
}

// ServeHTTPToken serves the repository over smart HTTP behind bearer-token
// auth ("Authorization: Bearer <token>") and returns the repository URL.
func (r *Remote) ServeHTTPToken(t testing.TB, token string) string {
	t.Helper()
	srv := httptest.NewServer(r.handler(t, bearerAuth(token)))
	t.Cleanup(srv.Close)
	return srv.URL + "/" + filepath.Base(r.Dir)
}

// handler runs `git http-backend` as CGI for requests that pass the check.
func (r *Remote) handler(t testing.TB, authorized func(*http.Request) bool) http.Handler {
	t.Helper()
	r.git(t, r.Dir, "config", "http.receivepack", "true")
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("gitserver: %v", err)
	}
	backend := &cgi.Handler{
		Path: gitBin,
		Args: []string{"http-backend"},
		Dir:  filepath.Dir(r.Dir),
		Env: append(r.Env(),
			"GIT_PROJECT_ROOT="+filepath.Dir(r.Dir),
			"GIT_HTTP_EXPORT_ALL=1",
		),
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !authorized(req) {
			w.Header().Set("WWW-Authenticate", `Basic realm="gitserver"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, req)
	})
}

func basicAuth(user, pass string) func(*http.Request) bool {
	return func(req *http.Request) bool {
		u, p, ok := req.BasicAuth()
		return ok && equal(u, user) && equal(p, pass)
	}
}

func bearerAuth(token string) func(*http.Request) bool {
	return func(req *http.Request) bool {
		got, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
		return ok && equal(got, token)
	}
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
