// Package oneshot owns the commands that run once and exit, as a CronJob or from a laptop:
// `snapshot` (every GitDestination of the cluster, or one repository with --repo), `diff` (a
// revision against the live cluster) and `restore` (a revision back into the cluster). Each builds
// its clients (internal/cluster), loads its destinations (internal/destination), lists the
// objects in pages, runs the resync algorithm (internal/resync) and reports a summary line per
// destination and, for a GitDestination, its status (internal/status), as the controller does.
package oneshot
