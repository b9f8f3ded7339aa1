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
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/robfig/cron/v3"
	"k8s.io/client-go/rest"

	"github.com/gitops-reverser/gitops-reverser/internal/metrics"
)

// Options configure the controller.
type Options struct {
	Config         *rest.Config
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
	// CacheDir holds one clone per destination; "" keeps clones in memory.
	CacheDir string
	// Identity names this process in the Lease; the hostname when empty.
	Identity string
}

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

// Run runs the controller until ctx ends; pending changes are flushed before it returns.
func Run(ctx context.Context, o Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	m := metrics.New()
	mgr, err := newManager(o, m)
	if err != nil {
		return err
	}
	servers, err := serve(o, m, mgr)
	if err != nil {
		return err
	}
	defer servers.close()
	if !o.LeaderElect {
		return mgr.start(ctx)
	}
	return leaderElect(ctx, o, mgr.start)
}

type httpServers []*http.Server

func (s httpServers) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range s {
		_ = srv.Shutdown(ctx)
	}
}

// serve starts the metrics and health endpoints; it fails when an address is taken.
func serve(o Options, m *metrics.Metrics, mgr *manager) (httpServers, error) {
	var out httpServers
	metricsMux := http.NewServeMux()
	metricsMux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	healthMux := http.NewServeMux()
	healthMux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	healthMux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := mgr.ready(); err != nil {
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
		go func() {
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				slog.Error("http server stopped", "addr", s.addr, "err", err)
			}
		}()
		out = append(out, srv)
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
