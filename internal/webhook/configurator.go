package webhook

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
)

// WebhookName is the name of the one webhook in the configuration.
const WebhookName = "authors.reverser.gitops.dev"

// TimeoutSeconds is short: the webhook only records, and a slow webhook must not slow writes.
const TimeoutSeconds int32 = 2

const (
	defaultServicePort = 443
	namespaceNameLabel = "kubernetes.io/metadata.name"
)

// ConfigOptions says where the webhook is and what it skips.
type ConfigOptions struct {
	// Name of the ValidatingWebhookConfiguration (--webhook-config-name).
	Name string
	// ExcludeNamespace is never sent to the webhook: the controller's own namespace.
	ExcludeNamespace string
	// ServiceName, ServiceNamespace and ServicePort (0 means 443) locate the webhook in cluster.
	ServiceName      string
	ServiceNamespace string
	ServicePort      int32
	// URL, when set, is used instead of the Service (out-of-cluster runs, tests): the full
	// https URL including Path.
	URL string
	// CABundle is the PEM CA the apiserver trusts for the webhook (Server.CABundle). Nil keeps
	// the bundle already in the configuration, which someone else manages (cert-manager's
	// CA injector, for a --webhook-cert-dir).
	CABundle []byte
}

// Configurator keeps the ValidatingWebhookConfiguration's rules equal to the watched resources,
// so that writes to anything else never call the webhook.
type Configurator struct {
	log  *slog.Logger
	kube kubernetes.Interface
	o    ConfigOptions
	mu   sync.Mutex // serializes SetResources
}

// NewConfigurator returns a Configurator for the configuration o.Name.
func NewConfigurator(log *slog.Logger, kube kubernetes.Interface, o ConfigOptions) *Configurator {
	return &Configurator{log: log, kube: kube, o: o}
}

// SetResources makes the configuration's rules match resources. It creates the configuration
// when it is missing (the controller needs RBAC to create it; in cluster it is installed with
// the manifests), updates it when it differs, and writes nothing when it is already right. An
// empty set leaves a webhook with no rules, which matches nothing.
func (c *Configurator) SetResources(ctx context.Context, resources []discovery.Resource) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	rules := rulesFor(resources)
	retriable := func(err error) bool { return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) }
	if err := retry.OnError(retry.DefaultRetry, retriable, func() error { return c.apply(ctx, rules) }); err != nil {
		return fmt.Errorf("configure validatingwebhookconfiguration %s: %w", c.o.Name, err)
	}
	return nil
}

func (c *Configurator) apply(ctx context.Context, rules []admissionregistrationv1.RuleWithOperations) error {
	api := c.kube.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	cur, err := api.Get(ctx, c.o.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: c.o.Name, Labels: map[string]string{"app.kubernetes.io/name": "gitops-reverser"}},
			Webhooks:   []admissionregistrationv1.ValidatingWebhook{c.webhook(rules, nil)},
		}
		if _, err := api.Create(ctx, vwc, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create: %w", err)
		}
		c.log.Info("webhook: configuration created", "name", c.o.Name, "rules", len(rules))
		return nil
	}
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	want := c.webhook(rules, currentCABundle(cur))
	if len(cur.Webhooks) == 1 && equality.Semantic.DeepEqual(cur.Webhooks[0], want) {
		return nil
	}
	next := cur.DeepCopy()
	next.Webhooks = []admissionregistrationv1.ValidatingWebhook{want}
	if _, err := api.Update(ctx, next, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	c.log.Info("webhook: configuration updated", "name", c.o.Name, "rules", len(rules))
	return nil
}

// currentCABundle is the bundle in the configuration: ours by name, else the first webhook's.
func currentCABundle(vwc *admissionregistrationv1.ValidatingWebhookConfiguration) []byte {
	for _, w := range vwc.Webhooks {
		if w.Name == WebhookName {
			return w.ClientConfig.CABundle
		}
	}
	if len(vwc.Webhooks) > 0 {
		return vwc.Webhooks[0].ClientConfig.CABundle
	}
	return nil
}

// webhook is the desired entry with every field the apiserver would default set explicitly,
// so that the stored entry compares equal and an unchanged set writes nothing.
func (c *Configurator) webhook(rules []admissionregistrationv1.RuleWithOperations, existingCA []byte) admissionregistrationv1.ValidatingWebhook {
	failurePolicy := admissionregistrationv1.Ignore
	matchPolicy := admissionregistrationv1.Equivalent
	sideEffects := admissionregistrationv1.SideEffectClassNone
	timeout := TimeoutSeconds
	nsSelector := &metav1.LabelSelector{}
	if c.o.ExcludeNamespace != "" {
		nsSelector.MatchExpressions = []metav1.LabelSelectorRequirement{{
			Key: namespaceNameLabel, Operator: metav1.LabelSelectorOpNotIn, Values: []string{c.o.ExcludeNamespace},
		}}
	}
	return admissionregistrationv1.ValidatingWebhook{
		Name:                    WebhookName,
		ClientConfig:            c.clientConfig(existingCA),
		Rules:                   rules,
		FailurePolicy:           &failurePolicy,
		MatchPolicy:             &matchPolicy,
		NamespaceSelector:       nsSelector,
		ObjectSelector:          &metav1.LabelSelector{},
		SideEffects:             &sideEffects,
		TimeoutSeconds:          &timeout,
		AdmissionReviewVersions: []string{"v1"},
	}
}

func (c *Configurator) clientConfig(existingCA []byte) admissionregistrationv1.WebhookClientConfig {
	cc := admissionregistrationv1.WebhookClientConfig{CABundle: c.o.CABundle}
	if cc.CABundle == nil {
		cc.CABundle = existingCA
	}
	if c.o.URL != "" {
		url := c.o.URL
		cc.URL = &url
		return cc
	}
	port := c.o.ServicePort
	if port == 0 {
		port = defaultServicePort
	}
	path := Path
	cc.Service = &admissionregistrationv1.ServiceReference{
		Namespace: c.o.ServiceNamespace, Name: c.o.ServiceName, Path: &path, Port: &port,
	}
	return cc
}

// rulesFor gives the webhook rules for resources: CREATE, UPDATE and DELETE, one rule per group,
// version and scope, sorted, so the same set always gives the same rules.
func rulesFor(resources []discovery.Resource) []admissionregistrationv1.RuleWithOperations {
	type ruleKey struct {
		group, version string
		scope          admissionregistrationv1.ScopeType
	}
	byKey := map[ruleKey]map[string]bool{}
	for _, r := range resources {
		k := ruleKey{group: r.GVR.Group, version: r.GVR.Version, scope: admissionregistrationv1.ClusterScope}
		if r.Namespaced {
			k.scope = admissionregistrationv1.NamespacedScope
		}
		if byKey[k] == nil {
			byKey[k] = map[string]bool{}
		}
		byKey[k][r.GVR.Resource] = true
		if r.Scale {
			byKey[k][r.GVR.Resource+"/scale"] = true // kubectl scale: credited to the parent
		}
	}
	keys := make([]ruleKey, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.group != b.group {
			return a.group < b.group
		}
		if a.version != b.version {
			return a.version < b.version
		}
		return a.scope < b.scope
	})
	rules := make([]admissionregistrationv1.RuleWithOperations, 0, len(keys))
	for _, k := range keys {
		scope := k.scope
		rules = append(rules, admissionregistrationv1.RuleWithOperations{
			Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update, admissionregistrationv1.Delete},
			Rule: admissionregistrationv1.Rule{
				APIGroups: []string{k.group}, APIVersions: []string{k.version},
				Resources: sortedKeys(byKey[k]), Scope: &scope,
			},
		})
	}
	return rules
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
