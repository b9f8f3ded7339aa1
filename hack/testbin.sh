#!/usr/bin/env bash
# Builds the living test cluster from the Go module proxy into bin/: kube-apiserver,
# etcd, kube-controller-manager, kube-scheduler and kwok (fake nodes and pods), and,
# with the argument "kubectl", kubectl for make demo. Skips a binary that already
# reports the wanted version.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin"
k8s_version=v1.37.2
etcd_version=3.6.16
kwok_version=v0.8.0
mkdir -p "$bin"

have() { # have BINARY VERSION-ARGS... : prints the version line or nothing
	[ -x "$1" ] && "$@" 2>/dev/null | head -n 3 || true
}

ldflags="-s -w"
for kv in gitVersion=$k8s_version gitMajor=1 gitMinor=37 gitTreeState=clean; do
	ldflags+=" -X k8s.io/component-base/version.$kv"
done

for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
	if ! have "$bin/$cmd" --version | grep -q "Kubernetes $k8s_version"; then
		echo "testbin: building $cmd $k8s_version (several minutes on a cold cache)"
		(cd "$root/hack/testbin/kube" && go build -trimpath -ldflags "$ldflags" -o "$bin/$cmd" "k8s.io/kubernetes/cmd/$cmd")
	fi
done
if [ "${1:-}" = kubectl ] && ! have "$bin/kubectl" version --client | grep -q "$k8s_version"; then
	echo "testbin: building kubectl $k8s_version"
	(cd "$root/hack/testbin/kube" && go build -trimpath -ldflags "$ldflags" -o "$bin/kubectl" k8s.io/kubernetes/cmd/kubectl)
fi
if ! have "$bin/etcd" --version | grep -q "etcd Version: $etcd_version"; then
	echo "testbin: building etcd $etcd_version"
	(cd "$root/hack/testbin/etcd" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd" .)
fi
if ! have "$bin/kwok" --version | grep -q "$kwok_version"; then
	echo "testbin: building kwok $kwok_version"
	(cd "$root/hack/testbin/kwok" && go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$kwok_version" -o "$bin/kwok" sigs.k8s.io/kwok/cmd/kwok)
fi
"$bin/kube-apiserver" --version
