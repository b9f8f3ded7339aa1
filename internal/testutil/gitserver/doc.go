// Package gitserver serves real Git remotes for tests: bare repositories under
// t.TempDir() reachable over file://, smart HTTP(S) through `git http-backend`
// and SSH through OpenSSH's sshd, plus inspection of what a remote really holds
// through the git CLI, independent of go-git.
//
// It is a test helper: import it from _test.go files only.
package gitserver
