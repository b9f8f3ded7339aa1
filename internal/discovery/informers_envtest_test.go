package discovery_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gitops-reverser/gitops-reverser/internal/change"
	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

var env *kubetest.Env

func TestMain(m *testing.M) { kubetest.Main(m, &env) }

// seen is one event of the watched ConfigMap: op, and its data value as the cached object's
// file holds it.
type seen struct {
	Op    string
	Value string
}

// configMapEvents records events of one ConfigMap.
type configMapEvents struct {
	namespace, name string
	ch              chan seen
}

func (h *configMapEvents) OnEvent(_ discovery.Resource, op change.Op, obj snapshot.Object) {
	if obj.GetNamespace() != h.namespace || obj.GetName() != h.name {
		return
	}
	file, err := snapshot.NewRendering(obj).Plain(snapshot.Full)
	if err != nil {
		file = []byte(err.Error())
	}
	_, v, _ := strings.Cut(string(file), "\n  k: ")
	h.ch <- seen{Op: op.String(), Value: strings.TrimSpace(v)}
}

func TestInformersAPIServer(t *testing.T) {
	// Unique: envtest runs no namespace controller, so a deleted namespace stays terminating.
	ns := "informers-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	c := kubetest.NewClient(t, env.Config)
	c.Namespace(t, ns)
	h := &configMapEvents{namespace: ns, name: "demo", ch: make(chan seen, 10)}
	inf := discovery.NewInformers(slog.New(slog.DiscardHandler), c.Dynamic, h)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	configMaps := discovery.Resource{GVR: kubetest.GVR("", "v1", "configmaps"), Kind: "ConfigMap", Namespaced: true}

	started, _ := inf.Set(ctx, []discovery.Resource{configMaps})
	if len(started) != 1 || started[0] != configMaps.GVR {
		t.Fatalf("started %v, want only configmaps", started)
	}
	if !inf.WaitSynced(ctx) {
		t.Fatal("configmaps informer not synced")
	}

	doc := func(v string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\n  namespace: " + ns + "\ndata:\n  k: " + v + "\n"
	}
	c.Create(t, doc("one"))
	c.Update(t, doc("two"))
	c.Delete(t, doc("two"))
	var got []seen
	for len(got) < 3 {
		select {
		case e := <-h.ch:
			got = append(got, e)
		case <-ctx.Done():
			t.Fatalf("events before the deadline: %+v", got)
		}
	}
	want := []seen{{Op: "CREATE", Value: "one"}, {Op: "UPDATE", Value: "two"}, {Op: "DELETE", Value: "two"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}

	_, stopped := inf.Set(ctx, nil)
	if len(stopped) != 1 || stopped[0] != configMaps.GVR || inf.Len() != 0 {
		t.Errorf("Set(nil): stopped %v, Len %d; want configmaps stopped and none running", stopped, inf.Len())
	}
	if err := inf.Each(ctx, configMaps, ns, nil, func(snapshot.Object) {}); !errors.Is(err, discovery.ErrNotSynced) {
		t.Errorf("Each after stop = %v, want ErrNotSynced", err)
	}
}
