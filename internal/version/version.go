// Package version holds the build's version, set with -ldflags at build time.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set by `make build` through -ldflags -X.
var (
	Version = "dev"
	Commit  = ""
)

// String is what `gitops-reverser version` prints.
func String() string {
	commit := Commit
	if commit == "" {
		commit = vcsRevision()
	}
	return fmt.Sprintf("gitops-reverser %s (commit %s, %s)", Version, commit, runtime.Version())
}

func vcsRevision() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}
