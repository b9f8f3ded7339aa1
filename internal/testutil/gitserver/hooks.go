package gitserver

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// SlowPushes makes every push to the remote take at least d, through a pre-receive hook, so
// that changes made while a push is in flight are likely rather than lucky.
func (r *Remote) SlowPushes(t testing.TB, d time.Duration) {
	t.Helper()
	r.SignalPushes(t, d)
}

// SignalPushes is SlowPushes that also reports, through the returned function, whether a push
// has reached the remote since: a test can then act while that push is in flight.
func (r *Remote) SignalPushes(t testing.TB, d time.Duration) (started func() bool) {
	t.Helper()
	marker := filepath.Join(t.TempDir(), "push-started")
	hook := fmt.Sprintf("#!/bin/sh\ntouch '%s'\nsleep %.3f\n", marker, d.Seconds())
	writeFile(t, filepath.Join(r.Dir, "hooks", "pre-receive"), []byte(hook), 0o755)
	return func() bool {
		_, err := os.Stat(marker)
		return err == nil
	}
}
