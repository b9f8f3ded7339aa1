# syntax=docker/dockerfile:1
# gitops-reverser image: a static binary on distroless, running as 65532 (nonroot).
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg COMMIT=$(git rev-parse --short HEAD) -t ghcr.io/gitops-reverser/gitops-reverser:dev .

# The builder runs on the build machine's platform and cross-compiles (no CGO), so multi-arch
# builds (docker buildx --platform linux/amd64,linux/arm64) need no emulation.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src

# Dependencies first: this layer survives source changes.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download

COPY api/ api/
COPY cmd/ cmd/
COPY internal/ internal/

ARG VERSION=dev
ARG COMMIT=unknown
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath \
      -ldflags "-s -w \
        -X github.com/gitops-reverser/gitops-reverser/internal/version.Version=${VERSION} \
        -X github.com/gitops-reverser/gitops-reverser/internal/version.Commit=${COMMIT}" \
      -o /out/gitops-reverser ./cmd/gitops-reverser

# Git is spoken by go-git (pure Go): no git binary, shell or libc needed at run time.
# distroless/static carries CA certificates (HTTPS remotes) and /etc/passwd for nonroot.
FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/gitops-reverser /gitops-reverser
USER 65532:65532
ENTRYPOINT ["/gitops-reverser"]
CMD ["run"]
