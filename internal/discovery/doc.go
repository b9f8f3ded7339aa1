// Package discovery owns turning watch rules into the set of resources to watch, from API
// discovery (and, later, the informers for them).
//
// Resolution is pure: Fetch takes a Catalog from the server once, and Resolve maps rules onto
// it, so the same Catalog and rules always give the same sorted list of resources.
//
// Informers then runs one dynamic informer per resource, each started and stopped on its own.
package discovery
