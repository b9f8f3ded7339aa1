// Package deploy holds the install manifests of gitops-reverser: the kustomize base
// (`kubectl apply -k deploy/`), the opt-in components/secrets component and the examples.
// It has no code; its tests render the manifests with kustomize and validate every object
// against a real API server.
package deploy
