// Package writer owns one GitDestination at run time: its pending changes (grouped into
// commits by the commit package), the pushes, the periodic full resync, the backoff while the
// remote fails, and the state reported on the destination's status.
//
// It keeps state, not queues: pending changes are a map by path, so however many events arrive
// while the remote is down, memory grows with the number of changed files only, and one push
// brings Git to the current cluster state when the remote is back.
package writer
