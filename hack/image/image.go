package main

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// What the image holds and how it runs; the test checks every one of these.
const (
	binaryPath = "gitops-reverser" // /gitops-reverser
	caPath     = "etc/ssl/certs/ca-certificates.crt"
	user       = "65532:65532" // nonroot, as in distroless
	nonrootUID = 65532
	source     = "https://github.com/gitops-reverser/gitops-reverser"
)

// Passwd, group and nsswitch.conf as gcr.io/distroless/static:nonroot has them (less the users
// nothing here runs as). The login shell names a file the image does not hold: there is no shell.
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group = "root:x:0:\n" +
		"nobody:x:65534:\n" +
		"nonroot:x:65532:\n"
	nsswitch = "hosts: files dns\n"
)

var (
	entrypoint = []string{"/" + binaryPath}
	cmd        = []string{"run"}
	env        = []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"SSL_CERT_FILE=/" + caPath,
	}
)

// Meta is what the image says about itself.
type Meta struct {
	Version  string    // org.opencontainers.image.version
	Revision string    // org.opencontainers.image.revision
	Created  time.Time // config created time and every file's mtime, so builds are reproducible
}

// Compile builds the static binary of ./cmd/gitops-reverser in the main module at src for one
// platform, as `make build` does, into dir, and returns its path.
func Compile(ctx context.Context, goCmd, src, ldflags string, p v1.Platform, dir string) (string, error) {
	if p.OS != "linux" || p.Variant != "" || (p.Architecture != "amd64" && p.Architecture != "arm64") {
		return "", fmt.Errorf("platform %s: want linux/amd64 or linux/arm64", p)
	}
	out := filepath.Join(dir, "gitops-reverser-"+p.OS+"-"+p.Architecture)
	c := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-ldflags", ldflags, "-o", out, "./cmd/gitops-reverser")
	c.Dir = src
	c.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture)
	c.Stdout, c.Stderr = os.Stderr, os.Stderr
	if err := c.Run(); err != nil {
		return "", fmt.Errorf("go build for %s: %w", p, err)
	}
	return out, nil
}

// Assemble makes the multi-platform image index from one binary per platform and the CA bundle.
// Each image is two layers on an empty base: the files every platform shares (CA bundle, passwd,
// group, /tmp, the nonroot home), then the binary.
func Assemble(platforms []v1.Platform, binaries [][]byte, ca []byte, m Meta) (v1.ImageIndex, error) {
	if len(platforms) != len(binaries) {
		return nil, fmt.Errorf("%d platforms, %d binaries", len(platforms), len(binaries))
	}
	base, err := layer([]file{
		dir("etc/", 0o755, 0),
		reg("etc/group", 0o644, []byte(group)),
		reg("etc/nsswitch.conf", 0o644, []byte(nsswitch)),
		reg("etc/passwd", 0o644, []byte(passwd)),
		dir("etc/ssl/", 0o755, 0),
		dir("etc/ssl/certs/", 0o755, 0),
		reg(caPath, 0o644, ca),
		dir("home/", 0o755, 0),
		dir("home/nonroot/", 0o700, nonrootUID),
		dir("root/", 0o700, 0),
		dir("tmp/", 0o777|os.ModeSticky, 0),
	}, m.Created)
	if err != nil {
		return nil, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for i, p := range platforms {
		app, err := layer([]file{reg(binaryPath, 0o755, binaries[i])}, m.Created)
		if err != nil {
			return nil, err
		}
		img, err := image(p, base, app, m)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &platforms[i]},
		})
	}
	return idx, nil
}

func image(p v1.Platform, base, app v1.Layer, m Meta) (v1.Image, error) {
	created := v1.Time{Time: m.Created.UTC()}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{
			Created: created, CreatedBy: "hack/image: CA certificates, passwd, group, /tmp, /home/nonroot",
		}},
		mutate.Addendum{Layer: app, MediaType: types.OCILayer, History: v1.History{
			Created: created, CreatedBy: "hack/image: /gitops-reverser (CGO_ENABLED=0 go build -trimpath)",
		}},
	)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = created
	cf.Config = v1.Config{
		User:       user,
		Entrypoint: entrypoint,
		Cmd:        cmd,
		Env:        env,
		WorkingDir: "/",
		Labels: map[string]string{
			"org.opencontainers.image.title":    "gitops-reverser",
			"org.opencontainers.image.source":   source,
			"org.opencontainers.image.version":  m.Version,
			"org.opencontainers.image.revision": m.Revision,
			"org.opencontainers.image.created":  created.Format(time.RFC3339),
		},
	}
	return mutate.ConfigFile(img, cf)
}

type file struct {
	hdr  tar.Header
	data []byte
}

func dir(name string, mode os.FileMode, uid int) file {
	return file{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: tarMode(mode), Uid: uid, Gid: uid}}
}

func reg(name string, mode os.FileMode, data []byte) file {
	return file{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: tarMode(mode), Size: int64(len(data))}, data: data}
}

func tarMode(m os.FileMode) int64 {
	mode := int64(m.Perm())
	if m&os.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

// layer is a gzipped OCI layer of files, sorted, all stamped with created: the same files give
// the same digest.
func layer(files []file, created time.Time) (v1.Layer, error) {
	sort.Slice(files, func(i, j int) bool { return files[i].hdr.Name < files[j].hdr.Name })
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	for _, f := range files {
		h := f.hdr
		h.ModTime = created.UTC()
		h.Format = tar.FormatPAX
		if err := w.WriteHeader(&h); err != nil {
			return nil, err
		}
		if _, err := w.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	raw := b.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(raw)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// WriteLayout writes idx as an OCI image layout at dir (replacing one written before), its
// index.json naming it by ref as BuildKit's OCI exporter does.
func WriteLayout(dir string, idx v1.ImageIndex, ref name.Tag) error {
	if _, err := os.Stat(dir); err == nil {
		if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
			return fmt.Errorf("%s exists and is not an OCI image layout: not replacing it", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": ref.TagStr(),
		"io.containerd.image.name":          ref.Name(),
	}))
}

// Push writes idx to the registry as ref, with the credentials of ~/.docker/config.json
// (crane auth login, docker login) or a credential helper.
func Push(ctx context.Context, idx v1.ImageIndex, ref name.Tag) error {
	return remote.WriteIndex(ref, idx, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain))
}
