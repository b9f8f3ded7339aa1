#!/usr/bin/env bash
# make demo: a local control plane (unless KUBECONFIG points at a reachable cluster), sample
# objects, a standalone snapshot into ./demo-repo, then the controller picking up a live change.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin="$root/bin"
state="$root/.demo"
rm -rf "$state" "$root/demo-repo"
mkdir -p "$state"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ -n "${KUBECONFIG:-}" ] && "$bin/kubectl" version >/dev/null 2>&1; then
	step "using the cluster of KUBECONFIG=$KUBECONFIG"
	"$bin/kubectl" apply -f deploy/crds/ >/dev/null
else
	step "starting a local cluster: kube-apiserver, etcd, controller-manager, scheduler, two kwok Nodes (from bin/)"
	export KUBECONFIG="$state/kubeconfig"
	go build -o "$state/controlplane" ./hack/controlplane
	"$state/controlplane" -kubeconfig "$KUBECONFIG" >"$state/controlplane.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 1 120); do [ -s "$KUBECONFIG" ] && break; sleep 0.5; done
	[ -s "$KUBECONFIG" ] || { cat "$state/controlplane.log"; exit 1; }
fi
kubectl() { "$bin/kubectl" "$@"; }

step "sample objects: kubectl apply -f hack/demo/objects.yaml"
kubectl apply -f testdata/crds/icecreamorders.shop.example.com.yaml >/dev/null
kubectl wait --for condition=Established crd/icecreamorders.shop.example.com >/dev/null
kubectl apply -f hack/demo/objects.yaml
kubectl -n shop rollout status deployment/storefront --timeout=60s
kubectl get nodes
kubectl -n shop get pods -o wide

step "gitops-reverser snapshot --repo ./demo-repo -n shop"
"$bin/gitops-reverser" snapshot --repo ./demo-repo -n shop \
	--resources configmaps,secrets,services,deployments.apps,icecreamorders.shop.example.com

step "git log --stat (demo-repo)"
git -C demo-repo log --stat --format='%h %an <%ae>%n    %s%n'
step "demo-repo/shop/deployments.apps/storefront.yaml"
cat demo-repo/shop/deployments.apps/storefront.yaml
step "the Secret is not written without encryption:"
grep -r never-in-git demo-repo/ && exit 1 || echo "no trace of its value in demo-repo"

step "the controller: GitDestination + WatchRule, gitops-reverser run"
remote="$state/remote.git"
git init -q --bare --initial-branch=main "$remote"
sed "s|REMOTE|$remote|" hack/demo/controller.yaml | kubectl apply -f -
"$bin/gitops-reverser" run --metrics-addr 127.0.0.1:0 --health-addr 127.0.0.1:0 \
	--discovery-interval 5s --cache-dir "$state/cache" --log-level warn --namespace default \
	--webhook-addr 127.0.0.1:19443 --webhook-url https://127.0.0.1:19443/validate \
	--webhook-config-name gitops-reverser-demo &
pids+=($!)
wait_for() { # wait_for DESCRIPTION COMMAND...
	for _ in $(seq 1 60); do "${@:2}" >/dev/null 2>&1 && return 0; sleep 0.5; done
	echo "timed out waiting for $1"; exit 1
}
wait_for "the backfill commit" git -C "$remote" rev-parse --verify -q refs/heads/main
kubectl get gitdestinations,watchrules -n shop

wait_for "the webhook configuration" kubectl get validatingwebhookconfiguration gitops-reverser-demo

step "a live change: kubectl set image deployment/storefront web=nginx:1.28"
before=$(git -C "$remote" rev-parse main)
kubectl -n shop set image deployment/storefront web=nginx:1.28
wait_for "the live commit" bash -c "[ \"\$(git -C '$remote' rev-parse main)\" != '$before' ]"
git -C "$remote" log --stat --format='%h %an <%ae>%n    %s%n%n%b' -2
git -C "$remote" show main:clusters/demo/shop/deployments.apps/storefront.yaml | grep -n image:

step "done: ./demo-repo holds the snapshot, $remote the controller's history"
