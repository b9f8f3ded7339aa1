package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gitops-reverser/gitops-reverser/internal/controller"
)

type runFlags struct {
	common
	opts controller.Options
}

func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f runFlags
	o := &f.opts
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	f.bind(fs)
	fs.DurationVar(&o.ResyncInterval, "resync-interval", 10*time.Minute, "full resync of every destination from the caches; 0 disables it")
	fs.StringVar(&o.ResyncSchedule, "resync-schedule", "", "cron expression for the full resync (\"0 3 * * *\"); replaces --resync-interval")
	fs.DurationVar(&o.DiscoveryInterval, "discovery-interval", 30*time.Second, "how often rules are resolved against API discovery")
	fs.StringVar(&o.MetricsAddr, "metrics-addr", ":8080", "Prometheus /metrics address; 0 disables it")
	fs.StringVar(&o.HealthAddr, "health-addr", ":8081", "/healthz and /readyz address; 0 disables it")
	fs.BoolVar(&o.LeaderElect, "leader-elect", false, "hold a Lease while writing, so only one replica writes")
	fs.StringVar(&o.Namespace, "namespace", "", "the controller's own namespace: its Lease, webhook Service and age identity live there, and the webhook skips it (default: the service-account namespace, else $POD_NAMESPACE, else the kubeconfig's namespace, else default)")
	fs.StringVar(&o.LeaderElectionID, "leader-election-id", "gitops-reverser", "name of the Lease")
	fs.StringVar(&o.AuthorEmailDomain, "author-email-domain", "cluster.local", "email domain of authors whose username is not an email address")
	fs.StringVar(&o.CacheDir, "cache-dir", filepath.Join(os.TempDir(), "gitops-reverser"), "where clones are kept between pushes and restarts")
	fs.StringVar(&o.AgeIdentitySecret, "age-identity-secret", "gitops-reverser-age-identity", "Secret in --namespace holding the controller's age identity (created when missing), an extra recipient of encrypted Secrets so unchanged ones are not re-encrypted")
	w := &o.Webhook
	fs.StringVar(&w.Addr, "webhook-addr", ":9443", "HTTPS address of the admission webhook that records who made a change; 0 disables it")
	fs.StringVar(&w.CertDir, "webhook-cert-dir", "", "directory with tls.crt and tls.key (reloaded on change); empty: a self-signed certificate whose CA is patched into the webhook configuration")
	fs.StringVar(&w.ClientCA, "webhook-client-ca", "", "PEM file of the CA whose client certificates the webhook requires (the kube-apiserver's, through its admission configuration); empty: any caller that reaches the port is served")
	fs.StringVar(&w.ConfigName, "webhook-config-name", "gitops-reverser", "ValidatingWebhookConfiguration kept in step with the watched resources")
	fs.StringVar(&w.Service, "webhook-service", "gitops-reverser-webhook", "webhook Service in --namespace")
	fs.StringVar(&w.URL, "webhook-url", "", "clientConfig.url of the webhook instead of the Service, for running outside the cluster (https://host:port/validate)")
	fs.IntVar(&w.CacheSize, "webhook-cache-size", 10000, "writes remembered for attribution")
	fs.DurationVar(&w.CacheTTL, "webhook-cache-ttl", 2*time.Minute, "how long a write is remembered for attribution")
	cfg, log, err := f.prepare(fs, args, stdout, stderr, o.Validate)
	if err != nil || cfg == nil {
		return err
	}
	o.Config, o.Log = cfg, log
	if o.Namespace == "" {
		o.Namespace = ownNamespace(serviceAccountNamespaceFile, f.clientConfig())
	}
	if err := os.MkdirAll(o.CacheDir, 0o700); err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		// The caches are large and long-lived, and the start-up decodes every watched object
		// once as garbage: Go's default lets the heap grow to twice what is live before it
		// collects, which doubles the start-up peak. Collecting at 1.5x bounds it.
		debug.SetGCPercent(runGCPercent)
	}
	return controller.Run(ctx, *o)
}

// runGCPercent is the controller's GOGC unless the environment sets one.
const runGCPercent = 50

// serviceAccountNamespaceFile holds the pod's namespace in a cluster.
const serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// ownNamespace is the controller's namespace when --namespace is not given, found the way
// other controllers do: the service-account namespace file, POD_NAMESPACE, the kubeconfig's
// current namespace, default.
func ownNamespace(saFile string, kubeconfig clientcmd.ClientConfig) string {
	if b, err := os.ReadFile(saFile); err == nil {
		if ns := strings.TrimSpace(string(b)); ns != "" {
			return ns
		}
	}
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	if ns, _, err := kubeconfig.Namespace(); err == nil && ns != "" {
		return ns
	}
	return "default"
}

// envOr is the value of an environment variable, or def when it is unset or empty.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
