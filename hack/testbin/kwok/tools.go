//go:build tools

// Throwaway module that builds kwok (fake nodes and pods for the living test cluster) from the
// Go module proxy. Not part of the gitops-reverser module.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
