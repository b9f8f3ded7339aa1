package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GitDestinationSpec says where objects are written and how commits are made.
type GitDestinationSpec struct {
	// URL of the repository: https://, http://, ssh://user@host[:port]/path, git@host:path or file:///path.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^(https?://|ssh://|file:///|[A-Za-z0-9._-]+@[^:/]+:).+')",message="url must be https://, http://, ssh://, file:/// or scp-like user@host:path"
	URL string `json:"url"`

	// Branch to write; created when the remote lacks it.
	// +kubebuilder:default=main
	// +kubebuilder:validation:MinLength=1
	// +optional
	Branch string `json:"branch,omitempty"`

	// BaseFolder is the folder in the repository that holds the files; "" is the root.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && !self.split('/').exists(p, p == '..')",message="baseFolder must be relative and must not contain '..'"
	// +optional
	BaseFolder string `json:"baseFolder,omitempty"`

	// SecretRef names a Secret in the same namespace with the credentials: username + password
	// or bearerToken (and optional ca.crt) for HTTPS; identity (or ssh-privatekey), optional
	// password and known_hosts for SSH.
	// +optional
	SecretRef *LocalSecretReference `json:"secretRef,omitempty"`

	// CommitWindow folds changes by one author within the window into one commit; 0s is one
	// commit per change.
	// +kubebuilder:default="2s"
	// +optional
	CommitWindow *metav1.Duration `json:"commitWindow,omitempty"`

	// Committer identity of every commit, and author when the author is unknown.
	// +optional
	Committer *Committer `json:"committer,omitempty"`

	// Prune deletes files of objects that no longer exist (orphans) under baseFolder.
	// +kubebuilder:default=true
	// +optional
	Prune *bool `json:"prune,omitempty"`

	// Encryption of Secrets. Without it Secrets are never written.
	// +optional
	Encryption *Encryption `json:"encryption,omitempty"`

	// Output is what a file holds of its object. Clean: only the fields some field manager
	// set (metadata.managedFields), so the server's defaults are left out; an object without
	// managedFields is written in full. Full: every field. Both leave out what the server owns
	// (status, uid, resourceVersion, ...). Changing it rewrites the files in one commit.
	// +kubebuilder:validation:Enum=Clean;Full
	// +kubebuilder:default=Clean
	// +optional
	Output Output `json:"output,omitempty"`

	// Signing signs every commit with the key in a Secret; a key that cannot be used makes the
	// destination Ready=False and nothing is pushed unsigned.
	// +optional
	Signing *Signing `json:"signing,omitempty"`

	// Suspend stops commits and pushes; changes wait and nothing is lost. Resuming writes
	// what happened meanwhile, as one resync, with the authors of changes still pending.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// Signing names the key commits are signed with.
type Signing struct {
	// SecretRef names a Secret in the same namespace holding `identity` (an SSH private key)
	// or `git.asc` (an armored OpenPGP private key), and an optional `passphrase`.
	SecretRef LocalSecretReference `json:"secretRef"`
}

// Output is what a file holds of its object: Clean or Full.
type Output string

const (
	OutputClean Output = "Clean"
	OutputFull  Output = "Full"
)

// LocalSecretReference names a Secret in the object's namespace.
type LocalSecretReference struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// Committer is a Git identity.
type Committer struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// +kubebuilder:validation:MinLength=1
	Email string `json:"email"`
}

// Encryption configures SOPS encryption of Secrets.
type Encryption struct {
	// AgeRecipients are age public keys (age1...) that can decrypt the Secrets.
	// +kubebuilder:validation:MinItems=1
	AgeRecipients []string `json:"ageRecipients"`
}

// GitDestinationStatus is what happened last.
type GitDestinationStatus struct {
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// LastCommit is the branch head after the last successful push.
	// +optional
	LastCommit string `json:"lastCommit,omitempty"`
	// +optional
	LastPushTime *metav1.Time `json:"lastPushTime,omitempty"`
	// Files is the number of object files under baseFolder after the last sync.
	// +optional
	Files int `json:"files,omitempty"`
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// LastHandledReconcileAt is the last value of the reverser.gitops.dev/requestedAt
	// annotation whose full resync was started (Flux's convention).
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`
}

// ReconcileRequestAnnotation set to a new value starts a full resync at once.
const ReconcileRequestAnnotation = "reverser.gitops.dev/requestedAt"

// GitDestination is a Git repository branch and folder that objects are written to.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=gitdest
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.spec.url`,priority=1
// +kubebuilder:printcolumn:name="Branch",type=string,JSONPath=`.spec.branch`
// +kubebuilder:printcolumn:name="Suspended",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Last Commit",type=string,JSONPath=`.status.lastCommit`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type GitDestination struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   GitDestinationSpec   `json:"spec"`
	Status GitDestinationStatus `json:"status,omitempty"`
}

// GitDestinationList is a list of GitDestinations.
// +kubebuilder:object:root=true
type GitDestinationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GitDestination `json:"items"`
}
