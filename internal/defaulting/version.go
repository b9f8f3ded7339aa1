package defaulting

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The compiled defaulting is k8s.io/kubernetes v1.37's. It is exact for API servers of
// Kubernetes 1.34 to 1.37: the defaulting functions (pkg/apis/*/v*/defaults.go and the
// generated zz_generated.defaults.go) of v1.34.0, v1.35.0 and v1.36.0 were compared with
// v1.37.2's, together with the release default of every feature gate they read
// (pkg/features/kube_features.go). What differs, and how it is handled:
//
//   - apps StatefulSet spec.updateStrategy.rollingUpdate.maxUnavailable (default 1) is
//     defaulted only while MaxUnavailableStatefulSet is on: off in 1.34 (alpha), on in 1.35
//     (beta), off again in 1.36, on in 1.37. For 1.34 and 1.36 it is never left out.
//   - core volumes[].image.pullPolicy of an image volume is defaulted only while ImageVolume
//     is on: off in 1.34 (beta, default off), on from 1.35. For 1.34 it is never left out.
//   - storage CSIDriver spec.preventPodSchedulingIfMissing (default false) is new in 1.37
//     (VolumeLimitScaling, beta, on); 1.35 and 1.36 have it alpha and off, 1.34 not at all.
//     Before 1.37 it is never left out.
//   - scheduling PodGroup spec.disruptionMode ({single: {}}) is new in 1.37 (a declarative
//     default); before 1.37 it is never left out.
//   - admissionregistration/v1 MutatingAdmissionPolicy spec.failurePolicy (1.36),
//     certificates/v1 PodCertificateRequest spec.maxExpirationSeconds and resource/v1
//     DeviceTaintRule (1.37) are defaulted from the release that first serves their version:
//     an older server has no such objects.
//   - Pod: pod-level resources' requests are defaulted from their limits by the defaulting of
//     1.34 to 1.36 and, from 1.37 (PodLevelResourcesFixDefaulting), when the Pod is created
//     instead; a Pod's negative terminationGracePeriodSeconds becomes 1 (1.37, a value no
//     file holds); spec.serviceAccount follows spec.serviceAccountName in defaulting where it
//     followed it in conversion before; SetDefaults_PodStatus and a LoadBalancer Service's
//     status ipMode are status. The 1.37 defaulting leaves none of these out where an older
//     server would not put it back.
//   - resource Device nodeAllocatableResourceMappings[].allocationMultiplier (1.36) and
//     v1beta1 BasicDevice defaults are no longer defaulted in 1.37: kept, as every value the
//     compiled defaulting does not put back.
//   - CustomResourceDefinitions and the structural-schema defaulting of custom resources
//     (k8s.io/apiextensions-apiserver v0.34.0 and v0.37.2) are the same.
//   - JobPodReplacementPolicy (GA in 1.34) and StatefulSetAutoDeletePVC (GA in 1.32) lost
//     their gates: the same defaults. H2CContainerProbe's HTTP probe protocol default and
//     PodGroupPreemptionPolicy are alpha, off in 1.37: not applied.
//
// Feature gates are read at their release defaults (utilfeature.DefaultFeatureGate, never
// changed here): a server whose operator turned a defaulting gate on or off differs, which no
// client can see.
const (
	compiledMinor = 37
	oldestMinor   = 34
)

// exception is a default of the compiled release that servers of some minor versions do not
// apply: a value at path (from the object's root; "*" matches any list item or key) of a kind
// of group is never left out for them.
type exception struct {
	group string
	kinds []string // nil: every kind of the group
	path  []string // matched as a suffix, so that it holds in every pod template
	notIn []int    // the minor versions that do not apply this default
}

var exceptions = []exception{
	{group: "apps", kinds: []string{"StatefulSet"}, path: []string{"spec", "updateStrategy", "rollingUpdate", "maxUnavailable"}, notIn: []int{34, 36}},
	{group: "", path: []string{"volumes", "*", "image", "pullPolicy"}, notIn: []int{34}},
	{group: "apps", path: []string{"volumes", "*", "image", "pullPolicy"}, notIn: []int{34}},
	{group: "batch", path: []string{"volumes", "*", "image", "pullPolicy"}, notIn: []int{34}},
	{group: "storage.k8s.io", kinds: []string{"CSIDriver"}, path: []string{"spec", "preventPodSchedulingIfMissing"}, notIn: []int{34, 35, 36}},
	{group: "scheduling.k8s.io", kinds: []string{"PodGroup"}, path: []string{"spec", "disruptionMode"}, notIn: []int{34, 35, 36}},
}

// ParseVersion reads the major and minor version an API server reports (discovery's
// ServerVersion: "1" and "37", or "37+" on some distributions).
func ParseVersion(major, minor string) (majorN, minorN int, err error) {
	majorN, err = strconv.Atoi(strings.TrimSuffix(major, "+"))
	if err != nil {
		return 0, 0, fmt.Errorf("major version %q: %w", major, err)
	}
	minorN, err = strconv.Atoi(strings.TrimSuffix(minor, "+"))
	if err != nil {
		return 0, 0, fmt.Errorf("minor version %q: %w", minor, err)
	}
	return majorN, minorN, nil
}

// Exact reports whether the compiled defaulting is exact for an API server of Kubernetes
// major.minor (as discovery's ServerVersion gives them): 1.34 to 1.37.
func Exact(major, minor string) bool {
	majorN, minorN, err := ParseVersion(major, minor)
	return err == nil && majorN == 1 && minorN >= oldestMinor && minorN <= compiledMinor
}

// Covered says which versions Exact accepts, for a message: "1.34 to 1.37".
func Covered() string { return fmt.Sprintf("1.%d to 1.%d", oldestMinor, compiledMinor) }

// exceptionsFor are the exceptions that hold against a server of minor version minor.
func exceptionsFor(minor int) []exception {
	var out []exception
	for _, e := range exceptions {
		for _, m := range e.notIn {
			if m == minor {
				out = append(out, e)
			}
		}
	}
	return out
}

// applies reports whether e concerns objects of gk.
func (e exception) applies(gk schema.GroupKind) bool {
	if e.group != gk.Group {
		return false
	}
	if e.kinds == nil {
		return true
	}
	for _, k := range e.kinds {
		if k == gk.Kind {
			return true
		}
	}
	return false
}

// matches reports whether path (map keys as strings, list indexes as ints) ends in e's path.
func (e exception) matches(path []any) bool {
	if len(path) < len(e.path) {
		return false
	}
	tail := path[len(path)-len(e.path):]
	for i, want := range e.path {
		if want == "*" {
			continue
		}
		if s, ok := tail[i].(string); !ok || s != want {
			return false
		}
	}
	return true
}
