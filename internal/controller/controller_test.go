package controller

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/gitops-reverser/gitops-reverser/internal/change"
	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

func TestOptionsResyncSchedule(t *testing.T) {
	base := time.Date(2026, 11, 25, 22, 30, 0, 0, time.UTC)
	tests := []struct {
		name    string
		opts    Options
		want    time.Time // zero: no periodic resync
		wantErr string
	}{
		{name: "interval", opts: Options{ResyncInterval: 10 * time.Minute, DiscoveryInterval: time.Second}, want: base.Add(10 * time.Minute)},
		{name: "disabled", opts: Options{DiscoveryInterval: time.Second}},
		{name: "cron wins", opts: Options{ResyncInterval: time.Minute, ResyncSchedule: "0 3 * * *", DiscoveryInterval: time.Second}, want: time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)},
		{name: "bad cron", opts: Options{ResyncSchedule: "every tuesday", DiscoveryInterval: time.Second}, wantErr: "--resync-schedule"},
		{name: "negative interval", opts: Options{ResyncInterval: -time.Second, DiscoveryInterval: time.Second}, wantErr: "--resync-interval"},
		{name: "leader election without namespace", opts: Options{LeaderElect: true, DiscoveryInterval: time.Second}, wantErr: "--namespace"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Validate() = %v, want an error about %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			next, _ := tc.opts.nextResync()
			var got time.Time
			if next != nil {
				got = next(base)
			}
			if !got.Equal(tc.want) {
				t.Errorf("next resync = %v, want %v", got, tc.want)
			}
		})
	}
}

type noEvents struct{}

func (noEvents) OnEvent(discovery.Resource, change.Op, snapshot.Object) {}

// TestReadyDoesNotWaitForeverOnAnInformer: a resource that can never be listed (no RBAC)
// delays readiness, but not for good.
func TestReadyDoesNotWaitForeverOnAnInformer(t *testing.T) {
	cms := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{cms: "ConfigMapList"})
	client.PrependReactor("list", "configmaps", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(cms.GroupResource(), "", errors.New("no RBAC"))
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mg := &refresher{informers: discovery.NewInformers(slog.New(slog.DiscardHandler), client, noEvents{})}
	mg.informers.Set(ctx, []discovery.Resource{{GVR: cms, Kind: "ConfigMap", Namespaced: true}})

	if err := mg.ready(); err == nil || !strings.Contains(err.Error(), "rules") {
		t.Errorf("before the first refresh: %v", err)
	}
	mg.refreshedAt.Store(time.Now().UnixNano())
	if err := mg.ready(); err == nil || !strings.Contains(err.Error(), "informers") {
		t.Errorf("right after the first refresh, with an unsynced informer: %v", err)
	}
	mg.refreshedAt.Store(time.Now().Add(-syncGrace - time.Second).UnixNano())
	if err := mg.ready(); err != nil {
		t.Errorf("after the grace period: %v", err)
	}
}
