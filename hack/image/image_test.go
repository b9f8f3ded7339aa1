package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/x509"
	"debug/buildinfo"
	"debug/elf"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

const module = "github.com/gitops-reverser/gitops-reverser"

var (
	amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = v1.Platform{OS: "linux", Architecture: "arm64"}
)

// TestMakeImage runs `make image` of the main module for both platforms into a temporary
// directory, reads the OCI layout it wrote back (index, each manifest's config and layers),
// checks everything the image must hold and nothing else, and runs the binary taken from it.
func TestMakeImage(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	const (
		version = "v0.0.0-imagetest"
		commit  = "0123abc"
		ref     = "registry.example/team/gitops-reverser:imagetest"
		epoch   = 1700000000
	)
	layoutDir := filepath.Join(t.TempDir(), "image")
	c := exec.Command("make", "--no-print-directory", "-C", root, "image",
		"IMAGE_DIR="+layoutDir, "VERSION="+version, "COMMIT="+commit, "IMAGE="+ref,
		fmt.Sprintf("SOURCE_DATE_EPOCH=%d", epoch), "PLATFORMS=linux/amd64,linux/arm64")
	c.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		// A make that runs this test must not hand its jobserver or flags to the inner make.
		return strings.HasPrefix(kv, "MAKEFLAGS=") || strings.HasPrefix(kv, "MFLAGS=") || strings.HasPrefix(kv, "MAKELEVEL=")
	})
	start := time.Now()
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	t.Logf("make image took %s", time.Since(start).Round(time.Second))

	ca, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt") // the Makefile's CA_BUNDLE
	if err != nil {
		t.Fatal(err)
	}
	want := Meta{Version: version, Revision: commit, Created: time.Unix(epoch, 0)}

	// index.json names one image index by ref; that index holds one image per platform.
	lp, err := layout.FromPath(layoutDir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(tm.Manifests) != 1 || tm.Manifests[0].MediaType != types.OCIImageIndex {
		t.Fatalf("index.json: want one OCI image index, got %+v", tm.Manifests)
	}
	if a := tm.Manifests[0].Annotations; a["org.opencontainers.image.ref.name"] != "imagetest" || a["io.containerd.image.name"] != ref {
		t.Errorf("index.json annotations = %v, want ref.name imagetest and image.name %s", a, ref)
	}
	idx, err := top.ImageIndex(tm.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(idx); err != nil { // digests, sizes, diff IDs and platforms agree
		t.Fatalf("validate: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var plats []string
	images := map[string]v1.Image{}
	for _, d := range im.Manifests {
		if d.Platform == nil || d.MediaType != types.OCIManifestSchema1 {
			t.Fatalf("index entry %+v: want an OCI image manifest with a platform", d)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		plats = append(plats, d.Platform.String())
		images[d.Platform.String()] = img
	}
	if !slices.Equal(plats, []string{"linux/amd64", "linux/arm64"}) {
		t.Fatalf("platforms = %v, want linux/amd64 and linux/arm64", plats)
	}
	for _, p := range []v1.Platform{amd64, arm64} {
		for _, problem := range problems(images[p.String()], p, want, ca) {
			t.Errorf("%s: %s", p, problem)
		}
	}

	// The binary of this machine's platform, taken from the image, runs and knows its version.
	t.Run("version", func(t *testing.T) {
		if runtime.GOOS != "linux" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64") {
			t.Skipf("cannot run a linux/amd64 or linux/arm64 binary on %s/%s", runtime.GOOS, runtime.GOARCH)
		}
		files, err := readFiles(images["linux/"+runtime.GOARCH])
		if err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(t.TempDir(), "gitops-reverser")
		if err := os.WriteFile(bin, files[binaryPath].data, 0o755); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, "version").CombinedOutput()
		if err != nil {
			t.Fatalf("%s version: %v\n%s", bin, err, out)
		}
		prefix := "gitops-reverser " + version + " (commit " + commit + ", go"
		if s := string(out); !strings.HasPrefix(s, prefix) || !strings.HasSuffix(s, ")\n") || strings.Count(s, "\n") != 1 {
			t.Errorf("version printed %q, want %q...)", s, prefix)
		}
	})

	// The checks above catch what they are meant to: images that break a rule each fail them.
	t.Run("checks fail", func(t *testing.T) {
		img := images["linux/amd64"]
		shell, err := layer([]file{dir("bin/", 0o755, 0), reg("bin/sh", 0o755, []byte("\x7fELF"))}, want.Created)
		if err != nil {
			t.Fatal(err)
		}
		withShell, err := mutate.AppendLayers(img, shell)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.Config.User = ""
		cf.Config.Entrypoint = []string{"/bin/sh", "-c"}
		asRoot, err := mutate.ConfigFile(img, cf)
		if err != nil {
			t.Fatal(err)
		}
		files, err := readFiles(img)
		if err != nil {
			t.Fatal(err)
		}
		// The amd64 binary labelled arm64, and a CA bundle that is not one.
		wrong, err := Assemble([]v1.Platform{arm64}, [][]byte{files[binaryPath].data}, []byte("no certificates\n"), want)
		if err != nil {
			t.Fatal(err)
		}
		wrongImg, err := wrong.Image(mustDigest(t, wrong))
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name  string
			img   v1.Image
			p     v1.Platform
			m     Meta
			wants []string
		}{
			{"shell", withShell, amd64, want, []string{"bin/sh: a shell", "unexpected file bin/sh"}},
			{"root", asRoot, amd64, want, []string{"User", "Entrypoint"}},
			{"labels", img, amd64, Meta{Version: "v9", Revision: "fff", Created: want.Created}, []string{"version", "revision"}},
			{"arch and CA", wrongImg, arm64, want, []string{"ELF machine", "GOARCH", "CA bundle"}},
		} {
			got := strings.Join(problems(tc.img, tc.p, tc.m, ca), "\n")
			for _, w := range tc.wants {
				if !strings.Contains(got, w) {
					t.Errorf("%s: problems do not mention %q:\n%s", tc.name, w, got)
				}
			}
		}
	})
}

// The files of the image, each exactly once, and nothing else: in particular no shell.
var wantFiles = []string{
	"etc/", "etc/group", "etc/nsswitch.conf", "etc/passwd", "etc/ssl/", "etc/ssl/certs/",
	"etc/ssl/certs/ca-certificates.crt", "gitops-reverser", "home/", "home/nonroot/", "root/", "tmp/",
}

// problems lists what is wrong with an image built for p with m and the CA bundle ca.
func problems(img v1.Image, p v1.Platform, m Meta, ca []byte) []string {
	var out []string
	bad := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }

	if mt, err := img.MediaType(); err != nil || mt != types.OCIManifestSchema1 {
		bad("manifest media type %s %v, want %s", mt, err, types.OCIManifestSchema1)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return append(out, err.Error())
	}
	if cf.OS != p.OS || cf.Architecture != p.Architecture || cf.Variant != p.Variant {
		bad("config platform %s/%s/%s, want %s", cf.OS, cf.Architecture, cf.Variant, p)
	}
	c := cf.Config
	if c.User != "65532:65532" {
		bad("config User %q, want 65532:65532 (nonroot)", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"/gitops-reverser"}) || !slices.Equal(c.Cmd, []string{"run"}) {
		bad("config Entrypoint %q Cmd %q, want [/gitops-reverser] [run]", c.Entrypoint, c.Cmd)
	}
	if !slices.Contains(c.Env, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt") {
		bad("config Env %q lacks SSL_CERT_FILE", c.Env)
	}
	for k, v := range map[string]string{
		"org.opencontainers.image.version":  m.Version,
		"org.opencontainers.image.revision": m.Revision,
		"org.opencontainers.image.source":   source,
		"org.opencontainers.image.created":  m.Created.UTC().Format(time.RFC3339),
	} {
		if c.Labels[k] != v {
			bad("label %s = %q, want %q", k, c.Labels[k], v)
		}
	}
	if !cf.Created.Time.Equal(m.Created) {
		bad("config created %s, want %s", cf.Created, m.Created)
	}

	files, err := readFiles(img)
	if err != nil {
		return append(out, err.Error())
	}
	var names []string
	for n, f := range files {
		names = append(names, n)
		base := path.Base(n)
		switch {
		case slices.Contains([]string{"sh", "bash", "dash", "ash", "zsh", "ksh", "busybox"}, base):
			bad("%s: a shell", n)
		case strings.HasPrefix(n, "bin/") || strings.HasPrefix(n, "sbin/") || strings.HasPrefix(n, "usr/"):
			bad("%s: no system binaries belong in the image", n)
		}
		if f.hdr.Typeflag == tar.TypeReg && f.hdr.FileInfo().Mode()&0o111 != 0 && n != binaryPath {
			bad("%s: executable", n)
		}
		if !f.hdr.ModTime.Equal(m.Created) {
			bad("%s: mtime %s, want %s", n, f.hdr.ModTime, m.Created)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		if !slices.Contains(wantFiles, n) {
			bad("unexpected file %s", n)
		}
	}
	for _, n := range wantFiles {
		if _, ok := files[n]; !ok {
			bad("missing %s", n)
		}
	}

	// The binary: static, for p's architecture, built by the Makefile's go build.
	if f, ok := files[binaryPath]; ok {
		if f.hdr.Typeflag != tar.TypeReg || f.hdr.FileInfo().Mode().Perm() != 0o755 || f.hdr.Uid != 0 {
			bad("/gitops-reverser: type %c mode %s uid %d, want a 0755 file of root", f.hdr.Typeflag, f.hdr.FileInfo().Mode(), f.hdr.Uid)
		}
		out = append(out, binaryProblems(f.data, p, m)...)
	}

	if f, ok := files[caPath]; ok {
		n, err := countCerts(f.data)
		if err != nil || n < 100 {
			bad("CA bundle: %d certificates, %v; want Debian's ca-certificates", n, err)
		}
		if !bytes.Equal(f.data, ca) {
			bad("CA bundle differs from /etc/ssl/certs/ca-certificates.crt")
		}
	}
	if f, ok := files["etc/passwd"]; ok && !slices.Contains(strings.Split(string(f.data), "\n"), "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin") {
		bad("/etc/passwd has no nonroot user 65532:\n%s", f.data)
	}
	if f, ok := files["etc/group"]; ok && !slices.Contains(strings.Split(string(f.data), "\n"), "nonroot:x:65532:") {
		bad("/etc/group has no nonroot group 65532:\n%s", f.data)
	}
	if f, ok := files["home/nonroot/"]; ok && (f.hdr.Uid != nonrootUID || f.hdr.Gid != nonrootUID || f.hdr.FileInfo().Mode().Perm() != 0o700) {
		bad("/home/nonroot: %d:%d %s, want 65532:65532 0700", f.hdr.Uid, f.hdr.Gid, f.hdr.FileInfo().Mode())
	}
	if f, ok := files["tmp/"]; ok && f.hdr.FileInfo().Mode()&(os.ModeSticky|os.ModePerm) != os.ModeSticky|0o777 {
		bad("/tmp: mode %s, want 1777", f.hdr.FileInfo().Mode())
	}
	return out
}

func binaryProblems(b []byte, p v1.Platform, m Meta) []string {
	var out []string
	bad := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	ef, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return []string{"/gitops-reverser: not ELF: " + err.Error()}
	}
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[p.Architecture]
	if ef.Machine != machine {
		bad("/gitops-reverser: ELF machine %s, want %s", ef.Machine, machine)
	}
	for _, prog := range ef.Progs {
		if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
			bad("/gitops-reverser: dynamically linked (%s)", prog.Type)
		}
	}
	if ef.Section(".symtab") != nil {
		bad("/gitops-reverser: has a symbol table (want -ldflags -s)")
	}
	info, err := buildinfo.Read(bytes.NewReader(b))
	if err != nil {
		return append(out, "/gitops-reverser: build info: "+err.Error())
	}
	if info.Path != module+"/cmd/gitops-reverser" {
		bad("/gitops-reverser: built from %s", info.Path)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	for k, v := range map[string]string{"CGO_ENABLED": "0", "GOOS": p.OS, "GOARCH": p.Architecture, "-trimpath": "true"} {
		if settings[k] != v {
			bad("/gitops-reverser: build setting %s=%q, want %q", k, settings[k], v)
		}
	}
	// -trimpath leaves -ldflags out of the build info; the strings -X set are in the binary.
	for _, x := range []string{m.Version, m.Revision} {
		if !bytes.Contains(b, []byte(x)) {
			bad("/gitops-reverser: does not hold %q (-ldflags -X)", x)
		}
	}
	return out
}

func countCerts(b []byte) (int, error) {
	n := 0
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return n, err
		}
		n++
	}
	if n == 0 {
		return 0, errors.New("no PEM certificates")
	}
	return n, nil
}

// readFiles reads every layer's tar entries, keyed by name; a name in two layers is an error
// (nothing here overrides or deletes a file of a lower layer).
func readFiles(img v1.Image) (map[string]file, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	files := map[string]file{}
	for i, l := range layers {
		if mt, err := l.MediaType(); err != nil || mt != types.OCILayer {
			return nil, fmt.Errorf("layer %d: media type %s %v, want %s", i, mt, err, types.OCILayer)
		}
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, err
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				rc.Close()
				return nil, fmt.Errorf("layer %d: %w", i, err)
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				rc.Close()
				return nil, err
			}
			if _, dup := files[h.Name]; dup {
				rc.Close()
				return nil, fmt.Errorf("layer %d: %s again", i, h.Name)
			}
			files[h.Name] = file{hdr: *h, data: data}
		}
		rc.Close()
	}
	return files, nil
}

func mustDigest(t *testing.T, idx v1.ImageIndex) v1.Hash {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) == 0 {
		t.Fatalf("index: %v %v", im, err)
	}
	return im.Manifests[0].Digest
}

func fakeIndex(t *testing.T, m Meta) v1.ImageIndex {
	t.Helper()
	idx, err := Assemble([]v1.Platform{amd64, arm64}, [][]byte{[]byte("amd64 binary"), []byte("arm64 binary")}, []byte("ca"), m)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// The same inputs give the same digest, so a rebuilt commit is the same image.
func TestAssembleReproducible(t *testing.T) {
	m := Meta{Version: "v1.2.3", Revision: "abc", Created: time.Unix(1700000000, 0)}
	a, b := fakeIndex(t, m), fakeIndex(t, m)
	m.Created = m.Created.Add(time.Second)
	c := fakeIndex(t, m)
	da, db, dc := mustHash(t, a), mustHash(t, b), mustHash(t, c)
	if da != db {
		t.Errorf("same inputs, digests %s and %s", da, db)
	}
	if da == dc {
		t.Errorf("another created time, same digest %s", da)
	}
}

func mustHash(t *testing.T, idx v1.ImageIndex) v1.Hash {
	t.Helper()
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// WriteLayout replaces a layout it wrote before, and refuses to delete any other directory.
func TestWriteLayout(t *testing.T) {
	idx := fakeIndex(t, Meta{Version: "v1", Revision: "abc"})
	tag, err := name.NewTag("example.com/x:v1")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "image")
	for range 2 {
		if err := WriteLayout(out, idx, tag); err != nil {
			t.Fatal(err)
		}
	}
	lp, err := layout.ImageIndexFromPath(out)
	if err != nil {
		t.Fatal(err)
	}
	if im, err := lp.IndexManifest(); err != nil || len(im.Manifests) != 1 || im.Manifests[0].Digest != mustHash(t, idx) {
		t.Errorf("index.json after two writes = %+v, %v; want the one index", im, err)
	}
	if err := validate.Index(lp); err != nil {
		t.Error(err)
	}
	if err := WriteLayout(dir, idx, tag); err == nil || !strings.Contains(err.Error(), "not an OCI image layout") {
		t.Errorf("WriteLayout over another directory: %v", err)
	}
	if _, err := os.Stat(out); err != nil {
		t.Errorf("the other directory lost its files: %v", err)
	}
}

// Push (make image-push) writes the index and both images to a registry.
func TestPush(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	tag, err := name.NewTag(strings.TrimPrefix(srv.URL, "http://") + "/gitops-reverser:v1")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // anonymous, whatever the machine's docker config says
	idx := fakeIndex(t, Meta{Version: "v1", Revision: "abc"})
	if err := Push(context.Background(), idx, tag); err != nil {
		t.Fatal(err)
	}
	got, err := remote.Index(tag)
	if err != nil {
		t.Fatal(err)
	}
	if mustHash(t, got) != mustHash(t, idx) {
		t.Errorf("pulled %s, pushed %s", mustHash(t, got), mustHash(t, idx))
	}
	if err := validate.Index(got); err != nil {
		t.Error(err)
	}
}
