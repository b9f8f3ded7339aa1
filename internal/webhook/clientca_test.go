package webhook

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/gitops-reverser/gitops-reverser/internal/change"
	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

// testCA is a CA that signs client certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	cert, err := x509.ParseCertificate(der)
	must(t, err)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// client is a client certificate for cn signed by the CA, as PEM certificate and key.
func (ca *testCA) client(t *testing.T, cn string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	must(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// With ClientCAFile only callers with a client certificate of that CA are served: the others
// fail the TLS handshake and record nothing.
func TestServerRequiresClientCertificate(t *testing.T) {
	ca, other := newTestCA(t, "apiserver-clients"), newTestCA(t, "someone-else")
	caFile := filepath.Join(t.TempDir(), "client-ca.crt")
	must(t, os.WriteFile(caFile, ca.pem, 0o600))
	cache := NewCache(10, time.Minute)
	s, err := NewServer(ServerOptions{Addr: "127.0.0.1:0", ClientCAFile: caFile, Handler: NewHandler(cache, HandlerOptions{})})
	must(t, err)
	serve(t, s)

	withCert := func(certPEM, keyPEM []byte) *http.Client {
		c := httpsClient(t, s.CABundle())
		if certPEM != nil {
			pair, err := tls.X509KeyPair(certPEM, keyPEM)
			must(t, err)
			c.Transport.(*http.Transport).TLSClientConfig.Certificates = []tls.Certificate{pair}
		}
		return c
	}
	good, goodKey := ca.client(t, "kube-apiserver")
	bad, badKey := other.client(t, "attacker")
	tests := []struct {
		name   string
		client *http.Client
		served bool
	}{
		{"no client certificate", withCert(nil, nil), false},
		{"certificate of another CA", withCert(bad, badKey), false},
		{"certificate of the client CA", withCert(good, goodKey), true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			user := "forged-" + tc.name
			body := reviewSpec{UID: "u" + string(rune('a'+i)), Op: admissionv1.Create, GVR: configMapsGVR, Namespace: "shop", Name: "app", Object: configMap("shop", "app", tc.name), User: user}.body(t)
			status, err := postStatus(tc.client, validateURL(s), body)
			switch {
			case tc.served && (err != nil || status != http.StatusOK):
				t.Errorf("status %d, err %v; want 200", status, err)
			case !tc.served && err == nil:
				t.Errorf("served with status %d; want a failed handshake", status)
			}
			k := Key{Resource: "configmaps", Namespace: "shop", Name: "app", Op: change.Create, Hash: mustHash(t, configMap("shop", "app", tc.name))}
			if _, found := cache.Lookup(k); found != tc.served {
				t.Errorf("recorded = %v, want %v", found, tc.served)
			}
		})
	}
}

func TestServerClientCAUnreadable(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.crt")
	must(t, os.WriteFile(notPEM, []byte("not a certificate"), 0o600))
	for name, file := range map[string]string{"missing": filepath.Join(dir, "nope"), "not PEM": notPEM} {
		if _, err := NewServer(ServerOptions{Addr: "127.0.0.1:0", ClientCAFile: file, Handler: http.NotFoundHandler()}); err == nil {
			t.Errorf("%s: NewServer succeeded", name)
		}
	}
}

// The kube-apiserver, given the admission configuration the README shows, presents its client
// certificate and is served by a webhook that requires one.
func TestAPIServerPresentsClientCertificate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane of its own")
	}
	dir := t.TempDir()
	ca := newTestCA(t, "apiserver-clients")
	certPEM, keyPEM := ca.client(t, "kube-apiserver")
	files := map[string][]byte{
		"client-ca.crt": ca.pem, "webhook-client.crt": certPEM, "webhook-client.key": keyPEM,
		"webhook-kubeconfig.yaml": []byte("apiVersion: v1\nkind: Config\nusers:\n- name: \"*\"\n  user:\n" +
			"    client-certificate: " + filepath.Join(dir, "webhook-client.crt") + "\n" +
			"    client-key: " + filepath.Join(dir, "webhook-client.key") + "\n"),
		"admission.yaml": []byte("apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n" +
			"- name: ValidatingAdmissionWebhook\n  configuration:\n    apiVersion: apiserver.config.k8s.io/v1\n" +
			"    kind: WebhookAdmissionConfiguration\n    kubeConfigFile: " + filepath.Join(dir, "webhook-kubeconfig.yaml") + "\n"),
	}
	for name, b := range files {
		must(t, os.WriteFile(filepath.Join(dir, name), b, 0o600))
	}
	e, err := kubetest.StartWith(map[string]string{"admission-control-config-file": filepath.Join(dir, "admission.yaml")})
	must(t, err)
	t.Cleanup(func() { _ = e.Stop() })
	admin := kubetest.NewClient(t, e.Config)

	w := &liveWebhook{cache: NewCache(100, time.Minute), results: &results{}}
	w.server, err = NewServer(ServerOptions{Addr: "127.0.0.1:0", ClientCAFile: filepath.Join(dir, "client-ca.crt"),
		Handler: NewHandler(w.cache, HandlerOptions{Observe: w.results.observe})})
	must(t, err)
	w.stop = serve(t, w.server)
	conf := NewConfigurator(slog.New(slog.DiscardHandler), admin.Kube, ConfigOptions{Name: "client-ca-test", URL: validateURL(w.server), CABundle: w.server.CABundle()})
	must(t, conf.SetResources(t.Context(), []discovery.Resource{configMapsResource}))
	admin.Namespace(t, "client-ca")
	w.waitCalled(t, admin.Kube, "client-ca")
}
