package gitserver

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// SlowPushes makes every push to the remote take at least d, through a pre-receive hook, so
// that changes made while a push is in flight are likely rather than lucky.
func (r *Remote) SlowPushes(t testing.TB, d time.Duration) {
	t.Helper()
	hook := fmt.Sprintf("#!/bin/sh\nsleep %.3f\n", d.Seconds())
	writeFile(t, filepath.Join(r.Dir, "hooks", "pre-receive"), []byte(hook), 0o755)
}
