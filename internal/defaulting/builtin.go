package defaulting

import (
	"fmt"
	"reflect"
	"sync"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	admissionregistrationv1alpha1 "k8s.io/api/admissionregistration/v1alpha1"
	admissionregistrationv1beta1 "k8s.io/api/admissionregistration/v1beta1"
	appsv1 "k8s.io/api/apps/v1"
	appsv1beta1 "k8s.io/api/apps/v1beta1"
	appsv1beta2 "k8s.io/api/apps/v1beta2"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	batchv1beta1 "k8s.io/api/batch/v1beta1"
	certificatesv1 "k8s.io/api/certificates/v1"
	certificatesv1beta1 "k8s.io/api/certificates/v1beta1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	discoveryv1beta1 "k8s.io/api/discovery/v1beta1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	flowcontrolv1beta1 "k8s.io/api/flowcontrol/v1beta1"
	flowcontrolv1beta2 "k8s.io/api/flowcontrol/v1beta2"
	flowcontrolv1beta3 "k8s.io/api/flowcontrol/v1beta3"
	networkingv1 "k8s.io/api/networking/v1"
	networkingv1beta1 "k8s.io/api/networking/v1beta1"
	rbacv1 "k8s.io/api/rbac/v1"
	rbacv1alpha1 "k8s.io/api/rbac/v1alpha1"
	rbacv1beta1 "k8s.io/api/rbac/v1beta1"
	resourcev1 "k8s.io/api/resource/v1"
	resourcev1alpha3 "k8s.io/api/resource/v1alpha3"
	resourcev1beta1 "k8s.io/api/resource/v1beta1"
	resourcev1beta2 "k8s.io/api/resource/v1beta2"
	schedulingv1 "k8s.io/api/scheduling/v1"
	schedulingv1alpha3 "k8s.io/api/scheduling/v1alpha3"
	schedulingv1beta1 "k8s.io/api/scheduling/v1beta1"
	storagev1 "k8s.io/api/storage/v1"
	storagev1alpha1 "k8s.io/api/storage/v1alpha1"
	storagev1beta1 "k8s.io/api/storage/v1beta1"
	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kadmissionregistration "k8s.io/kubernetes/pkg/apis/admissionregistration"
	kadmissionregistrationv1 "k8s.io/kubernetes/pkg/apis/admissionregistration/v1"
	kadmissionregistrationv1alpha1 "k8s.io/kubernetes/pkg/apis/admissionregistration/v1alpha1"
	kadmissionregistrationv1beta1 "k8s.io/kubernetes/pkg/apis/admissionregistration/v1beta1"
	kapps "k8s.io/kubernetes/pkg/apis/apps"
	kappsv1 "k8s.io/kubernetes/pkg/apis/apps/v1"
	kappsv1beta1 "k8s.io/kubernetes/pkg/apis/apps/v1beta1"
	kappsv1beta2 "k8s.io/kubernetes/pkg/apis/apps/v1beta2"
	kautoscaling "k8s.io/kubernetes/pkg/apis/autoscaling"
	kautoscalingv1 "k8s.io/kubernetes/pkg/apis/autoscaling/v1"
	kautoscalingv2 "k8s.io/kubernetes/pkg/apis/autoscaling/v2"
	kbatch "k8s.io/kubernetes/pkg/apis/batch"
	kbatchv1 "k8s.io/kubernetes/pkg/apis/batch/v1"
	kbatchv1beta1 "k8s.io/kubernetes/pkg/apis/batch/v1beta1"
	kcertificates "k8s.io/kubernetes/pkg/apis/certificates"
	kcertificatesv1 "k8s.io/kubernetes/pkg/apis/certificates/v1"
	kcertificatesv1beta1 "k8s.io/kubernetes/pkg/apis/certificates/v1beta1"
	kcore "k8s.io/kubernetes/pkg/apis/core"
	kcorev1 "k8s.io/kubernetes/pkg/apis/core/v1"
	kdiscovery "k8s.io/kubernetes/pkg/apis/discovery"
	kdiscoveryv1 "k8s.io/kubernetes/pkg/apis/discovery/v1"
	kdiscoveryv1beta1 "k8s.io/kubernetes/pkg/apis/discovery/v1beta1"
	kextensions "k8s.io/kubernetes/pkg/apis/extensions"
	kextensionsv1beta1 "k8s.io/kubernetes/pkg/apis/extensions/v1beta1"
	kflowcontrol "k8s.io/kubernetes/pkg/apis/flowcontrol"
	kflowcontrolv1 "k8s.io/kubernetes/pkg/apis/flowcontrol/v1"
	kflowcontrolv1beta1 "k8s.io/kubernetes/pkg/apis/flowcontrol/v1beta1"
	kflowcontrolv1beta2 "k8s.io/kubernetes/pkg/apis/flowcontrol/v1beta2"
	kflowcontrolv1beta3 "k8s.io/kubernetes/pkg/apis/flowcontrol/v1beta3"
	knetworking "k8s.io/kubernetes/pkg/apis/networking"
	knetworkingv1 "k8s.io/kubernetes/pkg/apis/networking/v1"
	knetworkingv1beta1 "k8s.io/kubernetes/pkg/apis/networking/v1beta1"
	kpolicy "k8s.io/kubernetes/pkg/apis/policy"
	krbac "k8s.io/kubernetes/pkg/apis/rbac"
	krbacv1 "k8s.io/kubernetes/pkg/apis/rbac/v1"
	krbacv1alpha1 "k8s.io/kubernetes/pkg/apis/rbac/v1alpha1"
	krbacv1beta1 "k8s.io/kubernetes/pkg/apis/rbac/v1beta1"
	kresource "k8s.io/kubernetes/pkg/apis/resource"
	kresourcev1 "k8s.io/kubernetes/pkg/apis/resource/v1"
	kresourcev1alpha3 "k8s.io/kubernetes/pkg/apis/resource/v1alpha3"
	kresourcev1beta1 "k8s.io/kubernetes/pkg/apis/resource/v1beta1"
	kresourcev1beta2 "k8s.io/kubernetes/pkg/apis/resource/v1beta2"
	kscheduling "k8s.io/kubernetes/pkg/apis/scheduling"
	kschedulingv1 "k8s.io/kubernetes/pkg/apis/scheduling/v1"
	kschedulingv1alpha3 "k8s.io/kubernetes/pkg/apis/scheduling/v1alpha3"
	kschedulingv1beta1 "k8s.io/kubernetes/pkg/apis/scheduling/v1beta1"
	kstorage "k8s.io/kubernetes/pkg/apis/storage"
	kstoragev1 "k8s.io/kubernetes/pkg/apis/storage/v1"
	kstoragev1alpha1 "k8s.io/kubernetes/pkg/apis/storage/v1alpha1"
	kstoragev1beta1 "k8s.io/kubernetes/pkg/apis/storage/v1beta1"
)

// group is one API group version: its types (k8s.io/api) and the defaulting the API server
// registers for them (k8s.io/kubernetes). Groups without defaulting functions (policy,
// coordination, node, events, ...) are not here: nothing of theirs is defaulted beyond what
// their types' serialization already gives.
type group struct {
	gv          schema.GroupVersion
	types       *runtime.SchemeBuilder
	defaults    func(*runtime.Scheme) error
	conversions func(*runtime.Scheme) error
	// own is true when types and defaulting are one package's (apiextensions-apiserver): its
	// SchemeBuilder has always held its defaulting, and is left as it is.
	own bool
}

// groups are the API group versions with defaulting functions in the compiled release.
var groups = []group{
	{admissionregistrationv1.SchemeGroupVersion, &admissionregistrationv1.SchemeBuilder, kadmissionregistrationv1.RegisterDefaults, kadmissionregistrationv1.RegisterConversions, false},
	{admissionregistrationv1alpha1.SchemeGroupVersion, &admissionregistrationv1alpha1.SchemeBuilder, kadmissionregistrationv1alpha1.RegisterDefaults, kadmissionregistrationv1alpha1.RegisterConversions, false},
	{admissionregistrationv1beta1.SchemeGroupVersion, &admissionregistrationv1beta1.SchemeBuilder, kadmissionregistrationv1beta1.RegisterDefaults, kadmissionregistrationv1beta1.RegisterConversions, false},
	{appsv1.SchemeGroupVersion, &appsv1.SchemeBuilder, kappsv1.RegisterDefaults, kappsv1.RegisterConversions, false},
	{appsv1beta1.SchemeGroupVersion, &appsv1beta1.SchemeBuilder, kappsv1beta1.RegisterDefaults, kappsv1beta1.RegisterConversions, false},
	{appsv1beta2.SchemeGroupVersion, &appsv1beta2.SchemeBuilder, kappsv1beta2.RegisterDefaults, kappsv1beta2.RegisterConversions, false},
	{autoscalingv1.SchemeGroupVersion, &autoscalingv1.SchemeBuilder, kautoscalingv1.RegisterDefaults, kautoscalingv1.RegisterConversions, false},
	{autoscalingv2.SchemeGroupVersion, &autoscalingv2.SchemeBuilder, kautoscalingv2.RegisterDefaults, kautoscalingv2.RegisterConversions, false},
	{batchv1.SchemeGroupVersion, &batchv1.SchemeBuilder, kbatchv1.RegisterDefaults, kbatchv1.RegisterConversions, false},
	{batchv1beta1.SchemeGroupVersion, &batchv1beta1.SchemeBuilder, kbatchv1beta1.RegisterDefaults, kbatchv1beta1.RegisterConversions, false},
	{certificatesv1.SchemeGroupVersion, &certificatesv1.SchemeBuilder, kcertificatesv1.RegisterDefaults, kcertificatesv1.RegisterConversions, false},
	{certificatesv1beta1.SchemeGroupVersion, &certificatesv1beta1.SchemeBuilder, kcertificatesv1beta1.RegisterDefaults, kcertificatesv1beta1.RegisterConversions, false},
	{corev1.SchemeGroupVersion, &corev1.SchemeBuilder, kcorev1.RegisterDefaults, kcorev1.RegisterConversions, false},
	{discoveryv1.SchemeGroupVersion, &discoveryv1.SchemeBuilder, kdiscoveryv1.RegisterDefaults, kdiscoveryv1.RegisterConversions, false},
	{discoveryv1beta1.SchemeGroupVersion, &discoveryv1beta1.SchemeBuilder, kdiscoveryv1beta1.RegisterDefaults, kdiscoveryv1beta1.RegisterConversions, false},
	{extensionsv1beta1.SchemeGroupVersion, &extensionsv1beta1.SchemeBuilder, kextensionsv1beta1.RegisterDefaults, kextensionsv1beta1.RegisterConversions, false},
	{flowcontrolv1.SchemeGroupVersion, &flowcontrolv1.SchemeBuilder, kflowcontrolv1.RegisterDefaults, kflowcontrolv1.RegisterConversions, false},
	{flowcontrolv1beta1.SchemeGroupVersion, &flowcontrolv1beta1.SchemeBuilder, kflowcontrolv1beta1.RegisterDefaults, kflowcontrolv1beta1.RegisterConversions, false},
	{flowcontrolv1beta2.SchemeGroupVersion, &flowcontrolv1beta2.SchemeBuilder, kflowcontrolv1beta2.RegisterDefaults, kflowcontrolv1beta2.RegisterConversions, false},
	{flowcontrolv1beta3.SchemeGroupVersion, &flowcontrolv1beta3.SchemeBuilder, kflowcontrolv1beta3.RegisterDefaults, kflowcontrolv1beta3.RegisterConversions, false},
	{networkingv1.SchemeGroupVersion, &networkingv1.SchemeBuilder, knetworkingv1.RegisterDefaults, knetworkingv1.RegisterConversions, false},
	{networkingv1beta1.SchemeGroupVersion, &networkingv1beta1.SchemeBuilder, knetworkingv1beta1.RegisterDefaults, knetworkingv1beta1.RegisterConversions, false},
	{rbacv1.SchemeGroupVersion, &rbacv1.SchemeBuilder, krbacv1.RegisterDefaults, krbacv1.RegisterConversions, false},
	{rbacv1alpha1.SchemeGroupVersion, &rbacv1alpha1.SchemeBuilder, krbacv1alpha1.RegisterDefaults, krbacv1alpha1.RegisterConversions, false},
	{rbacv1beta1.SchemeGroupVersion, &rbacv1beta1.SchemeBuilder, krbacv1beta1.RegisterDefaults, krbacv1beta1.RegisterConversions, false},
	{resourcev1.SchemeGroupVersion, &resourcev1.SchemeBuilder, kresourcev1.RegisterDefaults, kresourcev1.RegisterConversions, false},
	{resourcev1alpha3.SchemeGroupVersion, &resourcev1alpha3.SchemeBuilder, kresourcev1alpha3.RegisterDefaults, kresourcev1alpha3.RegisterConversions, false},
	{resourcev1beta1.SchemeGroupVersion, &resourcev1beta1.SchemeBuilder, kresourcev1beta1.RegisterDefaults, kresourcev1beta1.RegisterConversions, false},
	{resourcev1beta2.SchemeGroupVersion, &resourcev1beta2.SchemeBuilder, kresourcev1beta2.RegisterDefaults, kresourcev1beta2.RegisterConversions, false},
	{schedulingv1.SchemeGroupVersion, &schedulingv1.SchemeBuilder, kschedulingv1.RegisterDefaults, kschedulingv1.RegisterConversions, false},
	{schedulingv1alpha3.SchemeGroupVersion, &schedulingv1alpha3.SchemeBuilder, kschedulingv1alpha3.RegisterDefaults, kschedulingv1alpha3.RegisterConversions, false},
	{schedulingv1beta1.SchemeGroupVersion, &schedulingv1beta1.SchemeBuilder, kschedulingv1beta1.RegisterDefaults, kschedulingv1beta1.RegisterConversions, false},
	{storagev1.SchemeGroupVersion, &storagev1.SchemeBuilder, kstoragev1.RegisterDefaults, kstoragev1.RegisterConversions, false},
	{storagev1alpha1.SchemeGroupVersion, &storagev1alpha1.SchemeBuilder, kstoragev1alpha1.RegisterDefaults, kstoragev1alpha1.RegisterConversions, false},
	{storagev1beta1.SchemeGroupVersion, &storagev1beta1.SchemeBuilder, kstoragev1beta1.RegisterDefaults, kstoragev1beta1.RegisterConversions, false},
	{apiextensionsv1.SchemeGroupVersion, &apiextensionsv1.SchemeBuilder, apiextensionsv1.RegisterDefaults, apiextensionsv1.RegisterConversions, true},
}

// internal are the API server's internal versions of the groups, which an object is converted
// to and back from as the server does when it stores and serves it (a StatefulSet's claim
// templates get their apiVersion and kind there).
var internal = []func(*runtime.Scheme) error{
	kadmissionregistration.AddToScheme, kapps.AddToScheme, kautoscaling.AddToScheme, kbatch.AddToScheme,
	kcertificates.AddToScheme, kcore.AddToScheme, kdiscovery.AddToScheme, kextensions.AddToScheme,
	kflowcontrol.AddToScheme, knetworking.AddToScheme, kpolicy.AddToScheme, krbac.AddToScheme,
	kresource.AddToScheme, kscheduling.AddToScheme, kstorage.AddToScheme, apiextensionsinternal.AddToScheme,
}

// pristine is the length of each group's k8s.io/api SchemeBuilder before k8s.io/kubernetes
// appended to it: that package's register.go makes it with addKnownTypes alone.
const pristine = 1

// init undoes what importing k8s.io/kubernetes/pkg/apis/... did in its own init: each such
// package appends its defaulting and conversion functions to the SchemeBuilder of k8s.io/api,
// so every scheme built later with k8s.io/api's AddToScheme (client-go's, controller-runtime's,
// a test's) would default objects it decodes. This package's init runs after theirs (it
// imports them), and before any code that imports this package; the functions are registered
// explicitly into the private scheme instead.
func init() {
	for _, g := range groups {
		if !g.own && len(*g.types) > pristine {
			*g.types = (*g.types)[:pristine]
		}
	}
}

// invisible are kinds whose defaulting changes nothing a file shows, left out so that they
// cost nothing: SetDefaults_ConfigMap makes a nil data map empty, and an empty data map is not
// written (omitempty).
var invisible = map[schema.GroupKind]bool{
	{Kind: "ConfigMap"}:     true,
	{Kind: "ConfigMapList"}: true,
}

// Builtin is the defaulting of the built-in kinds of the compiled release, built once.
type Builtin struct {
	scheme *runtime.Scheme
	kinds  map[schema.GroupVersionKind]reflect.Type // kinds with a defaulting function
}

// NewBuiltin returns the built-in defaulting, built on first use and shared: it is immutable.
var NewBuiltin = sync.OnceValue(func() *Builtin {
	b, err := newBuiltin()
	if err != nil {
		panic(fmt.Sprintf("defaulting: build the built-in scheme: %v", err)) // compiled-in tables: a bug, not an input
	}
	return b
})

func newBuiltin() (*Builtin, error) {
	s := runtime.NewScheme()
	for _, add := range internal {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("internal types: %w", err)
		}
	}
	for _, g := range groups {
		if err := g.types.AddToScheme(s); err != nil {
			return nil, fmt.Errorf("%s types: %w", g.gv, err)
		}
		if err := g.defaults(s); err != nil {
			return nil, fmt.Errorf("%s defaults: %w", g.gv, err)
		}
		if err := g.conversions(s); err != nil {
			return nil, fmt.Errorf("%s conversions: %w", g.gv, err)
		}
	}
	b := &Builtin{scheme: s, kinds: map[schema.GroupVersionKind]reflect.Type{}}
	for gvk, t := range s.AllKnownTypes() {
		if !invisible[gvk.GroupKind()] && hasDefaulter(s, t) {
			b.kinds[gvk] = t
		}
	}
	return b, nil
}

// hasDefaulter reports whether s has a defaulting function for objects of type t. The scheme
// does not say, so it is asked to default a nil *t: without a function that does nothing,
// with one the function reaches through the nil pointer and panics (every generated
// SetObjectDefaults_ reads its argument's fields).
func hasDefaulter(s *runtime.Scheme, t reflect.Type) (has bool) {
	obj, ok := reflect.Zero(reflect.PointerTo(t)).Interface().(runtime.Object)
	if !ok {
		return false
	}
	defer func() {
		if recover() != nil {
			has = true
		}
	}()
	s.Default(obj)
	return false
}

// Has reports whether objects of gvk have built-in defaulting.
func (b *Builtin) Has(gvk schema.GroupVersionKind) bool {
	_, ok := b.kinds[gvk]
	return ok
}

// Default is D for a built-in object: obj (unstructured content) converted to its own typed
// kind, defaulted as the API server does, and converted back. obj is not modified. A kind
// without defaulting is returned as it is. Fields the typed kind does not know are dropped,
// as the API server drops them.
func (b *Builtin) Default(gvk schema.GroupVersionKind, obj map[string]any) (out map[string]any, err error) {
	t, ok := b.kinds[gvk]
	if !ok {
		return obj, nil
	}
	// The API server validates what it defaults; a live object is valid, but this runs in
	// the controller on whatever a watch brings, and a defaulting function that trips on an
	// unexpected shape must cost one object its short file, not the process.
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("defaulting %s: %v", gvk, r)
		}
	}()
	typed, err := b.typed(t, obj)
	if err != nil {
		return nil, err
	}
	b.scheme.Default(typed)
	if typed, err = b.throughInternal(gvk, typed); err != nil {
		return nil, err
	}
	out, err = runtime.DefaultUnstructuredConverter.ToUnstructured(typed)
	if err != nil {
		return nil, fmt.Errorf("defaulting %s: %w", gvk, err)
	}
	return out, nil
}

// throughInternal is typed, an object of gvk, converted to the internal version and back, as
// the API server stores and serves it; as it is when the group has no internal version here.
func (b *Builtin) throughInternal(gvk schema.GroupVersionKind, typed runtime.Object) (runtime.Object, error) {
	in, err := b.scheme.New(schema.GroupVersionKind{Group: gvk.Group, Version: runtime.APIVersionInternal, Kind: gvk.Kind})
	if err != nil {
		return typed, nil
	}
	if err := b.scheme.Convert(typed, in, nil); err != nil {
		return nil, fmt.Errorf("convert %s to internal: %w", gvk, err)
	}
	out, err := b.scheme.New(gvk)
	if err != nil {
		return nil, fmt.Errorf("new %s: %w", gvk, err)
	}
	if err := b.scheme.Convert(in, out, nil); err != nil {
		return nil, fmt.Errorf("convert internal to %s: %w", gvk, err)
	}
	return out, nil
}

// typed is obj as a new object of type t.
func (b *Builtin) typed(t reflect.Type, obj map[string]any) (runtime.Object, error) {
	typed := reflect.New(t).Interface().(runtime.Object)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, typed); err != nil {
		return nil, fmt.Errorf("convert to %s: %w", t, err)
	}
	return typed, nil
}
