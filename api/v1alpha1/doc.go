// Package v1alpha1 holds the reverser.gitops.dev/v1alpha1 API: GitDestination (where and how to
// write), WatchRule and ClusterWatchRule (what to watch).
// +kubebuilder:object:generate=true
// +groupName=reverser.gitops.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of this package.
var GroupVersion = schema.GroupVersion{Group: "reverser.gitops.dev", Version: "v1alpha1"}

// Resources of this API, as the dynamic client names them.
var (
	GitDestinations   = GroupVersion.WithResource("gitdestinations")
	WatchRules        = GroupVersion.WithResource("watchrules")
	ClusterWatchRules = GroupVersion.WithResource("clusterwatchrules")
)

// Condition types and reasons shared by the three kinds.
const (
	ConditionReady = "Ready"

	ReasonSynced               = "Synced"
	ReasonAuthenticationFailed = "AuthenticationFailed"
	ReasonRemoteUnreachable    = "RemoteUnreachable"
	ReasonInvalidSpec          = "InvalidSpec"
	ReasonPushFailed           = "PushFailed"
	ReasonRepositoryNotFound   = "RepositoryNotFound"
	ReasonCertificateInvalid   = "CertificateInvalid"
	ReasonDestinationNotFound  = "DestinationNotFound"
	ReasonNoMatchingResources  = "NoMatchingResources"
	ReasonWatching             = "Watching"
	// ReasonIdentityUnavailable: the controller's own age identity Secret (in its namespace)
	// cannot be read or created; not the user's spec, and retried.
	ReasonIdentityUnavailable = "IdentityUnavailable"
	// ReasonObjectsNotRendered: the last sync wrote everything else, but some objects cannot
	// be written (nested deeper than the limit): their files are kept as they are.
	ReasonObjectsNotRendered = "ObjectsNotRendered"
	// ReasonSigningKeyInvalid: the signing Secret is missing or its key cannot be read (a
	// wrong passphrase included); nothing is pushed unsigned.
	ReasonSigningKeyInvalid = "SigningKeyInvalid"
	// ReasonSuspended: spec.suspend is set; changes wait until it is cleared.
	ReasonSuspended = "Suspended"
)
