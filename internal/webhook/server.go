package webhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"
)

// ServerOptions configures NewServer.
type ServerOptions struct {
	// Log receives the server's own messages; nil discards.
	Log *slog.Logger
	// Addr to listen on, ":9443" in the controller; "127.0.0.1:0" picks a free port.
	Addr string
	// CertDir holds tls.crt and tls.key, reloaded when they change. Empty: a self-signed CA and
	// serving certificate are made at start-up, and CABundle returns the CA.
	CertDir string
	// DNSNames for the self-signed certificate (ServiceDNSNames); localhost, 127.0.0.1 and ::1
	// are always added. Ignored with CertDir.
	DNSNames []string
	// Handler serves Path, normally NewHandler's.
	Handler http.Handler
	// ClientCAFile, when set, is a PEM file of CA certificates: only callers presenting a
	// client certificate signed by one of them are served (the kube-apiserver, given an
	// admission configuration with a kubeconfig holding such a certificate). Without it
	// anyone who reaches the port can record authors.
	ClientCAFile string
}

const shutdownTimeout = 5 * time.Second

// Server is the webhook's HTTPS server.
type Server struct {
	log      *slog.Logger
	ln       net.Listener
	srv      *http.Server
	caBundle []byte
}

// NewServer prepares the certificate and binds the address, so that Addr is known before Start
// (tests listen on port 0) and a taken port fails start-up. Call Start, or Close to release the
// address without serving.
func NewServer(o ServerOptions) (*Server, error) {
	if o.Handler == nil {
		return nil, errors.New("webhook server: no handler")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{log: o.Log}
	tlsConfig, err := s.tlsConfig(o)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(Path, o.Handler)
	s.srv = &http.Server{
		Handler:           mux,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(o.Log.Handler(), slog.LevelWarn),
	}
	s.ln, err = net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("webhook server: listen on %s: %w", o.Addr, err)
	}
	return s, nil
}

func (s *Server) tlsConfig(o ServerOptions) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.ClientCAFile != "" {
		pool, err := clientCAs(o.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("webhook server: %w", err)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	if o.CertDir != "" {
		dir, err := newCertDir(o.Log, o.CertDir)
		if err != nil {
			return nil, fmt.Errorf("webhook server: %w", err)
		}
		cfg.GetCertificate = dir.GetCertificate
		return cfg, nil
	}
	caPEM, cert, err := selfSigned(o.DNSNames, time.Now())
	if err != nil {
		return nil, fmt.Errorf("webhook server: self-signed certificate: %w", err)
	}
	s.caBundle = caPEM
	cfg.Certificates = []tls.Certificate{*cert}
	return cfg, nil
}

// clientCAs reads the CA certificates client certificates must be signed by.
func clientCAs(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("client CA %s: no PEM certificate", file)
	}
	return pool, nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// CABundle is the PEM CA that signed the self-signed serving certificate, for the
// configuration's caBundle; nil when serving a certificate directory (its CA is managed
// elsewhere, by cert-manager for example).
func (s *Server) CABundle() []byte { return s.caBundle }

// Start serves until ctx is done, then shuts down gracefully. It returns nil after a shutdown
// caused by ctx, and the error when serving fails.
func (s *Server) Start(ctx context.Context) error {
	s.log.Info("webhook: serving", "addr", s.ln.Addr().String(), "path", Path)
	errc := make(chan error, 1)
	go func() { errc <- s.srv.ServeTLS(s.ln, "", "") }()
	select {
	case err := <-errc:
		return fmt.Errorf("webhook server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		// Connections still busy (or opened and never used) past the grace period: the
		// apiserver retries nothing, so cutting them only costs authors of in-flight writes.
		s.log.Info("webhook: graceful shutdown timed out, closing connections", "err", err)
		_ = s.srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("webhook server: %w", err)
	}
	return nil
}
