# gitops-reverser. `make demo` shows it working; `make test` runs every test.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X github.com/gitops-reverser/gitops-reverser/internal/version.Version=$(VERSION) \
	-X github.com/gitops-reverser/gitops-reverser/internal/version.Commit=$(COMMIT)

.PHONY: all build image image-push test-image testbin generate verify-generate test test-versions bench demo clean

IMAGE ?= ghcr.io/gitops-reverser/gitops-reverser:$(VERSION)

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/gitops-reverser ./cmd/gitops-reverser

## image: the container image for $(PLATFORMS) without a Docker daemon (hack/image, its own Go
## module, with go-containerregistry): static binary, CA certificates ($(CA_BUNDLE), from Debian's
## ca-certificates), nonroot user 65532, no shell; written as an OCI image layout to $(IMAGE_DIR),
## named $(IMAGE). The Dockerfile builds the same for those who use Docker.
IMAGE_DIR ?= bin/image
PLATFORMS ?= linux/amd64,linux/arm64
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
IMAGE_BUILD = $(GO) run -C hack/image . -go '$(GO)' -src '$(CURDIR)' -ldflags '$(LDFLAGS)' \
	-version '$(VERSION)' -revision '$(COMMIT)' -created '$(SOURCE_DATE_EPOCH)' \
	-platforms '$(PLATFORMS)' -ca '$(abspath $(CA_BUNDLE))' -image '$(IMAGE)' -out '$(abspath $(IMAGE_DIR))'
image:
	$(IMAGE_BUILD)

## image-push: make image, then push it to the registry as $(IMAGE) (credentials from
## ~/.docker/config.json: crane auth login or docker login)
image-push:
	$(IMAGE_BUILD) -push

## test-image: builds the image with `make image` and checks its config and layers, and runs
## the binary taken from it
test-image:
	cd hack/image && $(GO) vet ./... && $(GO) test -count=1 -timeout 30m ./...

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
	$(MAKE) --no-print-directory test-image

## test-versions: the Clean tests against kube-apiserver of every older minor version the
## compiled defaulting covers (hack/apiservers.sh builds them into bin/: about 15 minutes each
## on a cold Go cache, so make test leaves them out)
OLDER_APISERVERS ?= v1.34.4 v1.35.4 v1.36.3
test-versions: testbin
	APISERVER_VERSIONS='$(OLDER_APISERVERS)' hack/apiservers.sh
	for v in $(OLDER_APISERVERS); do \
		echo "test-versions: kube-apiserver $$v"; \
		TEST_ASSET_KUBE_APISERVER=$(CURDIR)/bin/kube-apiserver-$$v $(GO) test -count=1 \
			-run 'TestCleanMadeAnyWay|TestCleanCorpus|TestRunCRDDefaults' ./internal/snapshot/ ./cmd/gitops-reverser/ || exit 1; \
	done

## bench: tables of every benchmark beside its baseline measured in the same run
bench: testbin build
	hack/testbin.sh kubectl
	$(GO) test -run='^$$' -bench=. -benchtime=1x -count=1 ./bench/...
	$(GO) test -run='^$$' -bench=BenchmarkHandler -count=1 ./internal/webhook/
	$(GO) test -run='^$$' -bench=. -count=1 ./internal/gitrepo/
	$(GO) test -run='^$$' -bench=BenchmarkRender -benchmem -count=1 ./internal/snapshot/

demo: testbin build
	hack/testbin.sh kubectl
	hack/demo.sh

clean:
	rm -rf bin demo-repo .demo
