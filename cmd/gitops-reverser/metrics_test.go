package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Failed commits and pushes are counted per destination, and a destination's series go with it.
func TestRunMetricsPerDestination(t *testing.T) {
	const ns = "metrics"
	c, remote := liveSetup(t, ns, "  commitWindow: 0s\n")
	hook := filepath.Join(remote.Dir, "hooks", "pre-receive")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\necho refused >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c.Create(t, configMap(ns, "app", "v: \"1\""))
	p := startController(t)
	const dest = `destination="` + ns + `/git"`
	waitMetric(t, p, "failed commit and push", func(m string) bool {
		return hasSeries(m, "gitops_reverser_pushes_total{"+dest+`,result="error"}`) &&
			hasSeries(m, "gitops_reverser_commits_total{"+dest+`,result="error"}`)
	})

	if err := os.Remove(hook); err != nil {
		t.Fatal(err)
	}
	// The failed first resync is retried when its backoff ends, with nothing else to wake it.
	waitFile(t, remote, ns+"/configmaps/app.yaml", configMapFile(ns, "app", "v: \"1\""))
	c.Create(t, configMap(ns, "later", "v: \"1\""))
	waitFile(t, remote, ns+"/configmaps/later.yaml", configMapFile(ns, "later", "v: \"1\""))
	waitMetric(t, p, "successful push", func(m string) bool {
		return hasSeries(m, "gitops_reverser_pushes_total{"+dest+`,result="success"}`) &&
			hasSeries(m, "gitops_reverser_objects_tracked{"+dest+"}")
	})

	c.Delete(t, destinationYAML(ns, "git", remote.URL, ""))
	waitMetric(t, p, "no series of the deleted destination", func(m string) bool {
		return !strings.Contains(m, dest)
	})
}

// hasSeries reports whether the exposition m has a series named exactly so, with a value above 0.
func hasSeries(m, series string) bool {
	for line := range strings.Lines(m) {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return strings.TrimSpace(v) != "0"
		}
	}
	return false
}

func waitMetric(t *testing.T, p *controllerProc, what string, cond func(string) bool) {
	t.Helper()
	eventually(t, 45*time.Second, what, func() (bool, string) {
		_, body := httpGet("http://" + p.metrics + "/metrics")
		var ours []string
		for line := range strings.Lines(body) {
			if strings.Contains(line, "destination=") {
				ours = append(ours, strings.TrimSpace(line))
			}
		}
		return cond(body), strings.Join(ours, "; ")
	})
}
