#!/usr/bin/env bash
# Builds kube-apiserver of the Kubernetes minor versions before the compiled one (the
# versions the compiled defaulting covers, see the README) into bin/kube-apiserver-<version>,
# from the Go module proxy. Each is a throwaway module in bin/.kube-<version>: k8s.io/kubernetes
# at that version with its staging modules replaced by their published v0 releases, as
# hack/testbin/kube does for the current one. Skips a binary that already reports its version.
# About 15 minutes each on 2 cores with a cold Go cache.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin"
versions=${APISERVER_VERSIONS:-v1.34.4 v1.35.4 v1.36.3}
mkdir -p "$bin"
for v in $versions; do
	out="$bin/kube-apiserver-$v"
	if [ -x "$out" ] && "$out" --version 2>/dev/null | grep -q "Kubernetes $v$"; then
		continue
	fi
	echo "apiservers: building kube-apiserver $v (about 15 minutes on a cold cache)"
	minor=${v#v1.}
	minor=${minor%%.*}
	staging_version="v0.${v#v1.}"
	mod="$bin/.kube-$v"
	mkdir -p "$mod"
	gomod=$(cd "$mod" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$v" | jq -r .GoMod)
	{
		echo "module gitops-reverser/bin/kube-$v"
		echo
		echo "go 1.26.0"
		echo
		echo "require k8s.io/kubernetes $v"
		echo
		echo "replace ("
		grep -E '=> ./staging/' "$gomod" | awk -v sv="$staging_version" '{print "\t" $1 " => " $1 " " sv}'
		echo ")"
	} >"$mod/go.mod"
	printf '//go:build tools\n\npackage tools\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n' >"$mod/tools.go"
	ldflags="-s -w"
	for kv in gitVersion=$v gitMajor=1 gitMinor=$minor gitTreeState=clean; do
		ldflags+=" -X k8s.io/component-base/version.$kv"
	done
	(cd "$mod" && go mod tidy && go build -trimpath -ldflags "$ldflags" -o "$out" k8s.io/kubernetes/cmd/kube-apiserver)
	"$out" --version
done
