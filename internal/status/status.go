// Package status owns what gitops-reverser writes on the status of its three kinds: the Ready
// condition with its reason, and a GitDestination's last commit, push time and file count.
package status

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"

	"github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
	"github.com/go-git/go-git/v5/plumbing"
)

// Destination is what is known about a GitDestination after an attempt.
type Destination struct {
	Ready      bool
	Reason     string
	Message    string
	LastCommit string
	LastPush   time.Time
	Files      int
	// LastHandledReconcileAt echoes the requestedAt annotation whose resync was handled.
	LastHandledReconcileAt string
}

// Synced is the status after a sync that succeeded: Ready with the files at head (zero: an empty
// branch), the push time when pushed, or Ready=False ObjectsNotRendered while objects could
// not be rendered (unrendered says which; "" when all were). The controller's writers and the
// snapshot command report it alike.
func Synced(files int, head plumbing.Hash, pushed bool, unrendered string) Destination {
	s := Destination{Ready: true, Reason: v1alpha1.ReasonSynced, Files: files}
	at := "an empty branch"
	if !head.IsZero() {
		s.LastCommit = head.String()
		at = head.String()[:12]
	}
	s.Message = fmt.Sprintf("%d files at %s", files, at)
	if pushed {
		s.LastPush = time.Now()
	}
	if unrendered != "" {
		s.Ready, s.Reason, s.Message = false, v1alpha1.ReasonObjectsNotRendered, unrendered
	}
	return s
}

// With is s with note added to its message ("" adds nothing): something true of every sync
// that does not make the destination unready.
func (s Destination) With(note string) Destination {
	if note != "" {
		s.Message += "; " + note
	}
	return s
}

// Failed is the status after a failed attempt.
func Failed(err error) Destination {
	return Destination{Reason: Reason(err), Message: err.Error()}
}

// Reason is the Ready condition reason for a failed Git operation.
func Reason(err error) string {
	switch {
	case errors.Is(err, gitrepo.ErrAuthentication):
		return v1alpha1.ReasonAuthenticationFailed
	case errors.Is(err, gitrepo.ErrCertificate):
		return v1alpha1.ReasonCertificateInvalid
	case errors.Is(err, gitrepo.ErrUnreachable):
		return v1alpha1.ReasonRemoteUnreachable
	case errors.Is(err, gitrepo.ErrRepositoryNotFound):
		return v1alpha1.ReasonRepositoryNotFound
	case errors.Is(err, gitrepo.ErrInvalidOptions):
		return v1alpha1.ReasonInvalidSpec
	case errors.Is(err, gitrepo.ErrSigning):
		return v1alpha1.ReasonSigningKeyInvalid
	default:
		return v1alpha1.ReasonPushFailed
	}
}

// WriteDestination writes s onto the GitDestination. It returns the object written (nil when
// nothing changed or it failed) and the Ready condition before and after.
func WriteDestination(ctx context.Context, log *slog.Logger, dyn dynamic.Interface, name types.NamespacedName, s Destination) (*unstructured.Unstructured, metav1.Condition, metav1.Condition) {
	// A condition message is one line, whatever error text it came from.
	msg := strings.Join(strings.Fields(s.Message), " ")
	cond := metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: s.Reason, Message: msg}
	if s.Ready {
		cond.Status = metav1.ConditionTrue
	}
	var before metav1.Condition
	u := patch(ctx, log, dyn, v1alpha1.GitDestinations, name, func(st map[string]any, gen int64) bool {
		cond.ObservedGeneration = gen
		before = readyCondition(st)
		changed := setCondition(st, cond)
		set := func(k string, v any) {
			if fmt.Sprint(st[k]) != fmt.Sprint(v) {
				st[k] = v
				changed = true
			}
		}
		set("observedGeneration", gen)
		if s.LastCommit != "" {
			set("lastCommit", s.LastCommit)
			set("files", int64(s.Files))
		}
		if !s.LastPush.IsZero() {
			set("lastPushTime", s.LastPush.UTC().Format(time.RFC3339))
		}
		if s.LastHandledReconcileAt != "" {
			set("lastHandledReconcileAt", s.LastHandledReconcileAt)
		}
		return changed
	})
	return u, before, cond
}

// WriteRule sets the Ready condition of a WatchRule or ClusterWatchRule: Watching, or False
// with the problem's reason and message.
func WriteRule(ctx context.Context, log *slog.Logger, dyn dynamic.Interface, gvr schema.GroupVersionResource, name types.NamespacedName, reason, message string) {
	cond := metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonWatching, Message: "watching the resources the rules name"}
	if reason != "" {
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, reason, message
	}
	patch(ctx, log, dyn, gvr, name, func(st map[string]any, gen int64) bool {
		cond.ObservedGeneration = gen
		changed := setCondition(st, cond)
		if st["observedGeneration"] != gen {
			st["observedGeneration"] = gen
			changed = true
		}
		return changed
	})
}

// patch reads the object, lets update change its status map (given the object's generation)
// and writes it when changed. It returns the object written, nil when nothing was.
func patch(ctx context.Context, log *slog.Logger, dyn dynamic.Interface, gvr schema.GroupVersionResource, name types.NamespacedName, update func(status map[string]any, generation int64) bool) *unstructured.Unstructured {
	ri := dyn.Resource(gvr).Namespace(name.Namespace)
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
		if !update(st, u.GetGeneration()) {
			return nil
		}
		u.Object["status"] = st
		written, err = ri.UpdateStatus(ctx, u, metav1.UpdateOptions{})
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		log.Warn("status update failed", "resource", gvr.Resource, "name", name.String(), "err", err)
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
