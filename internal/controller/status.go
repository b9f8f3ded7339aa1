package controller

import (
	"context"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	"github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/destination"
	"github.com/gitops-reverser/gitops-reverser/internal/writer"
)

// reportStatus sets Ready on every rule, and Ready=False on destinations that cannot be used.
func (mg *manager) reportStatus(ctx context.Context, cfg *destination.Config, problems []destination.Problem) {
	byObject := map[string]destination.Problem{}
	for _, p := range problems {
		byObject[p.Kind+"/"+p.Name.String()] = p
	}
	for i := range cfg.WatchRules {
		r := &cfg.WatchRules[i]
		name := types.NamespacedName{Namespace: r.Namespace, Name: r.Name}
		mg.ruleStatus(ctx, v1alpha1.WatchRules, name, r.Generation, byObject["WatchRule/"+name.String()])
	}
	for i := range cfg.ClusterWatchRules {
		r := &cfg.ClusterWatchRules[i]
		name := types.NamespacedName{Name: r.Name}
		mg.ruleStatus(ctx, v1alpha1.ClusterWatchRules, name, r.Generation, byObject["ClusterWatchRule/"+name.String()])
	}
	for _, p := range problems {
		if p.Kind == "GitDestination" {
			mg.destinationStatus(ctx, p.Name, writer.Status{Reason: p.Reason, Message: p.Message})
		}
	}
}

func (mg *manager) ruleStatus(ctx context.Context, gvr schema.GroupVersionResource, name types.NamespacedName, gen int64, p destination.Problem) {
	cond := metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonWatching, Message: "watching the resources the rules name", ObservedGeneration: gen}
	if p.Reason != "" {
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, p.Reason, p.Message
	}
	mg.patchStatus(ctx, gvr, name, func(st map[string]any) bool {
		changed := setCondition(st, cond)
		if st["observedGeneration"] != gen {
			st["observedGeneration"] = gen
			changed = true
		}
		return changed
	})
}

// destinationStatus writes what a writer reported onto its GitDestination.
func (mg *manager) destinationStatus(ctx context.Context, name types.NamespacedName, s writer.Status) {
	cond := metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: s.Reason, Message: s.Message}
	if s.Ready {
		cond.Status = metav1.ConditionTrue
	}
	var before metav1.Condition
	u := mg.patchStatus(ctx, v1alpha1.GitDestinations, name, func(st map[string]any) bool {
		cond.ObservedGeneration = toInt64(st["_generation"])
		before = readyCondition(st)
		changed := setCondition(st, cond)
		set := func(k string, v any) {
			if fmt.Sprint(st[k]) != fmt.Sprint(v) {
				st[k] = v
				changed = true
			}
		}
		set("observedGeneration", cond.ObservedGeneration)
		if s.LastCommit != "" {
			set("lastCommit", s.LastCommit)
			set("files", int64(s.Files))
		}
		if !s.LastPush.IsZero() {
			set("lastPushTime", s.LastPush.UTC().Format("2006-01-02T15:04:05Z"))
		}
		return changed
	})
	if u != nil && (before.Status != cond.Status || before.Reason != cond.Reason) {
		mg.event(u, cond)
	}
}

// event records a change of a destination's Ready condition as a Kubernetes Event, so
// `kubectl describe` and event-based alerting see failures and recoveries.
func (mg *manager) event(u *unstructured.Unstructured, cond metav1.Condition) {
	if mg.recorder == nil {
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
	mg.recorder.Event(ref, kind, cond.Reason, cond.Message)
}

// readyCondition is the Ready condition in a status map; empty when there is none.
func readyCondition(st map[string]any) metav1.Condition {
	raw, _ := st["conditions"].([]any)
	for _, c := range raw {
		m, _ := c.(map[string]any)
		if m["type"] == v1alpha1.ConditionReady {
			return metav1.Condition{Status: metav1.ConditionStatus(fmt.Sprint(m["status"])), Reason: fmt.Sprint(m["reason"])}
		}
	}
	return metav1.Condition{}
}

// patchStatus reads the object, lets update change its status map (which also holds the
// object's generation under "_generation", removed before writing) and writes it when changed.
// It returns the object written, nil when nothing was.
func (mg *manager) patchStatus(ctx context.Context, gvr schema.GroupVersionResource, name types.NamespacedName, update func(status map[string]any) bool) *unstructured.Unstructured {
	ri := mg.dyn.Resource(gvr).Namespace(name.Namespace)
	var written *unstructured.Unstructured
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		u, err := ri.Get(ctx, name.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		st, _, _ := unstructured.NestedMap(u.Object, "status")
		if st == nil {
			st = map[string]any{}
		}
		st["_generation"] = u.GetGeneration()
		changed := update(st)
		delete(st, "_generation")
		if !changed {
			return nil
		}
		u.Object["status"] = st
		written, err = ri.UpdateStatus(ctx, u, metav1.UpdateOptions{})
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		slog.Warn("status update failed", "resource", gvr.Resource, "name", name.String(), "err", err)
	}
	return written
}

// setCondition sets cond in status.conditions the way meta.SetStatusCondition does, keeping
// lastTransitionTime when the status did not change. It reports whether anything changed.
func setCondition(st map[string]any, cond metav1.Condition) bool {
	var conds []metav1.Condition
	if raw, ok := st["conditions"].([]any); ok {
		for _, c := range raw {
			var mc metav1.Condition
			if m, ok := c.(map[string]any); ok && runtime.DefaultUnstructuredConverter.FromUnstructured(m, &mc) == nil {
				conds = append(conds, mc)
			}
		}
	}
	if !meta.SetStatusCondition(&conds, cond) {
		return false
	}
	out := make([]any, 0, len(conds))
	for i := range conds {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&conds[i])
		if err == nil {
			out = append(out, m)
		}
	}
	st["conditions"] = out
	return true
}

func toInt64(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	default:
		return 0
	}
}
