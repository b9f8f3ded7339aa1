// Package webhook tells who made a change: it owns the validating admission webhook that
// gitops-reverser uses to learn the Kubernetes username behind each write.
//
// It has four parts, each usable on its own:
//   - Cache: a bounded, expiring map from (group, resource, namespace, name, operation, hash of
//     the sanitized object) to username, keeping a fixed-size digest of that Key, so an entry
//     costs the same whatever a request held. Both sides of the match build their Key in key.go:
//     the handler from an admission request, Cache.Author from a watch event (a delete, a
//     write, or a scale of its parent), hashing the same Full rendering, so they agree.
//   - Handler: the /validate endpoint. It always allows, ignores dry-run requests, records the
//     requesting user, and answers malformed requests with 400: bad JSON, oversized bodies,
//     objects nested deeper than snapshot.MaxDepth, usernames over MaxUsernameBytes.
//   - Server: HTTPS for the handler, with a certificate directory that is reloaded when its files
//     change, or a self-signed CA and serving certificate made at start-up; with a client CA it
//     serves only callers presenting a certificate of that CA (the kube-apiserver).
//   - Configurator: keeps the ValidatingWebhookConfiguration's rules equal to the resources the
//     controller watches, so writes to anything else never reach the webhook.
//
// The webhook never denies anything and is registered with failurePolicy Ignore: when it is
// down, writes succeed and their commits are authored by the committer identity.
package webhook
