package controller

import (
	"context"

	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"

	"github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/destination"
	"github.com/gitops-reverser/gitops-reverser/internal/status"
)

// reportStatus sets Ready on every rule, and Ready=False on destinations that cannot be used.
func (rf *refresher) reportStatus(ctx context.Context, cfg *destination.Config, problems []destination.Problem) {
	byObject := map[string]destination.Problem{}
	for _, p := range problems {
		byObject[p.Kind+"/"+p.Name.String()] = p
	}
	for i := range cfg.WatchRules {
		name := types.NamespacedName{Namespace: cfg.WatchRules[i].Namespace, Name: cfg.WatchRules[i].Name}
		p := byObject["WatchRule/"+name.String()]
		status.WriteRule(ctx, rf.log, rf.clients.Dynamic, v1alpha1.WatchRules, name, p.Reason, p.Message)
	}
	for i := range cfg.ClusterWatchRules {
		name := types.NamespacedName{Name: cfg.ClusterWatchRules[i].Name}
		p := byObject["ClusterWatchRule/"+name.String()]
		status.WriteRule(ctx, rf.log, rf.clients.Dynamic, v1alpha1.ClusterWatchRules, name, p.Reason, p.Message)
	}
	for _, p := range problems {
		if p.Kind == "GitDestination" {
			rf.destinationStatus(ctx, p.Name, status.Destination{Reason: p.Reason, Message: p.Message})
		}
	}
}

// destinationStatus writes what a writer reported onto its GitDestination, and records an
// Event when Ready changes.
func (rf *refresher) destinationStatus(ctx context.Context, name types.NamespacedName, s status.Destination) {
	u, before, after := status.WriteDestination(ctx, rf.log, rf.clients.Dynamic, name, s)
	if u != nil && (before.Status != after.Status || before.Reason != after.Reason) {
		rf.event(u, after)
	}
}

// event records a change of a destination's Ready condition as a Kubernetes Event, so
// `kubectl describe` and event-based alerting see failures and recoveries.
func (rf *refresher) event(u interface {
	GetNamespace() string
	GetName() string
	GetUID() types.UID
	GetResourceVersion() string
}, cond metav1.Condition) {
	if rf.recorder == nil {
		return
	}
	ref := &corev1.ObjectReference{
		APIVersion: v1alpha1.GroupVersion.String(), Kind: "GitDestination",
		Namespace: u.GetNamespace(), Name: u.GetName(), UID: u.GetUID(), ResourceVersion: u.GetResourceVersion(),
	}
	kind := corev1.EventTypeNormal
	if cond.Status != metav1.ConditionTrue {
		kind = corev1.EventTypeWarning
	}
	rf.recorder.Event(ref, kind, cond.Reason, cond.Message)
}

// recordEvents starts recording Kubernetes Events; stop flushes and ends it. It outlives ctx,
// so the outcome of the writers' final flushes, which run after ctx ended, is recorded too.
func (rf *refresher) recordEvents(ctx context.Context) (stop func()) {
	broadcaster := record.NewBroadcaster(record.WithContext(context.WithoutCancel(ctx)))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: rf.clients.Kube.CoreV1().Events("")})
	rf.recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "gitops-reverser"})
	return broadcaster.Shutdown
}
