package webhook

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
)

func TestServerMalformedRequests(t *testing.T) {
	const limit = 1 << 10
	res := &results{}
	cache := NewCache(100, time.Minute)
	s, _ := startServer(t, NewHandler(cache, HandlerOptions{MaxBodyBytes: limit, Observe: res.observe}))
	c := httpsClient(t, s.CABundle())
	url := validateURL(s)
	valid := func(uid string) []byte {
		return reviewSpec{UID: uid, Op: admissionv1.Create, GVR: configMapsGVR, Namespace: "shop", Name: "app", Object: configMap("shop", "app", "v"), User: "jane@acme.com"}.body(t)
	}
	oversized := append([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","name":"`), bytes.Repeat([]byte("a"), 8*limit)...)
	oversized = append(oversized, `"}}`...)

	tests := []struct {
		name        string
		method      string
		contentType string
		body        io.Reader
		status      int
		reason      string
	}{
		{name: "bad JSON", contentType: "application/json", body: strings.NewReader(`{"apiVersion":`), status: 400, reason: "not an AdmissionReview"},
		{name: "no request", contentType: "application/json", body: strings.NewReader(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), status: 400, reason: "no request"},
		{name: "no uid", contentType: "application/json", body: strings.NewReader(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"name":"a"}}`), status: 400, reason: "no uid"},
		{name: "other review version", contentType: "application/json", body: strings.NewReader(`{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"a"}}`), status: 400, reason: "want admission.k8s.io/v1"},
		{name: "text/plain", contentType: "text/plain", body: bytes.NewReader(valid("plain")), status: 400, reason: "content type"},
		{name: "no content type", body: bytes.NewReader(valid("none")), status: 400, reason: "content type"},
		{name: "oversized with length", contentType: "application/json", body: bytes.NewReader(oversized), status: 400, reason: "larger than"},
		// A reader of unknown length is sent chunked: the limit must hold while reading too.
		{name: "oversized chunked", contentType: "application/json", body: io.MultiReader(bytes.NewReader(oversized)), status: 400, reason: "larger than"},
		{name: "GET", method: http.MethodGet, status: 405, reason: "POST"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			req, err := http.NewRequestWithContext(t.Context(), method, url, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.reason) {
				t.Errorf("got %d %q, want %d with %q", resp.StatusCode, body, tc.status, tc.reason)
			}
			// The server keeps answering.
			uid := "after-" + string(rune('a'+i))
			status, b := post(t, c, url, "application/json", valid(uid))
			if status != http.StatusOK {
				t.Fatalf("valid request after %s: status %d: %s", tc.name, status, b)
			}
			if got := allowedUID(t, b); got != uid {
				t.Errorf("uid %q, want %q", got, uid)
			}
		})
	}
	if got, want := res.count(ResultInvalid), len(tests); got != want {
		t.Errorf("%d invalid results, want %d", got, want)
	}
}

func TestServerSelfSignedCertificate(t *testing.T) {
	s, _ := startServer(t, NewHandler(NewCache(10, time.Minute), HandlerOptions{}))
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CABundle()) {
		t.Fatal("no CA in CABundle")
	}
	conn, err := tls.Dial("tcp", s.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("handshake verified by CABundle: %v", err)
	}
	leaf := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	for _, name := range append(ServiceDNSNames("gitops-reverser-webhook", "gitops-reverser"), "localhost") {
		if err := leaf.VerifyHostname(name); err != nil {
			t.Errorf("serving certificate: %v", err)
		}
	}
	want := []string{"gitops-reverser-webhook", "gitops-reverser-webhook.gitops-reverser", "gitops-reverser-webhook.gitops-reverser.svc", "gitops-reverser-webhook.gitops-reverser.svc.cluster.local", "localhost"}
	if diff := cmp.Diff(want, leaf.DNSNames); diff != "" {
		t.Errorf("DNS names (-want +got):\n%s", diff)
	}
}

func TestServerCertDirMissing(t *testing.T) {
	_, err := NewServer(ServerOptions{Addr: "127.0.0.1:0", CertDir: t.TempDir(), Handler: http.NotFoundHandler()})
	if err == nil {
		t.Fatal("NewServer with an empty cert dir succeeded")
	}
}

// pemPair is a serving certificate and key as files hold them.
type pemPair struct {
	cert, key []byte
	serial    *big.Int
}

func newPair(t *testing.T) pemPair {
	t.Helper()
	_, cert, err := selfSigned([]string{"webhook.test"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return pemPair{
		cert:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}),
		key:    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		serial: cert.Leaf.SerialNumber,
	}
}

// certLayout writes pairs into a cert dir the way one kind of producer does.
type certLayout interface {
	write(t *testing.T, dir string, cert, key []byte)
}

// plainFiles overwrites tls.crt and tls.key in place (a process writing its own files).
type plainFiles struct{}

func (plainFiles) write(t *testing.T, dir string, cert, key []byte) {
	t.Helper()
	writeFile(t, filepath.Join(dir, CertFile), cert)
	writeFile(t, filepath.Join(dir, KeyFile), key)
}

// secretVolume mimics the kubelet: files are symlinks through ..data, which is swapped
// atomically to a new timestamped directory.
type secretVolume struct{ gen *int }

func (v secretVolume) write(t *testing.T, dir string, cert, key []byte) {
	t.Helper()
	*v.gen++
	version := filepath.Join(dir, "..v"+string(rune('0'+*v.gen)))
	if err := os.Mkdir(version, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(version, CertFile), cert)
	writeFile(t, filepath.Join(version, KeyFile), key)
	tmp := filepath.Join(dir, "..data_tmp")
	must(t, os.Symlink(filepath.Base(version), tmp))
	must(t, os.Rename(tmp, filepath.Join(dir, "..data")))
	for _, f := range []string{CertFile, KeyFile} {
		if _, err := os.Lstat(filepath.Join(dir, f)); os.IsNotExist(err) {
			must(t, os.Symlink(filepath.Join("..data", f), filepath.Join(dir, f)))
		}
	}
}

func TestServerCertDirReload(t *testing.T) {
	tests := []struct {
		name   string
		layout certLayout
	}{
		{name: "files overwritten in place", layout: plainFiles{}},
		{name: "Secret volume symlink swap", layout: secretVolume{gen: new(int)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			first, second := newPair(t), newPair(t)
			tc.layout.write(t, dir, first.cert, first.key)
			s, err := NewServer(ServerOptions{Addr: "127.0.0.1:0", CertDir: dir, Handler: http.NotFoundHandler()})
			if err != nil {
				t.Fatal(err)
			}
			if s.CABundle() != nil {
				t.Error("CABundle is set for a cert dir")
			}
			serve(t, s)
			addr := s.Addr().String()
			expectSerial(t, addr, first.serial, "first certificate")

			// Half an update: the new certificate with the old key does not load.
			tc.layout.write(t, dir, second.cert, first.key)
			expectSerial(t, addr, first.serial, "after a mismatched pair")

			tc.layout.write(t, dir, second.cert, second.key)
			expectSerial(t, addr, second.serial, "after the replacement")
		})
	}
}

// expectSerial makes a new TLS handshake and checks which certificate the server presents.
func expectSerial(t *testing.T, addr string, want *big.Int, when string) {
	t.Helper()
	// Which certificate is served is the question here, not whether it is trusted.
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec
	if err != nil {
		t.Fatalf("%s: handshake: %v", when, err)
	}
	defer conn.Close()
	if got := conn.ConnectionState().PeerCertificates[0].SerialNumber; got.Cmp(want) != 0 {
		t.Errorf("%s: served serial %x, want %x", when, got, want)
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	must(t, os.WriteFile(path, b, 0o600))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
