// Package secrets owns how Kubernetes Secrets are written to Git, as SOPS-encrypted YAML with
// age recipients (README.md, "What ends up in Git": Secrets), and read back (Decrypt, for diff
// and restore).
//
// An Encrypter turns a sanitized Secret, already rendered as deterministic YAML, into the file
// the `sops` CLI would write: apiVersion, kind, metadata and type in clear, the values under
// data and stringData as ENC[AES256_GCM,…], and the `sops:` block last. `sops -d` and Flux's
// kustomize-controller decrypt it with any of the destination's age identities.
//
// SOPS output is not deterministic (a random data key and IVs per file), so "is the file in
// Git up to date?" cannot compare bytes. Instead the controller holds its own age identity
// and adds its public key as an extra recipient to every file it encrypts; Current decrypts
// the file in Git with that identity and compares the plaintext. The extra recipient grants
// nothing new: the controller can already read the cluster's Secrets. The identity lives in
// a Secret in the controller's namespace (LoadOrCreateIdentity), so restarts and the
// snapshot CronJob share it and an unchanged Secret is never re-encrypted.
//
// Only X25519 age recipients ("age1…") are accepted: plugin recipients need binaries the
// controller does not ship, and Flux decrypts with age identities.
package secrets
