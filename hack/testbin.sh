#!/usr/bin/env bash
# Builds kube-apiserver and etcd (and, with the argument "kubectl", kubectl) from
# the Go module proxy into bin/. Skips a binary that already reports the wanted
# version. Tests need only the first two; make demo also wants kubectl.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin"
k8s_version=v1.37.2
etcd_version=3.6.16
mkdir -p "$bin"

have() { # have BINARY VERSION-ARGS... : prints the version line or nothing
	[ -x "$1" ] && "$@" 2>/dev/null | head -n 3 || true
}

ldflags="-s -w"
for kv in gitVersion=$k8s_version gitMajor=1 gitMinor=37 gitTreeState=clean; do
	ldflags+=" -X k8s.io/component-base/version.$kv"
done

if ! have "$bin/kube-apiserver" --version | grep -q "Kubernetes $k8s_version"; then
	echo "testbin: building kube-apiserver $k8s_version (several minutes on a cold cache)"
	(cd "$root/hack/testbin/kube" && go build -trimpath -ldflags "$ldflags" -o "$bin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
fi
if [ "${1:-}" = kubectl ] && ! have "$bin/kubectl" version --client | grep -q "$k8s_version"; then
	echo "testbin: building kubectl $k8s_version"
	(cd "$root/hack/testbin/kube" && go build -trimpath -ldflags "$ldflags" -o "$bin/kubectl" k8s.io/kubernetes/cmd/kubectl)
fi
if ! have "$bin/etcd" --version | grep -q "etcd Version: $etcd_version"; then
	echo "testbin: building etcd $etcd_version"
	(cd "$root/hack/testbin/etcd" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd" .)
fi
"$bin/kube-apiserver" --version
