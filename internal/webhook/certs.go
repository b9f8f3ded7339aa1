package webhook

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// File names in a certificate directory, as cert-manager and kubernetes.io/tls Secrets use.
const (
	CertFile = "tls.crt"
	KeyFile  = "tls.key"
)

// The self-signed pair is remade at every start, so a year is plenty; the CA outlives it so a
// bundle patched once stays valid for the serving certificate it signed.
const (
	caValidity      = 10 * 365 * 24 * time.Hour
	servingValidity = 365 * 24 * time.Hour
	clockSkew       = time.Hour
)

// ServiceDNSNames are the names the apiserver may use to reach a Service: the serving
// certificate's DNS names for --webhook-service in --namespace.
func ServiceDNSNames(service, namespace string) []string {
	return []string{
		service,
		service + "." + namespace,
		service + "." + namespace + ".svc",
		service + "." + namespace + ".svc.cluster.local",
	}
}

// selfSigned makes a CA and a serving certificate it signs for dnsNames, localhost, 127.0.0.1
// and ::1 (out-of-cluster runs). It returns the CA as PEM, for the webhook's caBundle.
func selfSigned(dnsNames []string, now time.Time) (caPEM []byte, serving *tls.Certificate, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate CA key: %w", err)
	}
	caTmpl, err := template("gitops-reverser-webhook-ca", now, caValidity)
	if err != nil {
		return nil, nil, err
	}
	caTmpl.IsCA = true
	caTmpl.BasicConstraintsValid = true
	caTmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("create CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	serving, err = servingCert(ca, caKey, dnsNames, now)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), serving, nil
}

func servingCert(ca *x509.Certificate, caKey *ecdsa.PrivateKey, dnsNames []string, now time.Time) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate serving key: %w", err)
	}
	cn := "localhost"
	if len(dnsNames) > 0 {
		cn = dnsNames[0]
	}
	tmpl, err := template(cn, now, servingValidity)
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	tmpl.DNSNames = append(append([]string{}, dnsNames...), "localhost")
	tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create serving certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse serving certificate: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

func template(cn string, now time.Time, validity time.Duration) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     now.Add(validity),
	}, nil
}

// certDir serves tls.crt and tls.key from a directory and reloads them when either file
// changes (cert-manager renewals, a kubelet-updated Secret volume). Each handshake reads both
// files and compares them with the last read: a few kilobytes, cheap next to the handshake,
// with no watcher goroutine and none of the pitfalls of coarse modification times.
type certDir struct {
	log               *slog.Logger
	certPath, keyPath string

	mu      sync.Mutex // guards the fields below
	cert    *tls.Certificate
	certPEM []byte // the files as last read, whether they loaded or not
	keyPEM  []byte
}

var errNoCertificate = errors.New("no serving certificate loaded")

// newCertDir loads the pair once, so a bad directory fails start-up rather than handshakes.
func newCertDir(log *slog.Logger, dir string) (*certDir, error) {
	c := &certDir{log: log, certPath: filepath.Join(dir, CertFile), keyPath: filepath.Join(dir, KeyFile)}
	if _, err := c.get(); err != nil {
		return nil, fmt.Errorf("load certificate from %s: %w", dir, err)
	}
	return c, nil
}

// GetCertificate is for tls.Config.GetCertificate.
func (c *certDir) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.get()
}

func (c *certDir) get() (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	certPEM, keyPEM, err := c.read()
	if err != nil {
		// Mid-swap a file may be missing for a moment: keep serving what we have.
		if c.cert != nil {
			return c.cert, nil
		}
		return nil, err
	}
	if !bytes.Equal(certPEM, c.certPEM) || !bytes.Equal(keyPEM, c.keyPEM) {
		c.certPEM, c.keyPEM = certPEM, keyPEM
		c.load()
	}
	if c.cert == nil {
		return nil, errNoCertificate
	}
	return c.cert, nil
}

// load parses the pair last read; on failure (a half-written update: new certificate, old key)
// it keeps the previous certificate and tries again once the files change again.
func (c *certDir) load() {
	cert, err := tls.X509KeyPair(c.certPEM, c.keyPEM)
	if err != nil {
		c.log.Warn("webhook: cannot load serving certificate, keeping the previous one", "cert", c.certPath, "err", err)
		return
	}
	c.cert = &cert
	c.log.Info("webhook: serving certificate loaded", "cert", c.certPath, "notAfter", cert.Leaf.NotAfter)
}

func (c *certDir) read() (certPEM, keyPEM []byte, err error) {
	certPEM, err = os.ReadFile(c.certPath) // follows the symlinks of a Secret volume
	if err != nil {
		return nil, nil, fmt.Errorf("read certificate: %w", err)
	}
	keyPEM, err = os.ReadFile(c.keyPath)
	if err != nil {
		return nil, nil, fmt.Errorf("read key: %w", err)
	}
	return certPEM, keyPEM, nil
}
