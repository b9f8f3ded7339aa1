// Package snapshot turns live Kubernetes objects into the files gitops-reverser writes to Git.
//
// It owns three pure steps and nothing else (no clients, no Git):
//   - Sanitize strips what the API server and controllers own (status, uid, managedFields,
//     allocated cluster IPs, ...) so that a file re-applies cleanly to a fresh cluster;
//     SanitizeWith in the Clean output first keeps only the fields some field manager set
//     (the union of the managedFields field sets), then leaves out every value the API
//     server's defaulting would put back (withoutDefaults, with a defaulting.Defaulter);
//   - Marshal/Render write the result as deterministic YAML: same object, same bytes;
//   - Path/ParsePath map an object to its repository path and back, and Tree holds the desired
//     file map of one GitDestination.
//
// Secrets are never rendered as plaintext: Render refuses them with ErrSecret.
package snapshot
