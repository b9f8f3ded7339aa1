// Package defaulting is the API server's defaulting, compiled in, for the Clean output: what
// the server fills in when an object is written, so that a file can leave out exactly those
// values.
//
// It owns three things and nothing else (no clients, no informers):
//   - the built-in kinds' defaulting: the RegisterDefaults of every
//     k8s.io/kubernetes/pkg/apis/<group>/<version> of the release this project is built
//     against, in a private runtime.Scheme (Builtin);
//   - the custom resources' defaulting: the defaults of each CRD version's structural schema,
//     fed from live CRDs (Schemas);
//   - which API server versions that defaulting is exact for, and the few defaults that
//     differ between them (ForServer, Exact).
//
// A Defaulter puts them together for one API server; its Kind for an object's kind has D:
// an object in, the object the server would store for it out. A process builds one:
//
//	schemas := defaulting.NewSchemas()             // fed by a CRD informer or a CRD list
//	info, err := discoveryClient.ServerVersion()
//	d, err := defaulting.ForServer(info.Major, info.Minor, schemas)
//	// err wraps ErrNotCovered: d is nil, Clean keeps the defaults; say so once
//
// (a process that runs long makes it with New and calls SetServer again as the server is
// upgraded) and renders with it (snapshot.SanitizeWith, PlainWith, CompactWith, NewRenderingWith).
package defaulting
