// Package metrics owns the Prometheus metrics of the controller; names start with gitops_reverser_.
package metrics

import (
	"github.com/gitops-reverser/gitops-reverser/internal/change"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the controller's instruments, registered on their own registry.
type Metrics struct {
	Registry *prometheus.Registry

	Events          *prometheus.CounterVec   // operation
	Commits         *prometheus.CounterVec   // destination, result
	Pushes          *prometheus.CounterVec   // destination, result
	PushDuration    *prometheus.HistogramVec // destination
	WatchedGVRs     prometheus.Gauge
	ObjectsTracked  *prometheus.GaugeVec     // destination
	ResyncDuration  *prometheus.HistogramVec // destination
	LastPushSuccess *prometheus.GaugeVec     // destination
	WebhookRequests *prometheus.CounterVec   // result
}

// New creates and registers the metrics, plus the Go and process collectors.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitops_reverser_events_total", Help: "Watch events received, by operation.",
		}, []string{"operation"}),
		Commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitops_reverser_commits_total", Help: "Commits made, by destination and result.",
		}, []string{"destination", "result"}),
		Pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitops_reverser_pushes_total", Help: "Pushes, by destination and result.",
		}, []string{"destination", "result"}),
		PushDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gitops_reverser_push_duration_seconds", Help: "Time to commit and push a change set.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}, []string{"destination"}),
		WatchedGVRs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gitops_reverser_watched_resources", Help: "Resources (GVRs) with a running informer.",
		}),
		ObjectsTracked: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gitops_reverser_objects_tracked", Help: "Object files a destination holds after its last sync.",
		}, []string{"destination"}),
		ResyncDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gitops_reverser_resync_duration_seconds", Help: "Time of a full resync.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
		}, []string{"destination"}),
		LastPushSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gitops_reverser_last_successful_push_timestamp_seconds", Help: "Unix time of the last successful push.",
		}, []string{"destination"}),
		WebhookRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitops_reverser_webhook_requests_total", Help: "Admission requests, by result.",
		}, []string{"result"}),
	}
	m.Registry.MustRegister(m.Events, m.Commits, m.Pushes, m.PushDuration, m.WatchedGVRs,
		m.ObjectsTracked, m.ResyncDuration, m.LastPushSuccess, m.WebhookRequests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ForgetDestination deletes every series of one destination (its label value, namespace/name),
// so that a destination that is gone stops being reported.
func (m *Metrics) ForgetDestination(destination string) {
	l := prometheus.Labels{"destination": destination}
	m.Commits.DeletePartialMatch(l)
	m.Pushes.DeletePartialMatch(l)
	m.PushDuration.DeletePartialMatch(l)
	m.ObjectsTracked.DeletePartialMatch(l)
	m.ResyncDuration.DeletePartialMatch(l)
	m.LastPushSuccess.DeletePartialMatch(l)
}

// eventLabels are the operation label values of gitops_reverser_events_total, named for the
// informer's events (add, update, delete) as they always were.
var eventLabels = map[change.Op]string{change.Create: "add", change.Update: "update", change.Delete: "delete"}

// Event counts one watch event.
func (m *Metrics) Event(op change.Op) {
	m.Events.WithLabelValues(eventLabels[op]).Inc()
}
