package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ResourceRule selects resources by group, version and plural name.
type ResourceRule struct {
	// APIGroups: "" is the core group, "*" all groups.
	// +kubebuilder:validation:MinItems=1
	APIGroups []string `json:"apiGroups"`
	// Resources are plural names ("configmaps"), "*" for all; subresources are not allowed.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:items:Pattern=`^[^/]+$`
	Resources []string `json:"resources"`
	// APIVersions to watch; empty means the group's preferred version.
	// +optional
	APIVersions []string `json:"apiVersions,omitempty"`
}

// DestinationRef names a GitDestination in the rule's namespace.
type DestinationRef struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// WatchRuleSpec selects objects in the rule's own namespace.
type WatchRuleSpec struct {
	DestinationRef DestinationRef `json:"destinationRef"`
	// +kubebuilder:validation:MinItems=1
	Rules []ResourceRule `json:"rules"`
	// ObjectSelector limits the rule to objects with matching labels.
	// +optional
	ObjectSelector *metav1.LabelSelector `json:"objectSelector,omitempty"`
	// IncludeSystemObjects writes the objects the control plane makes and keeps up to date by
	// itself (kube-root-ca.crt, the kubernetes Service, auto-updated RBAC and API priority
	// objects, ...), which are left out by default, for the resources the rules name
	// explicitly ("*" never includes them). Applied to another cluster they would fight or
	// break that cluster's own copies.
	// +optional
	IncludeSystemObjects bool `json:"includeSystemObjects,omitempty"`

	// ExcludeFieldManagers are field managers whose writes are not this controller's business
	// (GitOps tools writing from their own repositories: kustomize-controller, helm-controller,
	// argocd-controller): an object whose every non-status field they own is not written, and
	// its file is pruned as when it leaves the rule.
	// +optional
	ExcludeFieldManagers []string `json:"excludeFieldManagers,omitempty"`

	// ExcludeUsers are Kubernetes usernames whose writes make no commit of their own.
	// +optional
	ExcludeUsers []string `json:"excludeUsers,omitempty"`
}

// RuleStatus is the state of a WatchRule or ClusterWatchRule.
type RuleStatus struct {
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// WatchRule writes objects of its own namespace to a GitDestination in the same namespace.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Destination",type=string,JSONPath=`.spec.destinationRef.name`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type WatchRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   WatchRuleSpec `json:"spec"`
	Status RuleStatus    `json:"status,omitempty"`
}

// WatchRuleList is a list of WatchRules.
// +kubebuilder:object:root=true
type WatchRuleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []WatchRule `json:"items"`
}

// ClusterResourceRule is a ResourceRule with a scope.
type ClusterResourceRule struct {
	ResourceRule `json:",inline"`
	// Scope limits the rule to cluster-scoped or namespaced resources.
	// +kubebuilder:validation:Enum=Cluster;Namespaced;"*"
	// +kubebuilder:default="*"
	// +optional
	Scope string `json:"scope,omitempty"`
}

// ClusterDestinationRef names a GitDestination in any namespace.
type ClusterDestinationRef struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// +kubebuilder:validation:MinLength=1
	Namespace string `json:"namespace"`
}

// ClusterWatchRuleSpec selects objects across the cluster.
type ClusterWatchRuleSpec struct {
	DestinationRef ClusterDestinationRef `json:"destinationRef"`
	// +kubebuilder:validation:MinItems=1
	Rules []ClusterResourceRule `json:"rules"`
	// NamespaceSelector limits namespaced objects to namespaces with matching labels.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	// ObjectSelector limits the rule to objects with matching labels.
	// +optional
	ObjectSelector *metav1.LabelSelector `json:"objectSelector,omitempty"`
	// IncludeSystemObjects writes the objects the control plane makes and keeps up to date by
	// itself (kube-root-ca.crt, the kubernetes Service, auto-updated RBAC and API priority
	// objects, ...), which are left out by default, for the resources the rules name
	// explicitly ("*" never includes them). Applied to another cluster they would fight or
	// break that cluster's own copies.
	// +optional
	IncludeSystemObjects bool `json:"includeSystemObjects,omitempty"`

	// ExcludeFieldManagers are field managers whose writes are not this controller's business
	// (GitOps tools writing from their own repositories: kustomize-controller, helm-controller,
	// argocd-controller): an object whose every non-status field they own is not written, and
	// its file is pruned as when it leaves the rule.
	// +optional
	ExcludeFieldManagers []string `json:"excludeFieldManagers,omitempty"`

	// ExcludeUsers are Kubernetes usernames whose writes make no commit of their own.
	// +optional
	ExcludeUsers []string `json:"excludeUsers,omitempty"`
}

// ClusterWatchRule writes objects from the whole cluster to a GitDestination.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Destination",type=string,JSONPath=`.spec.destinationRef.name`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterWatchRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ClusterWatchRuleSpec `json:"spec"`
	Status RuleStatus           `json:"status,omitempty"`
}

// ClusterWatchRuleList is a list of ClusterWatchRules.
// +kubebuilder:object:root=true
type ClusterWatchRuleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterWatchRule `json:"items"`
}
