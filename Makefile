# gitops-reverser. `make demo` shows it working; `make test` runs every test.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X github.com/gitops-reverser/gitops-reverser/internal/version.Version=$(VERSION) \
	-X github.com/gitops-reverser/gitops-reverser/internal/version.Commit=$(COMMIT)

.PHONY: all build image testbin generate verify-generate test bench demo clean

IMAGE ?= ghcr.io/gitops-reverser/gitops-reverser:$(VERSION)

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/gitops-reverser ./cmd/gitops-reverser

## image: container image (needs a Docker engine with BuildKit; none runs on the dev machines)
image:
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMAGE) .

## testbin: kube-apiserver and etcd built from the Go module proxy into bin/ (skipped when current)
testbin:
	hack/testbin.sh

bin/controller-gen: hack/tools/go.mod
	cd hack/tools && $(GO) build -o ../../bin/controller-gen sigs.k8s.io/controller-tools/cmd/controller-gen

## generate: deepcopy functions and CRD YAML from the Go types in api/ (deploy/crds, copied
## to the Helm chart's crds/)
generate: bin/controller-gen
	bin/controller-gen object:headerFile=hack/boilerplate.go.txt paths=./api/... \
		crd:maxDescLen=400 output:crd:artifacts:config=deploy/crds
	rm -f charts/gitops-reverser/crds/*.yaml
	cp deploy/crds/*.yaml charts/gitops-reverser/crds/

## verify-generate: fails when generated files are stale
verify-generate: generate
	@git diff --exit-code -- api deploy/crds charts/gitops-reverser/crds || { echo "generated files are stale: run make generate"; exit 1; }

test: testbin verify-generate
	$(GO) vet ./...
	$(GO) test -count=1 ./...

## bench: tables of every benchmark beside its baseline measured in the same run
bench: testbin build
	$(GO) test -run='^$$' -bench=. -benchtime=1x -count=1 ./bench/...
	$(GO) test -run='^$$' -bench=BenchmarkHandler -count=1 ./internal/webhook/
	$(GO) test -run='^$$' -bench=. -count=1 ./internal/gitrepo/

demo: testbin build
	hack/testbin.sh kubectl
	hack/demo.sh

clean:
	rm -rf bin demo-repo .demo
