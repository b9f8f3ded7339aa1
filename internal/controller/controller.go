// Package controller owns `gitops-reverser run`: leader election, the refresher that turns rules
// into informers and writers, the routing of watch events to writers, the status of the three
// kinds, and the health and metrics endpoints.
package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/robfig/cron/v3"
	"k8s.io/client-go/rest"

	"github.com/gitops-reverser/gitops-reverser/internal/cluster"
	"github.com/gitops-reverser/gitops-reverser/internal/defaulting"
	"github.com/gitops-reverser/gitops-reverser/internal/metrics"
	"github.com/gitops-reverser/gitops-reverser/internal/webhook"
)

// Options configure the controller.
type Options struct {
	Config *rest.Config
	// Log is the controller's logger; nil discards.
	Log            *slog.Logger
	ResyncInterval time.Duration
	// ResyncSchedule, a cron expression, replaces ResyncInterval when set.
	ResyncSchedule    string
	DiscoveryInterval time.Duration
	MetricsAddr       string
	HealthAddr        string
	LeaderElect       bool
	// Namespace is the controller's own: it holds the Lease and the webhook Service.
	Namespace string
	// LeaderElectionID names the Lease.
	LeaderElectionID  string
	AuthorEmailDomain string
	// CacheDir holds one clone per destination; "" keeps clones in temporary directories.
	CacheDir string
	// Identity names this process in the Lease; the hostname when empty.
	Identity string

	Webhook WebhookOptions
	// AgeIdentitySecret names the Secret in Namespace that holds the controller's own age
	// identity, an extra recipient of every encrypted Secret (see internal/secrets).
	AgeIdentitySecret string
}

// WebhookOptions configure the admission webhook that tells who made a change.
type WebhookOptions struct {
	// Addr is the HTTPS address; "" or "0" disables the webhook (authors stay unknown).
	Addr string
	// CertDir holds tls.crt and tls.key; empty means a self-signed certificate made at start-up.
	CertDir string
	// ClientCA is a PEM file of the CA whose client certificates callers must present; empty:
	// no client certificate is asked for.
	ClientCA string
	// ConfigName is the ValidatingWebhookConfiguration kept in step with the watched resources.
	ConfigName string
	// Service is the webhook Service in Namespace (certificate names, clientConfig.service).
	Service string
	// URL, when set, is used as clientConfig.url instead of the Service (out-of-cluster runs).
	URL       string
	CacheSize int
	CacheTTL  time.Duration
}

func (w WebhookOptions) enabled() bool { return w.Addr != "" && w.Addr != "0" }

// Validate reports options that cannot work.
func (o *Options) Validate() error {
	if o.ResyncInterval < 0 || o.DiscoveryInterval <= 0 {
		return errors.New("--resync-interval must be >= 0 and --discovery-interval > 0")
	}
	if _, err := o.nextResync(); err != nil {
		return err
	}
	if o.LeaderElect && o.Namespace == "" {
		return errors.New("--leader-elect needs --namespace (or POD_NAMESPACE)")
	}
	return nil
}

// Run runs the controller until ctx ends; pending changes are flushed before it returns, and
// every goroutine it started has ended.
func Run(ctx context.Context, o Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := cluster.New(o.Config)
	if err != nil {
		return err
	}
	m := metrics.New()
	authors := webhook.NewCache(o.Webhook.CacheSize, o.Webhook.CacheTTL)
	dft := newDefaults(log, c)
	rf, err := newRefresher(o, log, m, c, newRouter(log, m, authors, dft.d), dft)
	if err != nil {
		return err
	}
	servers, err := serve(o, log, m, rf.ready)
	if err != nil {
		return err
	}
	defer servers.close()
	stopWebhook, err := startWebhook(ctx, o, log, m, authors, rf)
	if err != nil {
		return err
	}
	defer stopWebhook()
	if !o.LeaderElect {
		return rf.start(ctx)
	}
	return leaderElect(ctx, o, log, c.Kube, rf.start)
}

// defaults is the API server's defaulting, with which Clean files leave out what it puts back.
// It follows the server's version: an upgrade (or a downgrade out of the covered versions)
// is seen at the next refresh, and every cached file is rendered again.
type defaults struct {
	d       *defaulting.Defaulter // defaults nothing while the server's version is not covered
	schemas *defaulting.Schemas   // of the CRDs with defaults, followed as they change
	note    atomic.Pointer[string]
}

func newDefaults(log *slog.Logger, c *cluster.Clients) *defaults {
	schemas := defaulting.NewSchemas() // fed by the CRD informer of watchConfig
	dft := &defaults{d: defaulting.New(schemas), schemas: schemas}
	dft.follow(log, c)
	return dft
}

// follow sets the defaulting to the server's version; it reports whether what Clean leaves
// out changed. A version that cannot be read keeps what was.
func (dft *defaults) follow(log *slog.Logger, c *cluster.Clients) bool {
	changed, note, err := c.FollowServer(dft.d)
	if err != nil && dft.note.Load() != nil {
		log.Warn("API server version not read; Clean keeps the defaulting it had", "err", err)
		return false
	}
	if prev := dft.note.Swap(&note); (prev == nil || *prev != note) && note != "" {
		log.Warn("Clean files keep the API server's defaults", "reason", note)
	}
	return changed
}

// Note says why Clean files keep the server's defaults, "" when they do not.
func (dft *defaults) Note() string { return *dft.note.Load() }

// startWebhook serves the admission webhook on every replica, leader or not, so writes are
// attributed from the first moment a replica leads.
func startWebhook(ctx context.Context, o Options, log *slog.Logger, m *metrics.Metrics, authors *webhook.Cache, rf *refresher) (stop func(), err error) {
	if !o.Webhook.enabled() {
		return func() {}, nil
	}
	h := webhook.NewHandler(authors, webhook.HandlerOptions{Log: log, Observe: func(result string) {
		m.WebhookRequests.WithLabelValues(result).Inc()
	}})
	srv, err := webhook.NewServer(webhook.ServerOptions{
		Log:          log,
		Addr:         o.Webhook.Addr,
		CertDir:      o.Webhook.CertDir,
		ClientCAFile: o.Webhook.ClientCA,
		DNSNames:     webhook.ServiceDNSNames(o.Webhook.Service, o.Namespace),
		Handler:      h,
	})
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	rf.configurator = webhook.NewConfigurator(log, rf.clients.Kube, webhook.ConfigOptions{
		Name:             o.Webhook.ConfigName,
		ExcludeNamespace: o.Namespace,
		ServiceName:      o.Webhook.Service,
		ServiceNamespace: o.Namespace,
		URL:              o.Webhook.URL,
		CABundle:         srv.CABundle(),
	})
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Start(sctx); err != nil {
			log.Error("webhook server stopped", "err", err)
		}
	}()
	return func() { cancel(); <-done }, nil
}

// httpServers are the metrics and health endpoints; close shuts them down and joins them.
type httpServers struct {
	servers []*http.Server
	wg      sync.WaitGroup
}

func (s *httpServers) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range s.servers {
		_ = srv.Shutdown(ctx)
	}
	s.wg.Wait()
}

// serve starts the metrics and health endpoints; it fails when an address is taken.
func serve(o Options, log *slog.Logger, m *metrics.Metrics, ready func() error) (*httpServers, error) {
	out := &httpServers{}
	metricsMux := http.NewServeMux()
	metricsMux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	healthMux := http.NewServeMux()
	healthMux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	healthMux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	for _, s := range []struct {
		addr string
		h    http.Handler
	}{{o.MetricsAddr, metricsMux}, {o.HealthAddr, healthMux}} {
		if s.addr == "" || s.addr == "0" {
			continue
		}
		l, err := net.Listen("tcp", s.addr)
		if err != nil {
			out.close()
			return nil, fmt.Errorf("listen %s: %w", s.addr, err)
		}
		srv := &http.Server{Handler: s.h, ReadHeaderTimeout: 10 * time.Second}
		out.wg.Go(func() {
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("http server stopped", "addr", s.addr, "err", err)
			}
		})
		out.servers = append(out.servers, srv)
	}
	return out, nil
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "gitops-reverser"
	}
	return h
}

// nextResync turns --resync-schedule or --resync-interval into the writers' schedule.
func (o *Options) nextResync() (func(time.Time) time.Time, error) {
	if o.ResyncSchedule != "" {
		sched, err := cron.ParseStandard(o.ResyncSchedule)
		if err != nil {
			return nil, fmt.Errorf("--resync-schedule %q: %w", o.ResyncSchedule, err)
		}
		return sched.Next, nil
	}
	if o.ResyncInterval == 0 {
		return nil, nil
	}
	every := o.ResyncInterval
	return func(t time.Time) time.Time { return t.Add(every) }, nil
}
