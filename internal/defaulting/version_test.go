package defaulting

import (
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestExact(t *testing.T) {
	for _, tc := range []struct {
		major, minor string
		want         bool
	}{
		{"1", "37", true},
		{"1", "34", true},
		{"1", "35+", true}, // as some distributions report it
		{"1", "33", false},
		{"1", "38", false},
		{"2", "0", false},
		{"", "", false},
		{"1", "x", false},
	} {
		if got := Exact(tc.major, tc.minor); got != tc.want {
			t.Errorf("Exact(%q, %q) = %v, want %v", tc.major, tc.minor, got, tc.want)
		}
		d, err := ForServer(tc.major, tc.minor, nil)
		if (err == nil) != tc.want || (d != nil) != tc.want || (err != nil && !errors.Is(err, ErrNotCovered)) {
			t.Errorf("ForServer(%q, %q) = %v, %v; want a Defaulter: %v", tc.major, tc.minor, d, err, tc.want)
		}
	}
}

func TestUnsure(t *testing.T) {
	sts := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}
	deploy := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	csi := schema.GroupVersionKind{Group: "storage.k8s.io", Version: "v1", Kind: "CSIDriver"}
	maxUnavailable := []any{"spec", "updateStrategy", "rollingUpdate", "maxUnavailable"}
	imagePull := []any{"spec", "template", "spec", "volumes", 0, "image", "pullPolicy"}
	prevent := []any{"spec", "preventPodSchedulingIfMissing"}
	for _, tc := range []struct {
		minor string
		gvk   schema.GroupVersionKind
		path  []any
		want  bool
	}{
		{"34", sts, maxUnavailable, true},
		{"35", sts, maxUnavailable, false},
		{"36", sts, maxUnavailable, true},
		{"37", sts, maxUnavailable, false},
		{"34", deploy, imagePull, true},
		{"35", deploy, imagePull, false},
		{"36", csi, prevent, true},
		{"37", csi, prevent, false},
		{"34", deploy, maxUnavailable, false},
	} {
		d, _ := ForServer("1", tc.minor, nil)
		if got := d.For(tc.gvk).Unsure(tc.path); got != tc.want {
			t.Errorf("1.%s %s Unsure(%v) = %v, want %v", tc.minor, tc.gvk.Kind, tc.path, got, tc.want)
		}
	}
}

// TestSetServer: a Defaulter follows its server through upgrades; changed says when files
// rendered before may differ.
func TestSetServer(t *testing.T) {
	d := New(nil)
	deploy := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	sts := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}
	maxUnavailable := []any{"spec", "updateStrategy", "rollingUpdate", "maxUnavailable"}
	if d.For(deploy) != nil {
		t.Fatal("a Defaulter never set defaults")
	}
	for _, step := range []struct {
		minor       string
		changed, on bool
	}{
		{"33", false, false},
		{"34", true, true},
		{"34", false, true},
		{"35", true, true}, // another minor: other exceptions
		{"38", true, false},
		{"37", true, true},
	} {
		changed, err := d.SetServer("1", step.minor)
		if changed != step.changed || (err == nil) != step.on || (d.For(deploy) != nil) != step.on {
			t.Errorf("SetServer(1.%s) = %v, %v, defaults: %v; want changed %v, defaults %v", step.minor, changed, err, d.For(deploy) != nil, step.changed, step.on)
		}
	}
	if d.For(sts).Unsure(maxUnavailable) {
		t.Error("after 1.37, an exception of an earlier version still holds")
	}
}
